// Hostile names and requests: the index server refuses bad names over UDP, and a peer never writes or serves outside what it should.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Peer } from '../../src/peer/peer';
import {
  ErrorCodes, IndexReply, decodeClassicReply, decodeIndexReply, encodeClassicRequest,
} from '../../src/protocol';
import { ContentServer } from '../../src/peer/content-server';
import { insideFolder } from '../../src/peer/download/placement';
import { RunningIndexServer, startIndexServer } from '../support/index-server';
import { IndexPeer, assertRefused } from '../support/index-peer';
import { RawContentClient, makeTempDir, removeDir, serveFiles, sha256Hex, writeBytes, writeTestFile, type TestFile } from '../support/peers';
import { isP2P } from '../support/p2p-error';
import { FAKE_EXCHANGE_KEY, FakeIndex } from '../support/fake-index';

/** Every file and folder under `dir`, relative, sorted: to prove nothing was written where it should not be. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    out.push(path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
  }
  return out.sort();
}

describe('hardening: hostile input', function () {
  this.timeout(60_000);

  describe('names the index server refuses, over real UDP', function () {
    let srv: RunningIndexServer;
    let peer: IndexPeer;

    beforeEach(async function () {
      srv = await startIndexServer({ classic: true });
      peer = await IndexPeer.open(srv);
    });

    afterEach(async function () {
      await peer.close();
      await srv.close();
    });

    const register = (peerName: string, contentName: string): Promise<IndexReply> => peer.register(peerName, contentName);
    const expectBadName = (reply: IndexReply, rule: RegExp, what: string): void => assertRefused(reply, ErrorCodes.BAD_NAME, rule, what);

    it('answers R with E BAD_NAME saying which rule, for every kind of name a file system or a terminal would misread', async function () {
      const contentNames: [string, RegExp][] = [
        ['dir\\file.txt', /path separator/],
        ['..\\..\\boot.ini', /path separator/],
        ['a\u0000b.txt', /control character/],
        ['new\nline.txt', /control character/],
        ['tab\there.txt', /control character/],
        ['del\u007f.txt', /control character/],
        ['c1\u0085.txt', /control character/],
        ['esc\u001b[2J.txt', /control character/],
        ['CON', /reserved device name/],
        ['con.txt', /reserved device name/],
        ['Com1.log', /reserved device name/],
        ['LPT9', /reserved device name/],
        ['aux.tar.gz', /reserved device name/],
        ['nul', /reserved device name/],
        ['.', /directory reference/],
        ['a<b>.txt', /one of/],
        ['x.', /ends with a dot/],
      ];
      for (const [content, rule] of contentNames) expectBadName(await register('sam', content), rule, JSON.stringify(content));
      for (const [peer, rule] of [['sam\u0000', /control character/], ['line\nbreak', /control character/], ['\u009bsam', /control character/]] as const) {
        expectBadName(await register(peer, 'ok.txt'), rule, `peer ${JSON.stringify(peer)}`);
      }
      assert.equal(srv.server.registry.size, 0, 'nothing was registered');
    });

    it('refuses bad names in T and S too, and accepts a name of exactly 255 bytes', async function () {
      expectBadName(await peer.deregister('sam', '../x'), /path separator/, 'T');
      expectBadName(await peer.search('a\\b'), /path separator/, 'S');
      const longest = `${'é'.repeat(127)}x`; // 255 bytes of UTF-8
      assert.equal(Buffer.byteLength(longest), 255);
      assert.equal((await register('sam', longest)).type, 'A');
    });

    it('cannot be sent a name over 255 bytes: the u8 length field makes the 256th byte a trailing byte, answered MALFORMED', async function () {
      const r = peer.probe.encode({
        type: 'R', requestId: peer.probe.id(), cookie: peer.cookie, secret: peer.secret, tcpPort: 4000, size: 1, sha256: randomBytes(32), peerName: 'sam', contentName: 'x'.repeat(255),
      });
      const reply = decodeIndexReply(await peer.probe.roundTrip(Buffer.concat([r, Buffer.from('x')])));
      assert.equal(reply.type, 'E');
      if (reply.type === 'E') {
        assert.equal(reply.code, ErrorCodes.MALFORMED);
        assert.match(reply.message, /trailing/);
      }
      assert.equal(srv.server.registry.size, 0);
    });

    it('answers a classic R with a bad name with a 101-byte E that says so', async function () {
      for (const content of ['a\\b.txt', 'aux.txt', 'x\u0001y']) {
        const raw = await peer.probe.roundTrip(encodeClassicRequest({ type: 'R', peerName: 'oldie', contentName: content, address: '5000' }));
        assert.equal(raw.length, 101);
        const reply = decodeClassicReply(raw);
        assert.equal(reply.type, 'E', JSON.stringify(content));
        if (reply.type === 'E') assert.match(reply.message, /^The name is not allowed/);
      }
      assert.equal(srv.server.registry.size, 0);
    });
  });

  describe('a peer in front of a hostile index', function () {
    let root: string;
    let file: TestFile;
    let source: ContentServer;
    let fake: FakeIndex;
    let peer: Peer;
    /** An absolute path next to the test folder, listed as a content name. */
    let outside: string;

    beforeEach(async function () {
      root = await makeTempDir('hardening-hostile');
      outside = `${root}-escaped.txt`;
      await fsp.mkdir(path.join(root, 'elsewhere'));
      file = await writeTestFile(path.join(root, 'elsewhere'), 'fine.txt', 200_000);
      source = await serveFiles([file]);
      const sha256 = Buffer.from(file.sha256, 'hex');
      const at = { host: '127.0.0.1', port: source.port, size: file.size, sha256 };
      // What the real server would never accept: names that are paths, and a peer name full of them.
      fake = await FakeIndex.start((req) => {
        switch (req.type) {
          case 'H':
            return { type: 'H', requestId: req.requestId, cookie: randomBytes(16), exchangeKey: FAKE_EXCHANGE_KEY };
          case 'O':
            return {
              type: 'O', requestId: req.requestId, next: 0,
              entries: ['../escape.txt', '..', 'sub/inner.txt', outside, '..\\up.txt', 'fine.txt'].map((contentName) => ({
                peerName: '../../evil', contentName, ...at,
              })),
            };
          case 'S':
            return { type: 'S', requestId: req.requestId, sources: [{ peerName: '../../evil', ...at }, { peerName: 'new\nline', ...at }] };
          case 'R':
            return { type: 'A', requestId: req.requestId, leaseSeconds: 60, message: 'registered' };
          case 'T':
            return { type: 'A', requestId: req.requestId, leaseSeconds: 0, message: 'removed' };
        }
      });
      peer = await Peer.start({
        peerName: 'victim', index: fake.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'downloads'), requestTimeoutMs: 200,
      });
    });

    afterEach(async function () {
      await peer.quit();
      await fake.close();
      await source.close();
      await removeDir(root);
    });

    it('refuses to download any listed name that is a path, before asking for its sources, and writes nothing', async function () {
      const listed = (await peer.listOnline()).items.map((i) => i.contentName);
      assert.ok(listed.includes('../escape.txt'), 'the hostile names did reach the peer');
      const before = await tree(root);
      for (const name of listed.filter((n) => n !== 'fine.txt')) {
        await assert.rejects(peer.download(name), isP2P('BAD_NAME'), name);
        assert.ok(!fake.searchedFor(name), `asked the index for the sources of ${JSON.stringify(name)}`);
      }
      assert.deepEqual(await tree(root), before, 'not a byte written anywhere');
      await assert.rejects(fsp.stat(outside), /ENOENT/);
    });

    it('saves a download under its content name in its own folder, whatever the index calls the source', async function () {
      const before = await tree(root);
      const result = await peer.download('fine.txt');
      assert.equal(result.path, path.join(root, 'downloads', 'fine.txt'));
      assert.equal(sha256Hex(await fsp.readFile(result.path)), file.sha256);
      // Both listed sources are one address: the downloader asks it once, under the first name.
      assert.deepEqual(result.sources, ['../../evil']);
      const added = (await tree(root)).filter((p) => !before.includes(p));
      assert.deepEqual(added, ['downloads', path.join('downloads', 'fine.txt')]);
    });
  });

  describe("the downloader's last check on where a file goes", function () {
    const folder = path.resolve('/srv/downloads');

    it('refuses every name that would leave the folder, even one the name rules would let through', function () {
      for (const name of ['../x', '..', '/etc/passwd', 'a/../../x', 'sub/x', '', '.', 'x/..']) {
        assert.throws(() => insideFolder(folder, name), isP2P('BAD_NAME', /would be saved outside/), JSON.stringify(name));
      }
    });

    it('keeps names that only start with two dots, which are plain file names', function () {
      for (const name of ['..notes.txt', 'a..b', '.hidden', '...x']) {
        assert.equal(insideFolder(folder, name), path.join(folder, name), name);
      }
    });

    it('lets a peer download content whose name starts with two dots', async function () {
      const root = await makeTempDir('hardening-dots');
      const index = await startIndexServer();
      const started: Peer[] = [];
      try {
        for (const name of ['alice', 'bob']) {
          started.push(await Peer.start({ peerName: name, index: index.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, name) }));
        }
        const [alice, bob] = started;
        const shared = await writeBytes(root, '..notes.txt', Buffer.from('a name the index accepts\n'));
        await alice.register(shared.path);
        const result = await bob.download('..notes.txt');
        assert.equal(result.path, path.join(root, 'bob', '..notes.txt'));
        assert.equal(sha256Hex(await fsp.readFile(result.path)), shared.sha256);
      } finally {
        await Promise.all(started.map((p) => p.quit()));
        await index.close();
        await removeDir(root);
      }
    });
  });

  describe("a peer's content server asked for what it does not share", function () {
    let root: string;
    let peer: Peer;
    let index: RunningIndexServer;

    beforeEach(async function () {
      root = await makeTempDir('hardening-serve');
      index = await startIndexServer();
      peer = await Peer.start({ peerName: 'alice', index: index.address, listenHost: '127.0.0.1', downloadFolder: path.join(root, 'downloads') });
    });

    afterEach(async function () {
      await peer.quit();
      await index.close();
      await removeDir(root);
    });

    it('serves a registered file by name and hash only: never a neighbour, a parent, an absolute path or another hash', async function () {
      await fsp.mkdir(path.join(root, 'shared'));
      const shared = await writeBytes(path.join(root, 'shared'), 'shared.txt', Buffer.from('shared on purpose\n'));
      const neighbour = await writeBytes(path.join(root, 'shared'), 'secret.txt', Buffer.from('next to the shared file\n'));
      const parent = await writeBytes(root, 'parent.txt', Buffer.from('one folder up\n'));
      await peer.register(shared.path);

      const asks: [string, string][] = [
        ['secret.txt', neighbour.sha256],
        ['../parent.txt', parent.sha256],
        ['../secret.txt', neighbour.sha256],
        [neighbour.path, neighbour.sha256],
        [parent.path, parent.sha256],
        ['shared.txt/../secret.txt', neighbour.sha256],
        ['shared.txt', neighbour.sha256],
        ['shared.txt\u0000../parent.txt', shared.sha256],
        ['.', shared.sha256],
      ];
      for (const [contentName, sha256] of asks) {
        const c = await RawContentClient.connectTls(peer.listenPort);
        try {
          c.request({ contentName, sha256, offset: 0, length: 0 });
          const r = await c.readResponse();
          assert.equal(r.type, 'E', `${JSON.stringify(contentName)} was served`);
          if (r.type === 'E') assert.ok(['NOT_SHARED', 'MALFORMED'].includes(r.code), `${contentName}: ${r.code}`);
        } finally {
          await c.close();
        }
      }
      const c = await RawContentClient.connectTls(peer.listenPort);
      try {
        c.request({ contentName: 'shared.txt', sha256: shared.sha256, offset: 0, length: 0 });
        const r = await c.readResponse();
        assert.ok(r.type === 'C' && r.body.equals(Buffer.from('shared on purpose\n')), 'the registered file itself is served');
      } finally {
        await c.close();
      }
    });
  });
});
