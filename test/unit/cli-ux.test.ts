// The terminal peer as a person reads it: each message once and in their terms, partial downloads, a silent index, wide names.
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_MAIN, CliPeer, IndexServerProcess, LineProcess, makeTempDir, removeTempDir } from '../support/cli';

/** Runs p2p-peer with these arguments and no input, as a shell would. */
function runCli(args: string[]): LineProcess {
  const p = new LineProcess('p2p-peer', [CLI_MAIN, ...args], { env: { ...process.env, P2P_INDEX: '', P2P_PEER_NAME: '' } });
  p.endInput();
  return p;
}

const isError = (l: string) => l.startsWith('error:');

describe('terminal peer, as typed by a person', function () {
  this.timeout(60000);

  let server: IndexServerProcess;
  let root: string;
  const started: CliPeer[] = [];

  /** A human-mode peer on a pipe, started once its ready line is out. */
  async function human(name: string, extra: Partial<Parameters<typeof CliPeer.start>[0]> = {}): Promise<CliPeer> {
    const peer = await CliPeer.start({ index: server.address, name, json: false, cwd: root, ...extra });
    started.push(peer);
    await peer.nextLine((l) => l.startsWith(`peer "${name}"`));
    return peer;
  }

  function write(name: string, text: string | Buffer): string {
    const file = path.join(root, name);
    fs.writeFileSync(file, text);
    return file;
  }

  before(async () => {
    root = makeTempDir('cli-ux');
    write('Text.txt', 'the text\n');
    write('my file.txt', 'with a space\n');
    server = await IndexServerProcess.start();
  });

  after(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await server?.stop();
    removeTempDir(root);
  });

  it('R of a missing file names its path once', async () => {
    const jo = await human('Jo1');
    jo.send('R Missing.txt');
    const line = await jo.nextLine(isError);
    assert.equal(line, `error: File not found: ${path.join(root, 'Missing.txt')}`);
  });

  it('R of a path with an unquoted space says to quote it', async () => {
    const jo = await human('Jo2');
    jo.send('R my file.txt');
    const line = await jo.nextLine(isError);
    assert.equal(line, `error: File not found: ${path.join(root, 'my')}; for a name with spaces, quote it: R "my file.txt"`);
    jo.send('R "my file.txt"');
    await jo.nextLine((l) => l.startsWith('registered "my file.txt"'));
  });

  it('says each refusal of the index once: a taken peer name, content nobody shares, content not yours', async () => {
    const owner = await human('Sam');
    owner.send('R Text.txt');
    await owner.nextLine((l) => l.startsWith('registered "Text.txt"'));

    const twin = await human('Sam');
    twin.send('R Text.txt');
    assert.equal(await twin.nextLine(isError), 'error: That peer name is already used by another peer; choose another peer name: "Sam"');
    twin.send('');
    await twin.nextLine(isError); // the skipped registration

    const jo = await human('Jo3');
    jo.send('S Nothing.txt');
    assert.equal(await jo.nextLine(isError), 'error: No peer shares that content: "Nothing.txt"');
    jo.send('T Text.txt');
    assert.equal(
      await jo.nextLine(isError),
      'error: Could not remove: that content is not registered under this peer name: "Text.txt" (peer name "Jo3")',
    );
  });

  it('refuses a second file under a content name already shared, and keeps the first', async () => {
    const jo = await human('Jo4');
    write('First.txt', 'first\n');
    write('Second.txt', 'second\n');
    jo.send('R First.txt Doc.txt');
    await jo.nextLine((l) => l.startsWith('registered "Doc.txt"'));
    jo.send('R Second.txt Doc.txt');
    assert.equal(
      await jo.nextLine(isError),
      `error: The name is not allowed: you already share "Doc.txt" from ${path.join(root, 'First.txt')}; ` +
        'to replace it type T Doc.txt first, or choose another content name: R Second.txt <other name>',
    );
    jo.send('L');
    await jo.nextLine((l) => /^Doc\.txt\s/.test(l) && l.endsWith(path.join(root, 'First.txt')));
  });

  it('after a download whose name clashes with a share of yours, says that clash is why it is not shared', async () => {
    const source = await human('Ann');
    write('Clash.txt', 'from Ann\n');
    source.send('R Clash.txt');
    await source.nextLine((l) => l.startsWith('registered "Clash.txt"'));
    const jo = await human('Jo5');
    write('Mine.txt', 'my own\n');
    jo.send('R Mine.txt Clash.txt');
    await jo.nextLine((l) => l.startsWith('registered "Clash.txt"'));
    jo.send('D Clash.txt from Ann');
    await jo.nextLine((l) => l.startsWith('saved "Clash.txt"'));
    const why = await jo.nextLine((l) => l.startsWith('"Clash.txt" is not shared by you'));
    assert.match(why, /you already share another file as "Clash\.txt" \(.*Mine\.txt\); T it, then R .* to share this one$/);
  });

  it('fits the O and L tables to 80 columns on a pipe, cutting a long name with an ellipsis', async () => {
    const jo = await human('Jo6');
    const long = 'L'.repeat(120) + '.txt';
    write('long.txt', 'long\n');
    jo.send(`R long.txt ${long}`);
    await jo.nextLine((l) => l.startsWith('registered'));
    for (const letter of ['O', 'L']) {
      jo.send(letter);
      const header = await jo.nextLine((l) => l.startsWith('CONTENT'));
      const row = await jo.nextLine((l) => l.startsWith('LLLL'));
      assert.ok(header.length <= 80 && row.length <= 80, `${letter}: ${row.length} columns: ${row}`);
      assert.ok(row.includes('…'), row);
    }
  });

  it('a source that dies mid-download: one line in file sizes, the partial file kept, D again resumes', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    write('big.bin', big);
    const source = await human('Slow', { args: ['--upload-limit', '512K'] });
    source.send('R big.bin');
    await source.nextLine((l) => l.startsWith('registered "big.bin"'));
    const jo = await human('Jo7');
    jo.send('D big.bin');
    // Bytes are kept a whole checked piece (1 MiB, a quarter of this file) at a time: kill after the first.
    await jo.nextLine((l) => /^downloading "big\.bin": (2[5-9]|[3-9]\d)%/.test(l));
    await source.kill('SIGKILL');
    const line = await jo.nextLine(isError);
    assert.match(line, /"big\.bin" stopped after \d+(\.\d)? [KM]iB of 4\.0 MiB; the partial file is kept; D big\.bin again resumes it$/);
    assert.doesNotMatch(line, /\d{6,}/, 'no raw byte counts');
    jo.send('L');
    await jo.nextLine((l) => /registered nothing/.test(l));
    assert.equal(jo.stdoutLines.filter(isError).length, 1, jo.recentOutput());
    assert.deepEqual(jo.stderrLines, [], 'no second telling on stderr');
    assert.ok(fs.readdirSync(jo.dir).some((f) => f.endsWith('.part')), 'the .part is kept');
  });

  it('a download that gets nothing leaves no .part and no .part.json behind', async () => {
    write('gone.txt', 'soon gone\n');
    const source = await human('Gone');
    source.send('R gone.txt');
    await source.nextLine((l) => l.startsWith('registered "gone.txt"'));
    // Killed: its registration stays at the index, its port refuses connections.
    await source.kill('SIGKILL');
    const jo = await human('Jo8');
    jo.send('D gone.txt');
    await jo.nextLine(isError);
    jo.send('L');
    await jo.nextLine((l) => /registered nothing/.test(l));
    const left = fs.existsSync(jo.dir) ? fs.readdirSync(jo.dir) : [];
    assert.deepEqual(left, []);
  });

  it('a silent index: start-up says so instead of "ready", a command fails in seconds in one line, its return is said', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const port = silent.address().port;
    const address = `127.0.0.1:${port}`;
    let back: IndexServerProcess | undefined;
    let open = true;
    try {
      const zed = await CliPeer.start({ index: address, name: 'Zed', json: false, cwd: root });
      started.push(zed);
      const first = await zed.nextLine(() => true);
      assert.match(first, new RegExp(`^peer "Zed" started, but index server ${address} gave no answer within 1\\.5 s`));
      assert.ok(!zed.stdoutLines.some((l) => l.includes('is ready')), zed.recentOutput());

      const sentAt = performance.now();
      zed.send('O');
      const line = await zed.nextLine(isError);
      const seconds = (performance.now() - sentAt) / 1000;
      assert.equal(line, `error: The index server did not answer: ${address} gave no answer within 1.5 s; check that it runs there (--index sets the address)`);
      assert.ok(seconds < 4, `O failed after ${seconds.toFixed(1)} s`);
      assert.deepEqual(zed.stderrLines, [], 'no retry jargon');

      silent.close();
      open = false;
      back = await IndexServerProcess.start(['--port', String(port)]);
      zed.send('O');
      await zed.nextLine((l) => l === `the index server ${address} answers again`);
      await zed.nextLine((l) => /no content is registered/.test(l));
    } finally {
      if (open) silent.close();
      await back?.stop();
    }
  });

  it('an index that stops answering between commands: the failed command says so, its return is said', async () => {
    const first = await IndexServerProcess.start();
    const port = first.port;
    let again: IndexServerProcess | undefined;
    try {
      const zed = await human('Zed2', { index: first.address });
      zed.send('O');
      await zed.nextLine((l) => /no content is registered/.test(l));
      await first.stop();
      zed.send('O');
      // The stopped index's port is closed: the kernel says so at once, and so does the error.
      assert.match(await zed.nextLine(isError), /^error: Could not connect: nothing listens on UDP port \d+ of index server 127\.0\.0\.1:\d+ \(ICMP port unreachable, ECONNREFUSED\)/);
      again = await IndexServerProcess.start(['--port', String(port)]);
      zed.send('O');
      await zed.nextLine((l) => l === `the index server ${first.address} answers again`);
      await zed.nextLine((l) => /no content is registered/.test(l));
    } finally {
      await first.stop();
      await again?.stop();
    }
  });

  describe('command line', () => {
    it('--name "" says the name is empty', async () => {
      const p = runCli(['--name', '']);
      assert.equal((await p.waitForExit()).code, 2);
      assert.match(p.stderrLines.join('\n'), /^p2p-peer: Invalid setting: --name is empty; give a peer name/);
    });

    it('-V prints the version and -v is verbose', async () => {
      const v = runCli(['-V']);
      assert.equal((await v.waitForExit()).code, 0);
      assert.match(v.stdoutLines[0], /^p2p-peer \d/);
      const verbose = await human('Verbose', { args: ['-v'] });
      verbose.send('L');
      await verbose.nextStderrLine((l) => l.startsWith('p2p-peer: info:') || l.startsWith('p2p-peer: debug:'));
    });
  });
});
