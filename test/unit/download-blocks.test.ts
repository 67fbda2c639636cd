// Blocks a socket reads into in place: a room lent to one source's socket is never written by another, nor reused, while that socket may still read.
import { strict as assert } from 'node:assert';
import { BlockInProgress, BlockPool, RING_SLOTS } from '../../src/peer/download/blocks';
import { P2PError } from '../../src/protocol/errors';

const KiB = 1024;

/** A socket as a block sees it: it holds the room it was lent until it closes or goes back to its scratch buffer. */
class Socket {
  private holding = true;
  holdsRoomIn(): boolean {
    return this.holding;
  }
  close(): void {
    this.holding = false;
  }
  readIntoScratch(): void {
    this.holding = false;
  }
}

describe('download blocks read in place', function () {
  it('counts bytes the socket read into the lent room without copying, and copies bytes from elsewhere', function () {
    const pool = new BlockPool();
    const block = new BlockInProgress<string>(0, pool.take(64 * KiB));
    const socket = new Socket();
    const room = block.lend(16 * KiB, socket);
    assert.equal(room.length, 16 * KiB);
    room.fill(0x41);
    assert.equal(block.add(room.subarray(0, 10 * KiB), 'a', socket), 10 * KiB);
    assert.equal(block.add(Buffer.alloc(KiB, 0x42), 'a', socket), KiB);
    assert.equal(block.filled, 11 * KiB);
    assert.ok(block.bytes.subarray(0, 10 * KiB).every((b) => b === 0x41));
    assert.ok(block.bytes.subarray(10 * KiB).every((b) => b === 0x42));
  });

  it('refuses bytes from a second source while the room is lent to an open socket', function () {
    const block = new BlockInProgress<string>(0, new BlockPool().take(64 * KiB));
    const slow = new Socket();
    block.lend(64 * KiB, slow);
    const fast = new Socket();
    assert.throws(() => block.add(Buffer.alloc(KiB), 'fast', fast), (e: unknown) => e instanceof P2PError && e.code === 'INTERNAL');
    assert.throws(() => block.lend(KiB, fast), (e: unknown) => e instanceof P2PError && e.code === 'INTERNAL');
    slow.close();
    assert.equal(block.add(Buffer.alloc(KiB), 'fast', fast), KiB);
  });

  it('frees the block for another source once the socket it was lent to reads into its scratch buffer again', function () {
    const block = new BlockInProgress<string>(0, new BlockPool().take(64 * KiB));
    const first = new Socket();
    block.lend(64 * KiB, first);
    const second = new Socket();
    assert.equal(block.writableBy(second), false);
    first.readIntoScratch();
    assert.equal(block.writableBy(second), true);
    assert.equal(block.add(Buffer.alloc(KiB), 'second', second), KiB);
  });

  it('endgame: the slow socket\'s late read lands in the buffer it was lent, never in the block the fast source finishes', function () {
    const pool = new BlockPool();
    const block = new BlockInProgress<string>(0, pool.take(64 * KiB));
    const slow = new Socket();
    block.add(Buffer.alloc(4 * KiB, 0x11), 'slow', slow);
    const lentRoom = block.lend(60 * KiB, slow);

    // The fast source joins the chunk: it may not write where the slow socket's next read lands.
    const fast = new Socket();
    assert.equal(block.writableBy(fast), false);
    const moved = block.moveTo(pool.take(64 * KiB));
    moved.add(Buffer.alloc(60 * KiB, 0x22), 'fast', fast);
    assert.ok(moved.full);
    const checked = Buffer.from(moved.bytes);

    // Now the slow (perhaps lying) source's read arrives, into the room it was lent.
    lentRoom.fill(0xee);
    assert.deepEqual(moved.bytes, checked, 'the block that was checked is unchanged');
    assert.deepEqual([...moved.senders].sort(), ['fast', 'slow']);
  });

  it('hands out every ring slot once before falling back to buffers of their own', function () {
    const pool = new BlockPool();
    const seen = new Set<number>();
    for (let i = 0; i < RING_SLOTS; i++) {
      const b = pool.take(KiB);
      assert.equal(b.buffer, pool.ring);
      seen.add(b.byteOffset);
    }
    assert.equal(seen.size, RING_SLOTS);
    assert.notEqual(pool.take(KiB).buffer, pool.ring);
  });
});
