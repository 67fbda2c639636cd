// A share is the file the user chose: a path swapped to a link, a hard link or another folder is never served nor re-published.
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { PeerOptions } from '../../src/peer/api';
import { ContentServer } from '../../src/peer/content-server';
import { IndexClient } from '../../src/peer/index-client';
import { Peer } from '../../src/peer/peer';
import { ShareBook } from '../../src/peer/share-book';
import { P2PError } from '../../src/protocol/errors';
import { CliPeer, IndexServerProcess } from '../support/cli';
import { allOnline, startIndexServer, RunningIndexServer } from '../support/index-server';
import { isP2P } from '../support/p2p-error';
import { makeTempDir, RawContentClient, removeDir, sha256Hex } from '../support/peers';

const PUBLIC = Buffer.from('meeting notes everyone may read\n');
/** Exactly as long as PUBLIC: a size check alone would let it through. */
const PRIVATE = Buffer.from('PRIVATE: the key is 0xC0FFEE!!!\n');

/** The next 'share-lost' of a peer, with its reason. */
async function shareLost(peer: Peer): Promise<{ contentName: string; reason: P2PError }> {
  const [contentName, reason] = (await once(peer, 'share-lost', { signal: AbortSignal.timeout(10_000) })) as [string, P2PError];
  return { contentName, reason };
}

/** Asks `port` for the content as a downloader would (over TLS for a running peer); the whole answer, C with its bytes or E. */
async function ask(port: number, contentName: string, sha256: string, secure = false) {
  const c = secure ? await RawContentClient.connectTls(port) : await RawContentClient.connect(port);
  try {
    c.request({ contentName, sha256, offset: 0, length: 0 });
    return await c.readResponse();
  } finally {
    await c.close();
  }
}

function assertRefusedWithoutPrivateBytes(answer: Awaited<ReturnType<typeof ask>>): void {
  assert.equal(answer.type, 'E', answer.type === 'C' ? `served ${JSON.stringify(answer.body.toString())}` : '');
  if (answer.type === 'E') {
    assert.equal(answer.code, 'NOT_SHARED');
    assert.ok(!answer.message.includes('PRIVATE'), answer.message);
  }
}

