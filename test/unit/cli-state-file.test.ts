// p2p-peer keeps its identity in a state file: a restart gets its peer name back; a file others could read or forge is refused.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultStatePath } from '../../src/cli/state-file';
import { CliPeer, IndexServerProcess, makeTempDir, removeTempDir, type CliJsonEvent } from '../support/cli';

const unixOwners = typeof process.getuid === 'function';
const VALID = `${JSON.stringify({ version: 1, secret: '5a'.repeat(32) })}\n`;

describe('p2p-peer state file', function () {
  this.timeout(60000);

  let server: IndexServerProcess;
  let root: string;
  const started: CliPeer[] = [];

  async function startPeer(name: string, stateHome: string, extra: Partial<Parameters<typeof CliPeer.start>[0]> = {}): Promise<CliPeer> {
    const peer = await CliPeer.start({ index: server.address, name, cwd: root, env: { XDG_STATE_HOME: stateHome }, ...extra });
    started.push(peer);
    return peer;
  }

  /** Starts a peer that must refuse to start: resolves with its error event once it has exited 1. */
  async function refusedStart(stateFile: string): Promise<CliJsonEvent> {
    const peer = await startPeer('Refused', root, { args: ['--state', stateFile], waitForReady: false });
    const ev = await peer.nextEvent('error');
    assert.equal((await peer.waitForExit()).code, 1);
    assert.equal(peer.events.some((e) => e.event === 'ready'), false, 'it started anyway');
    return ev;
  }

  function freshHome(label: string): string {
    const home = path.join(root, label);
    fs.mkdirSync(home, { mode: 0o700 });
    return home;
  }

  before(async () => {
    root = makeTempDir('cli-state');
    fs.writeFileSync(path.join(root, 'Text.txt'), 'the text\n');
    fs.writeFileSync(path.join(root, 'Other.txt'), 'other text\n');
    server = await IndexServerProcess.start();
  });

  after(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await server?.stop();
    removeTempDir(root);
  });

  it('lives under $XDG_STATE_HOME, else ~/.local/state', () => {
    assert.equal(defaultStatePath({ XDG_STATE_HOME: '/x/state' }, '/home/sam', 'linux'), '/x/state/p2p-share/p2p-peer.json');
    assert.equal(defaultStatePath({ XDG_STATE_HOME: 'relative' }, '/home/sam', 'linux'), '/home/sam/.local/state/p2p-share/p2p-peer.json');
    assert.equal(defaultStatePath({}, '/home/sam', 'linux'), '/home/sam/.local/state/p2p-share/p2p-peer.json');
  });

  it('a peer that crashed gets its name back at once when it starts again', async () => {
    const home = freshHome('crash');
    const first = await startPeer('Phoenix', home);
    assert.equal((await first.run('R Text.txt')).event, 'registered');
    // A crash: no T reaches the index, so "Phoenix" stays held for a whole lease.
    await first.kill('SIGKILL');

    const again = await startPeer('Phoenix', home);
    assert.equal((await again.run('R Other.txt')).event, 'registered', 'the restarted peer was refused its own name');
    const online = (await again.run('O')).items as { peerName: string; contentName: string }[];
    assert.deepEqual(online.filter((i) => i.peerName === 'Phoenix').map((i) => i.contentName).sort(), ['Other.txt', 'Text.txt']);
  });

  it('with --state none, a restarted peer is a stranger to its own name (why the state file exists)', async () => {
    const home = freshHome('none');
    const first = await startPeer('Amnesiac', home, { args: ['--state', 'none'] });
    assert.equal((await first.run('R Text.txt')).event, 'registered');
    await first.kill('SIGKILL');
    const again = await startPeer('Amnesiac', home, { args: ['--state', 'none'] });
    await again.runExpectingError('R Other.txt', 'NAME_TAKEN');
    assert.equal(fs.existsSync(path.join(home, 'p2p-share')), false, '--state none wrote a state file');
  });

  it('creates the file 0600 in a 0700 folder, whole, and leaves no temporary file behind', async function () {
    if (!unixOwners) this.skip();
    const home = freshHome('modes');
    // Two peers starting at once on a new state file: one creates it, the other reads that same identity.
    const [a, b] = await Promise.all([startPeer('Twin', home), startPeer('Twin', home)]);
    assert.equal((await a.run('R Text.txt')).event, 'registered');
    assert.equal((await b.run('R Other.txt')).event, 'registered', 'the second twin got another identity');
    const folder = path.join(home, 'p2p-share');
    assert.deepEqual(fs.readdirSync(folder), ['p2p-peer.json']);
    assert.equal(fs.statSync(folder).mode & 0o777, 0o700);
    const file = path.join(folder, 'p2p-peer.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: number; secret: string };
    assert.equal(saved.version, 1);
    assert.match(saved.secret, /^[0-9a-f]{64}$/);
  });

  describe('refuses to start, and changes nothing, with a state file', () => {
    function plant(label: string, text: string, mode = 0o600): string {
      const file = path.join(freshHome(label), 'state.json');
      fs.writeFileSync(file, text, { mode });
      fs.chmodSync(file, mode);
      return file;
    }

    it('that other users can read', async function () {
      if (!unixOwners) this.skip();
      const file = plant('readable', VALID, 0o644);
      const ev = await refusedStart(file);
      assert.equal(ev.code, 'BAD_SETTING');
      assert.match(String(ev.message), /can be read or changed by other users \(mode 0644\).*chmod 600/);
      assert.equal(fs.readFileSync(file, 'utf8'), VALID);
      assert.equal(fs.statSync(file).mode & 0o777, 0o644, 'the mode was changed behind the user\'s back');
    });

    it('that other users can write', async function () {
      if (!unixOwners) this.skip();
      assert.match(String((await refusedStart(plant('writable', VALID, 0o620))).message), /mode 0620/);
    });

    it('that belongs to another user', async function () {
      if (!unixOwners || process.getuid!() !== 0) this.skip(); // only root can give a file away
      const file = plant('foreign', VALID);
      fs.chownSync(file, 4242, 4242);
      assert.match(String((await refusedStart(file)).message), /belongs to another user \(uid 4242\)/);
    });

    it('in a folder others can write to', async function () {
      if (!unixOwners) this.skip();
      const file = plant('open-folder', VALID);
      fs.chmodSync(path.dirname(file), 0o777);
      assert.match(String((await refusedStart(file)).message), /other users can replace files in .*mode 0777/);
    });

    it('that is a symbolic link', async () => {
      const target = plant('link-target', VALID);
      const link = path.join(path.dirname(target), 'link.json');
      fs.symlinkSync(target, link);
      assert.match(String((await refusedStart(link)).message), /is a symbolic link/);
    });

    for (const [label, text, why] of [
      ['not JSON', 'secret=abc\n', /not JSON/],
      ['of another version', JSON.stringify({ version: 2, secret: '5a'.repeat(32) }), /version 2/],
      ['with a short secret', JSON.stringify({ version: 1, secret: '5a' }), /not 64 lower-case hex digits/],
      ['far too large', `${' '.repeat(10_000)}${VALID}`, /10\d{3} bytes/],
    ] as const) {
      it(`that is corrupt: ${label}`, async () => {
        const file = plant(label.replace(/\W/g, '-'), text);
        const ev = await refusedStart(file);
        assert.match(String(ev.message), why);
        assert.match(String(ev.message), /move it away .*or use --state none/s);
        assert.equal(fs.readFileSync(file, 'utf8'), text, 'a corrupt state file was overwritten: its identity is lost');
      });
    }
  });
});
