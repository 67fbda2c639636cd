// Name ownership kept on disk (LMDB under --data): after a restart the owner gets its name back and a squatter does not.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { IndexReply } from '../../src/protocol/messages';
import { LmdbOwnerBook } from '../../src/server/lmdb-owner-book';
import { IndexServerProcess, makeTempDir, removeTempDir } from '../support/cli';
import { ManualClock, UdpProbe, startIndexServer } from '../support/index-server';

/** One R from a fresh socket with `secret`, as a peer (or a squatter) would send it. */
async function register(port: number, secret: Buffer, peerName: string, contentName: string): Promise<IndexReply> {
  const probe = await UdpProbe.open({ host: '127.0.0.1', port });
  try {
    const cookie = await probe.handshake();
    return await probe.ask({ type: 'R', requestId: probe.id(), cookie, secret, tcpPort: 4000, size: 1, sha256: Buffer.alloc(32, 1), peerName, contentName });
  } finally {
    await probe.close();
  }
}

function codeOf(reply: IndexReply): string {
  return reply.type === 'E' ? `E${reply.code}` : reply.type;
}

describe('name ownership kept on disk', function () {
  this.timeout(20_000);
  let dir: string;
  const servers: IndexServerProcess[] = [];
  // A dot in the folder's name, as in ~/.local/share or a mktemp folder: still a folder to LMDB.
  beforeEach(() => (dir = path.join(makeTempDir('owners'), 'index.d')));
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    removeTempDir(path.dirname(dir));
  });
  async function start(...flags: string[]): Promise<IndexServerProcess> {
    const s = await IndexServerProcess.start(flags);
    servers.push(s);
    return s;
  }

  it('after a restart a squatter gets NAME_TAKEN and the owner gets the name back', async function () {
    const dana = randomBytes(32);
    const first = await start('--data', dir);
    assert.equal(codeOf(await register(first.port, dana, 'dana', 'notes.txt')), 'A');
    await first.stop();
    const second = await start('--data', dir);
    assert.equal(codeOf(await register(second.port, randomBytes(32), 'dana', 'notes.txt')), 'E5', 'the squatter');
    assert.equal(codeOf(await register(second.port, dana, 'dana', 'notes.txt')), 'A', 'the owner');
  });

  it('with --data none a restart forgets owners (what the store protects against)', async function () {
    const first = await start('--data', 'none');
    assert.equal(codeOf(await register(first.port, randomBytes(32), 'dana', 'notes.txt')), 'A');
    await first.stop();
    const second = await start('--data', 'none');
    assert.equal(codeOf(await register(second.port, randomBytes(32), 'dana', 'notes.txt')), 'A');
  });

  it('ownership lapses --owner-ttl after its last use, and the sweep forgets it', async function () {
    const clock = new ManualClock();
    const owners = new LmdbOwnerBook({ dir, ownerTtlSeconds: 3600 });
    const index = await startIndexServer({ now: clock.now, owners, ttlSeconds: 60 });
    try {
      assert.equal(codeOf(await register(index.port, randomBytes(32), 'dana', 'a.txt')), 'A');
      clock.advance(61_000);
      index.server.sweep();
      assert.equal(codeOf(await register(index.port, randomBytes(32), 'dana', 'b.txt')), 'E5', 'kept while within its time');
      clock.advance(3600_000);
      assert.equal(owners.sweep(clock.now(), 100), 1);
      assert.equal(codeOf(await register(index.port, randomBytes(32), 'dana', 'b.txt')), 'A', 'free once lapsed');
    } finally {
      await index.close();
      await owners.close();
    }
  });
  describe('the book and writes lmdb has not committed yet', function () {
    const owner = { kind: 'secret' as const, digest: 'd'.repeat(32) };

    it('a sweep right after a registration sees the owner that is still being written', async function () {
      const book = new LmdbOwnerBook({ dir, ownerTtlSeconds: 3600 });
      try {
        book.touch('erin', owner, 0);
        assert.equal(book.sweep(3600_000, 100), 1);
        assert.equal(book.ownerOf('erin', 3600_000), undefined);
      } finally {
        await book.close();
      }
    });

    it('a fresh use still being written keeps a name whose stored use has lapsed', async function () {
      const first = new LmdbOwnerBook({ dir, ownerTtlSeconds: 3600 });
      first.touch('fay', owner, 0);
      await first.close();
      const second = new LmdbOwnerBook({ dir, ownerTtlSeconds: 3600 });
      second.touch('fay', owner, 3000_000);
      assert.equal(second.sweep(3700_000, 100), 0, 'the stored use lapsed, the one being written has not');
      assert.deepEqual(second.ownerOf('fay', 3700_000), owner);
      await second.close();
      const third = new LmdbOwnerBook({ dir, ownerTtlSeconds: 3600 });
      try {
        assert.deepEqual(third.ownerOf('fay', 3700_000), owner, 'still the owner once every write is on disk');
      } finally {
        await third.close();
      }
    });
  });
});
