// The terminal peer as a real process: name clashes in both modes, end of input, signals, cancelling, bad options, a dead index.
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Peer } from '../../src/peer';
import { CLI_MAIN, CliPeer, IndexServerProcess, LineProcess, makeTempDir, removeTempDir, type CliJsonEvent } from '../support/cli';

function registrations(ev: CliJsonEvent): string[] {
  assert.equal(ev.event, 'online', `expected the online list, got ${JSON.stringify(ev)}`);
  return (ev.items as { peerName: string; contentName: string }[]).map((i) => `${i.peerName}/${i.contentName}`).sort();
}

/** Runs p2p-peer with these arguments and no input, as a shell would. */
function runCli(args: string[]): LineProcess {
  const p = new LineProcess('p2p-peer', [CLI_MAIN, ...args], { env: { ...process.env, P2P_INDEX: '', P2P_PEER_NAME: '' } });
  p.endInput();
  return p;
}

describe('terminal peer process', function () {
  this.timeout(60000);

  let server: IndexServerProcess;
  let root: string;
  /** A JSON peer named Sam that owns the name "Sam" and watches the online list. */
  let sam: CliPeer;
  const started: CliPeer[] = [];

  async function startPeer(name: string, extra: Partial<Parameters<typeof CliPeer.start>[0]> = {}): Promise<CliPeer> {
    const peer = await CliPeer.start({ index: server.address, name, cwd: root, ...extra });
    started.push(peer);
    return peer;
  }

  async function online(): Promise<string[]> {
    return registrations(await sam.run('O'));
  }

  before(async () => {
    root = makeTempDir('cli-peer');
    fs.writeFileSync(path.join(root, 'Text.txt'), 'the text\n');
    fs.writeFileSync(path.join(root, 'my file.txt'), 'with a space\n');
    server = await IndexServerProcess.start();
    sam = await startPeer('Sam');
    assert.equal((await sam.run('R Text.txt')).event, 'registered');
  });

  after(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await server?.stop();
    removeTempDir(root);
  });

  describe('a peer name clash', () => {
    it('in human mode from a pipe, takes the next line as the new name and registers', async () => {
      const human = await startPeer('Sam', { json: false });
      // Everything at once, then end of input: a script, with no terminal anywhere.
      human.send('R "my file.txt"');
      human.send('Sam Two');
      human.send('O');
      human.endInput();
      await human.nextLine((l) => l.startsWith('peer "Sam" is ready'));
      const error = await human.nextLine((l) => l.startsWith('error:'));
      assert.match(error, /^error: That peer name is already used by another peer; choose another peer name/);
      await human.nextLine((l) => /the peer name "Sam" is used by another peer; type another peer name/.test(l));
      await human.nextLine((l) => l === 'your peer name is now "Sam Two"');
      await human.nextLine((l) => l.startsWith('registered "my file.txt"'));
      await human.nextLine((l) => /^CONTENT\s+PEER\s+SIZE\s+ADDRESS$/.test(l));
      await human.nextLine((l) => /^my file\.txt\s+Sam Two\s+13 B\s+127\.0\.0\.1:\d+$/.test(l));
      await human.nextLine((l) => l === 'bye');
      assert.deepEqual(await human.waitForExit(), { code: 0, signal: null });
      // One line per failure: the only error line is the clash.
      assert.equal(human.stdoutLines.filter((l) => l.startsWith('error:')).length, 1, human.recentOutput());
      // End of input de-registered the new name's entry.
      assert.deepEqual(await online(), ['Sam/Text.txt']);
    });

    it('in human mode, a blank answer skips the registration and the next commands run', async () => {
      const human = await startPeer('Sam', { json: false });
      human.send('R Text.txt');
      human.send('');
      human.send('L');
      human.endInput();
      await human.nextLine((l) => /type another peer name/.test(l));
      const skipped = await human.nextLine((l) => l.startsWith('error:'));
      assert.match(skipped, /^error: Cancelled: not registered: "Text\.txt"$/);
      await human.nextLine((l) => /you have registered nothing/.test(l));
      assert.equal((await human.waitForExit()).code, 0);
    });

    it('in JSON mode, gives a retry hint, and N retries the pending registration', async () => {
      const jsonPeer = await startPeer('Sam');
      const clash = await jsonPeer.runExpectingError('R Text.txt shared.txt', 'NAME_TAKEN');
      assert.equal(clash.retry, 'N <new peer name>');
      assert.ok(!(await online()).includes('Sam/shared.txt'), 'nothing registered under the taken name');

      const renamed = await jsonPeer.run('N Sammy');
      assert.deepEqual(renamed, { event: 'peer-name', peerName: 'Sammy', previous: 'Sam' });
      const registered = await jsonPeer.next((e) => e.event !== 'state');
      assert.equal(registered.event, 'registered', JSON.stringify(registered));
      assert.equal((registered.share as { contentName: string }).contentName, 'shared.txt');
      assert.deepEqual(await online(), ['Sam/Text.txt', 'Sammy/shared.txt']);

      jsonPeer.send('q');
      await jsonPeer.nextEvent('bye');
      assert.equal((await jsonPeer.waitForExit()).code, 0);
      assert.deepEqual(await online(), ['Sam/Text.txt']);
    });
  });

  it('de-registers everything and exits 0 at the end of input', async () => {
    const jo = await startPeer('Jo');
    assert.equal((await jo.run('R Text.txt')).event, 'registered');
    assert.equal((await jo.run('R "my file.txt"')).event, 'registered');
    assert.deepEqual(await online(), ['Jo/Text.txt', 'Jo/my file.txt', 'Sam/Text.txt']);
    jo.endInput();
    await jo.nextEvent('bye');
    assert.deepEqual(await jo.waitForExit(), { code: 0, signal: null });
    assert.deepEqual(await online(), ['Sam/Text.txt']);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`de-registers everything and exits on ${signal}`, async () => {
      const kim = await startPeer('Kim');
      assert.equal((await kim.run('R Text.txt')).event, 'registered');
      assert.deepEqual(await online(), ['Kim/Text.txt', 'Sam/Text.txt']);
      kim.child.kill(signal);
      await kim.nextEvent('bye');
      const status = await kim.waitForExit({ timeoutMs: 10000 });
      assert.equal(status.code, signal === 'SIGTERM' ? 143 : 130);
      assert.deepEqual(await online(), ['Sam/Text.txt']);
    });
  }

  it('keeps going after unknown commands and missing arguments, one error each', async () => {
    const pat = await startPeer('Pat');
    const unknown = await pat.runExpectingError('X', 'BAD_COMMAND');
    assert.match(String(unknown.message), /"X" is not a menu letter/);
    const missing = await pat.runExpectingError('d', 'BAD_COMMAND');
    assert.equal(missing.command, 'D');
    assert.match(String(missing.message), /D needs a content name; usage: D <content name> \[from <peer>\]/);
    await pat.runExpectingError('R "open quote', 'BAD_COMMAND');
    await pat.runExpectingError('R nowhere.txt', 'FILE_NOT_FOUND');
    assert.equal((await pat.run('?')).event, 'help');
    assert.deepEqual(await pat.run('L'), { event: 'local', shares: [] });
    await pat.kill('SIGTERM');
  });

  it('cancels the running and the queued downloads when Q arrives, and leaves no file behind', async () => {
    // A real peer whose upload is throttled, so the download is still running when Q comes.
    const slowDir = path.join(root, 'slow');
    fs.mkdirSync(slowDir);
    const big = path.join(slowDir, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(4 * 1024 * 1024, 7));
    const slow = await Peer.start({ peerName: 'Slow', index: server.address, downloadFolder: slowDir, uploadRateLimit: 64 * 1024 });
    try {
      await slow.register(big);
      const dl = await startPeer('Dee');
      dl.send('D big.bin');
      await dl.nextEvent('progress');
      dl.send('D big.bin from Slow');
      dl.send('Q');
      const running = await dl.next((e) => e.event === 'error' || e.event === 'downloaded');
      assert.equal(running.code, 'CANCELLED', JSON.stringify(running));
      assert.equal(running.command, 'D');
      assert.match(String(running.message), /^Cancelled/);
      const queued = await dl.next((e) => e.event === 'error' || e.event === 'downloaded');
      assert.equal(queued.code, 'CANCELLED', JSON.stringify(queued));
      assert.match(String(queued.message), /"big\.bin": Q came before the download started/);
      await dl.nextEvent('bye');
      assert.equal((await dl.waitForExit()).code, 0);
      assert.ok(!fs.existsSync(path.join(dl.dir, 'big.bin')), 'no finished file');
    } finally {
      await slow.quit();
    }
  });

  it('reports an unreachable index in its start line naming the address, and keeps running', async () => {
    // A UDP port that receives and never answers.
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${silent.address().port}`;
    try {
      const lonely = await CliPeer.start({ index: address, name: 'Lonely', json: false, cwd: root, args: ['--index-timeout', '40'] });
      started.push(lonely);
      const startLine = await lonely.nextLine((l) => l.startsWith('peer "Lonely" started, but'));
      assert.ok(startLine.includes(address), `names ${address}: ${startLine}`);
      assert.match(startLine, /gave no answer/);
      lonely.send('L');
      await lonely.nextLine((l) => /you have registered nothing/.test(l));
      assert.equal(lonely.stdoutLines.filter((l) => l.startsWith('error:')).length, 0, lonely.recentOutput());
      lonely.send('Q');
      await lonely.nextLine((l) => l === 'bye');
      assert.equal((await lonely.waitForExit()).code, 0);
    } finally {
      silent.close();
    }
  });

  describe('command line', () => {
    it('exits 2 with one clear line on stderr for a bad option value', async () => {
      const p = runCli(['--port', 'abc']);
      assert.deepEqual(await p.waitForExit(), { code: 2, signal: null });
      assert.deepEqual(p.stdoutLines, []);
      assert.equal(p.stderrLines.length, 1, p.recentOutput());
      assert.match(p.stderrLines[0], /^p2p-peer: Invalid setting: --port must be a whole number from 0 to 65535.*"abc".*--help/);
    });

    it('exits 2 for an unknown option and for an index address it cannot use', async () => {
      for (const args of [['--colour'], ['--index', 'localhost:notaport']]) {
        const p = runCli(args);
        assert.equal((await p.waitForExit()).code, 2, args.join(' '));
        assert.equal(p.stderrLines.length, 1, p.recentOutput());
      }
    });

    it('exits 1 with one error event when its content server port is taken', async () => {
      const taken = net.createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      try {
        const port = (taken.address() as net.AddressInfo).port;
        const p = runCli(['--index', server.address, '--name', 'Busy', '--port', String(port), '--json']);
        assert.deepEqual(await p.waitForExit(), { code: 1, signal: null });
        assert.equal(p.stdoutLines.length, 1, p.recentOutput());
        const ev = JSON.parse(p.stdoutLines[0]) as CliJsonEvent;
        assert.equal(ev.event, 'error');
        assert.equal(ev.code, 'ADDRESS_IN_USE');
        assert.ok(String(ev.message).includes(String(port)), String(ev.message));
      } finally {
        taken.close();
      }
    });

    it('prints usage for --help and the version for --version, and exits 0', async () => {
      const help = runCli(['--help']);
      assert.equal((await help.waitForExit()).code, 0);
      assert.match(help.stdoutLines[0], /^Usage: p2p-peer \[options\]/);
      const version = runCli(['--version']);
      assert.equal((await version.waitForExit()).code, 0);
      const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
      assert.deepEqual(version.stdoutLines, [`p2p-peer ${pkg.version}`]);
    });
  });
});
