// The original report's scenario, end to end: a real index server and terminal peers as child processes in --json mode.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliPeer, IndexServerProcess, makeTempDir, removeTempDir, type CliJsonEvent } from '../support/cli';

interface Item {
  peerName: string;
  contentName: string;
  host: string;
  port: number;
  size: number;
  sha256: string;
}

/** "peer/content" of every item, sorted: what the online list says, independent of order. */
function registrations(ev: CliJsonEvent): string[] {
  assert.equal(ev.event, 'online', `expected the online list, got ${JSON.stringify(ev)}`);
  return (ev.items as Item[]).map((i) => `${i.peerName}/${i.contentName}`).sort();
}

describe('the original report scenario, with real processes', function () {
  this.timeout(60000);

  let server: IndexServerProcess;
  let root: string;
  const peers: CliPeer[] = [];
  let sam: CliPeer;
  let jo: CliPeer;
  let al: CliPeer;

  async function startPeer(name: string, folder: string): Promise<CliPeer> {
    fs.mkdirSync(folder, { recursive: true });
    const peer = await CliPeer.start({ index: server.address, name, cwd: folder, dir: path.join(folder, 'downloads') });
    peers.push(peer);
    return peer;
  }

  before(async () => {
    root = makeTempDir('scenario');
    server = await IndexServerProcess.start();
    for (const who of ['sam', 'sam-again', 'jo files']) {
      fs.mkdirSync(path.join(root, who));
      fs.writeFileSync(path.join(root, who, 'Text.txt'), `Text.txt as ${who} has it\n`);
    }
    // Big enough that the download reports progress along the way.
    fs.writeFileSync(path.join(root, 'jo files', 'Text1.txt'), randomBytes(3 * 1024 * 1024 + 17));
  });

  after(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    await server?.stop();
    removeTempDir(root);
  });

  it('Sam registers Text.txt and the index acknowledges it', async () => {
    sam = await startPeer('Sam', path.join(root, 'sam'));
    assert.equal(sam.ready?.peerName, 'Sam');
    assert.equal(sam.ready?.index, server.address);
    const ev = await sam.run('R Text.txt');
    assert.equal(ev.event, 'registered', JSON.stringify(ev));
    const share = ev.share as { contentName: string; path: string; size: number };
    assert.equal(share.contentName, 'Text.txt');
    assert.equal(share.path, path.join(root, 'sam', 'Text.txt'));
    assert.equal(share.size, fs.statSync(path.join(root, 'sam', 'Text.txt')).size);
  });

  it('a second peer also named Sam is told the name is used by another peer and asked for another', async () => {
    const again = await startPeer('Sam', path.join(root, 'sam-again'));
    const ev = await again.runExpectingError('R Text.txt', 'NAME_TAKEN');
    assert.match(String(ev.message), /already used by another peer; choose another peer name/);
    assert.equal(ev.command, 'R');
    assert.equal(ev.retry, 'N <new peer name>');
    // It gives up: quitting leaves nothing behind and does not touch the first Sam's entry.
    assert.equal((await again.run('Q')).event, 'bye');
    assert.equal((await again.waitForExit()).code, 0);
  });

  it('Jo registers Text.txt as well and gets an acknowledgement', async () => {
    jo = await startPeer('Jo', path.join(root, 'jo files'));
    const ev = await jo.run('R Text.txt');
    assert.equal(ev.event, 'registered', JSON.stringify(ev));
  });

  it('Jo registers Text1.txt', async () => {
    // An absolute path with a space, quoted by the helper as a user would type it.
    const ev = await jo.runCommand('r', path.join(root, 'jo files', 'Text1.txt'));
    assert.equal(ev.event, 'registered', JSON.stringify(ev));
    const share = ev.share as { size: number; path: string };
    assert.equal(share.size, 3 * 1024 * 1024 + 17);
    assert.equal(share.path, path.join(root, 'jo files', 'Text1.txt'));
  });

  it('the online list shows all three registrations with their addresses', async () => {
    const ev = await sam.run('O');
    assert.deepEqual(registrations(ev), ['Jo/Text.txt', 'Jo/Text1.txt', 'Sam/Text.txt']);
    const jos = (ev.items as Item[]).find((i) => i.peerName === 'Jo' && i.contentName === 'Text1.txt')!;
    assert.equal(jos.host, '127.0.0.1');
    assert.equal(jos.port, jo.ready?.port, "Jo's content server port");
    assert.match(jos.sha256, /^[0-9a-f]{64}$/);
  });

  it('a third peer downloads Text1.txt, gets identical bytes and becomes a source', async () => {
    al = await startPeer('Al', path.join(root, 'al'));
    al.send('D Text1.txt');
    const progress: CliJsonEvent[] = [];
    const done = await al.next((e) => {
      if (e.event === 'progress') progress.push(e);
      return e.event !== 'progress' && e.event !== 'state';
    });
    assert.equal(done.event, 'downloaded', JSON.stringify(done));
    // Sam and Jo registered a piece root, so every piece was checked on arrival.
    assert.equal(done.pieceChecked, true, JSON.stringify(done));
    assert.ok(progress.length >= 1, 'progress is shown while downloading');
    for (const p of progress) {
      assert.equal(p.contentName, 'Text1.txt');
      assert.equal(p.total, 3 * 1024 * 1024 + 17);
      assert.ok((p.received as number) <= (p.total as number));
    }
    assert.equal(done.path, path.join(root, 'al', 'downloads', 'Text1.txt'));
    assert.deepEqual(done.sources, ['Jo']);
    assert.equal(done.shared, true);
    assert.ok(fs.readFileSync(path.join(root, 'al', 'downloads', 'Text1.txt')).equals(fs.readFileSync(path.join(root, 'jo files', 'Text1.txt'))));

    const sources = await sam.run('S Text1.txt');
    assert.equal(sources.event, 'sources', JSON.stringify(sources));
    assert.deepEqual((sources.items as Item[]).map((i) => i.peerName).sort(), ['Al', 'Jo']);
  });

  it('downloading from a peer that does not share the content is NOT_FOUND', async () => {
    const ev = await al.runExpectingError('D Text.txt from Nobody', 'NOT_FOUND');
    assert.match(String(ev.message), /Nobody/);
  });

  it('searching for content nobody shares is NOT_FOUND', async () => {
    const ev = await sam.runExpectingError('S Missing.txt', 'NOT_FOUND');
    assert.equal(ev.command, 'S');
    assert.match(String(ev.message), /Missing\.txt/);
  });

  it('Jo de-registers Text.txt and it leaves the online list', async () => {
    const ev = await jo.run('T Text.txt');
    assert.deepEqual(ev, { event: 'deregistered', contentName: 'Text.txt' });
    assert.deepEqual(registrations(await sam.run('O')), ['Al/Text1.txt', 'Jo/Text1.txt', 'Sam/Text.txt']);
    const local = await jo.run('L');
    assert.deepEqual(
      (local.shares as { contentName: string }[]).map((s) => s.contentName),
      ['Text1.txt'],
    );
  });

  it('de-registering Text.txt again is NOT_REGISTERED ("could not remove")', async () => {
    const ev = await jo.runExpectingError('T Text.txt', 'NOT_REGISTERED');
    assert.match(String(ev.message), /Could not remove/);
  });

  it('Jo quits: the process exits 0 and none of its entries remain, while Sam keeps his', async () => {
    assert.equal((await jo.run('Q')).event, 'bye');
    assert.deepEqual(await jo.waitForExit(), { code: 0, signal: null });
    const online = registrations(await sam.run('O'));
    assert.deepEqual(online, ['Al/Text1.txt', 'Sam/Text.txt']);
    assert.ok(!online.some((r) => r.startsWith('Jo/')));
  });

  it('wrote nothing but JSON events on stdout', () => {
    for (const p of peers) assert.equal(p.events.length, p.stdoutLines.length, `${p.label} printed only JSON events`);
  });
});