describe('What a share is', function () {
  this.timeout(20_000);
  let dir: string;
  let shared: string;
  let privateFile: string;

  beforeEach(async () => {
    assert.equal(PUBLIC.length, PRIVATE.length);
    dir = await makeTempDir('identity');
    await fsp.mkdir(path.join(dir, 'shared'));
    await fsp.mkdir(path.join(dir, 'private'));
    shared = path.join(dir, 'shared', 'notes.txt');
    privateFile = path.join(dir, 'private', 'notes.txt');
    await fsp.writeFile(shared, PUBLIC);
    await fsp.writeFile(privateFile, PRIVATE);
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  /** The attacker's move: the shared name now points at the private file. */
  async function swapForSymlink(): Promise<void> {
    await fsp.symlink(privateFile, `${shared}.link`);
    await fsp.rename(`${shared}.link`, shared);
  }

  describe('the content server, asked right after the swap', () => {
    let book: ShareBook;
    let server: ContentServer;
    const suspected: string[] = [];

    beforeEach(async () => {
      // No watcher: the D arrives before any file-system event could be handled.
      book = new ShareBook({ watch: false });
      server = new ContentServer({ lookup: (n, h) => book.lookup(n, h), onPathChanged: (n) => suspected.push(n) });
      await server.listen(0, '127.0.0.1');
      book.put(await book.prepare(shared));
    });

    afterEach(async () => {
      suspected.length = 0;
      book.close();
      await server.close();
    });

    it('refuses a shared file replaced by a symbolic link to a private file of the same size', async () => {
      await swapForSymlink();
      assertRefusedWithoutPrivateBytes(await ask(server.port, 'notes.txt', sha256Hex(PUBLIC)));
      assert.deepEqual(suspected, ['notes.txt'], 'the share is handed back to be looked at');
    });

    it('refuses when a folder on the path became a link to a private folder', async () => {
      await fsp.rename(path.join(dir, 'shared'), path.join(dir, 'shared.orig'));
      await fsp.symlink(path.join(dir, 'private'), path.join(dir, 'shared'));
      assertRefusedWithoutPrivateBytes(await ask(server.port, 'notes.txt', sha256Hex(PUBLIC)));
      assert.deepEqual(suspected, ['notes.txt']);
    });

    it('still serves the file itself after an in-place edit of the same length, until it is hashed again', async () => {
      const edited = Buffer.from(PUBLIC.toString().toUpperCase());
      await fsp.writeFile(shared, edited); // same inode: the user's own file
      const answer = await ask(server.port, 'notes.txt', sha256Hex(PUBLIC));
      assert.equal(answer.type, 'C');
      assert.deepEqual(suspected, []);
    });
  });

  describe('a running peer', () => {
    let index: RunningIndexServer;
    const peers: Peer[] = [];

    beforeEach(async () => {
      index = await startIndexServer({ ttlSeconds: 60 });
    });

    afterEach(async () => {
      await Promise.all(peers.splice(0).map((p) => p.quit().catch(() => undefined)));
      await index.close();
    });

    async function startPeer(opts: Partial<PeerOptions> = {}): Promise<Peer> {
      const peer = await Peer.start({
        peerName: 'alice',
        index: index.address,
        listenHost: '127.0.0.1',
        downloadFolder: path.join(dir, 'downloads'),
        requestTimeoutMs: 200,
        ...opts,
      });
      peers.push(peer);
      return peer;
    }

    /** What the index lists, seen by a stranger. */
    async function listing(): Promise<string[]> {
      const c = new IndexClient({ address: { host: index.host, port: index.port } });
      try {
        return (await allOnline(c)).map((e) => `${e.peerName}/${e.contentName}/${e.sha256.toString('hex').slice(0, 8)}`).sort();
      } finally {
        await c.close();
      }
    }

    it('stops sharing a file replaced by a symbolic link: refused, de-registered, the user told', async () => {
      const alice = await startPeer();
      await alice.register(shared);
      const lost = shareLost(alice);
      await swapForSymlink();
      assertRefusedWithoutPrivateBytes(await ask(alice.listenPort, 'notes.txt', sha256Hex(PUBLIC), true));
      const { contentName, reason } = await lost;
      assert.equal(contentName, 'notes.txt');
      assert.equal(reason.code, 'NOT_A_FILE');
      assert.match(reason.message, /symbolic link/);
      assert.deepEqual(alice.listLocal(), []);
      assert.deepEqual(await listing(), [], 'neither the old entry nor the private file is listed');
      assertRefusedWithoutPrivateBytes(await ask(alice.listenPort, 'notes.txt', sha256Hex(PRIVATE), true));
    });

    it('stops sharing when a folder on the path became a link: the refused D makes the peer look, watching or not', async () => {
      const alice = await startPeer({ watchShares: false });
      await alice.register(shared);
      const lost = shareLost(alice);
      await fsp.rename(path.join(dir, 'shared'), path.join(dir, 'shared.orig'));
      await fsp.symlink(path.join(dir, 'private'), path.join(dir, 'shared'));
      // No watcher (and a watched folder moved away raises no event on the file): the D is the only news.
      assertRefusedWithoutPrivateBytes(await ask(alice.listenPort, 'notes.txt', sha256Hex(PUBLIC), true));
      const { reason } = await lost;
      assert.equal(reason.code, 'BAD_PATH');
      assert.deepEqual(await listing(), []);
      assertRefusedWithoutPrivateBytes(await ask(alice.listenPort, 'notes.txt', sha256Hex(PRIVATE), true));
    });

    it('stops sharing a file replaced by a hard link to a private file', async () => {
      const alice = await startPeer();
      await alice.register(shared);
      const lost = shareLost(alice);
      await fsp.link(privateFile, `${shared}.hard`);
      await fsp.rename(`${shared}.hard`, shared);
      const { reason } = await lost;
      assert.equal(reason.code, 'BAD_PATH');
      assert.match(reason.message, /hard link/);
      assert.deepEqual(await listing(), []);
      assertRefusedWithoutPrivateBytes(await ask(alice.listenPort, 'notes.txt', sha256Hex(PRIVATE), true));
    });

    it('refuses to register a symbolic link in the first place', async () => {
      const alice = await startPeer();
      const link = path.join(dir, 'shared', 'passwd');
      await fsp.symlink(privateFile, link);
      await assert.rejects(alice.register(link), isP2P('NOT_A_FILE'));
      assert.deepEqual(alice.listLocal(), []);
      assert.deepEqual(await listing(), []);
    });

    it('re-registers an ordinary in-place edit, and a save that renames a new file over the old one', async () => {
      const alice = await startPeer();
      await alice.register(shared);
      const lostEvents: string[] = [];
      alice.on('share-lost', (n) => lostEvents.push(n));

      const edited = Buffer.from('meeting notes, second draft\n');
      const changed = once(alice, 'shares-changed');
      await fsp.writeFile(shared, edited); // same inode
      await changed;
      assert.deepEqual(await listing(), [`alice/notes.txt/${sha256Hex(edited).slice(0, 8)}`]);

      const saved = Buffer.from('meeting notes, saved as editors do\n');
      const changedAgain = once(alice, 'shares-changed');
      await fsp.writeFile(`${shared}.tmp`, saved);
      await fsp.rename(`${shared}.tmp`, shared); // new inode, one name, same folder
      await changedAgain;
      assert.deepEqual(await listing(), [`alice/notes.txt/${sha256Hex(saved).slice(0, 8)}`]);
      const answer = await ask(alice.listenPort, 'notes.txt', sha256Hex(saved), true);
      assert.equal(answer.type, 'C');
      if (answer.type === 'C') assert.deepEqual(answer.body, saved);
      assert.deepEqual(lostEvents, []);
    });
  });

  describe('the terminal peer', () => {
    let server: IndexServerProcess;
    const clis: CliPeer[] = [];

    beforeEach(async () => {
      server = await IndexServerProcess.start();
    });

    afterEach(async () => {
      await Promise.all(clis.splice(0).map((c) => c.stop()));
      await server.stop();
    });

    it('warns on stderr in human mode when a shared file is swapped for a symbolic link', async () => {
      const cli = await CliPeer.start({ index: server.address, name: 'carol', cwd: dir, json: false });
      clis.push(cli);
      cli.send(`R ${shared}`);
      await cli.nextLine((l) => l.startsWith('registered "notes.txt"'));
      await swapForSymlink();
      const line = await cli.nextStderrLine((l) => l.includes('stopped sharing'));
      assert.match(line, /^p2p-peer: warn: stopped sharing "notes\.txt": .*symbolic link/);
    });

    it('reports an error event for the content in --json mode', async () => {
      const cli = await CliPeer.start({ index: server.address, name: 'carol', cwd: dir });
      clis.push(cli);
      assert.equal((await cli.run(`R ${shared}`)).event, 'registered');
      await swapForSymlink();
      const ev = await cli.next((e) => e.event === 'error' && e.contentName === 'notes.txt');
      assert.equal(ev.code, 'NOT_A_FILE');
    });
  });
});
