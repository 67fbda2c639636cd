// The blocks a download assembles from socket reads: one piece (at most) read or copied into a buffer of its own, held off the disk until it is checked.
import { PIECE_BYTES } from '../../protocol/pieces';
import type { RoomReader } from './source-connection';

/**
 * Blocks in the ring shared with the hashing thread at its start: enough for a few sources' blocks in
 * flight. The pages are touched only when a slot is first used, so an idle ring costs no memory.
 */
export const RING_SLOTS = 16;

/**
 * Buffers of one piece each. Most are slots of one SharedArrayBuffer the hashing thread was given once,
 * so a block crosses to it as a slot number: nothing is transferred, cloned or allocated per block.
 * When every slot is busy (many sources), a block gets a SharedArrayBuffer of its own, passed per message.
 */
export class BlockPool {
  readonly ring = new SharedArrayBuffer(RING_SLOTS * PIECE_BYTES);
  private readonly free: Buffer[] = [];

  constructor() {
    for (let i = RING_SLOTS - 1; i >= 0; i--) this.free.push(Buffer.from(this.ring, i * PIECE_BYTES, PIECE_BYTES));
  }

  /** A buffer of `bytes` (at most one piece). */
  take(bytes: number): Buffer {
    const whole = this.free.pop() ?? Buffer.from(new SharedArrayBuffer(PIECE_BYTES));
    return whole.subarray(0, bytes);
  }

  /** Gives back a buffer that came from take() and is no longer used; one of its own is left to the GC. */
  give(buf: Buffer): void {
    if (buf.buffer === this.ring) this.free.push(Buffer.from(this.ring, buf.byteOffset, PIECE_BYTES));
  }
}

/** The block a chunk is filling, in order, possibly from more than one source (endgame, a source lost mid-piece). */
export class BlockInProgress<Sender> {
  filled = 0;
  readonly senders = new Set<Sender>();
  /** The socket its room was last lent to (its next read may land there at any moment while it is open). */
  lentTo: RoomReader | undefined;

  constructor(
    readonly start: number,
    /** The block's bytes: its length is the block's. */
    readonly buf: Buffer,
  ) {}

  get full(): boolean {
    return this.filled === this.buf.length;
  }

  /** Takes what fits of `data` in (copied, unless the socket read it into this block's room already); returns how many bytes were taken. */
  add(data: Buffer, from: Sender): number {
    const n = Math.min(data.length, this.buf.length - this.filled);
    if (!this.isRoom(data)) data.copy(this.buf, this.filled, 0, n);
    this.filled += n;
    this.senders.add(from);
    return n;
  }

  /** Room lent to a socket that may still read into it: nobody else may write there. */
  get lent(): boolean {
    return this.lentTo !== undefined && !this.lentTo.isClosed;
  }

  /** The room after the bytes filled so far, at most `max` bytes, for `reader`'s next read. */
  lend(max: number, reader: RoomReader): Buffer {
    this.lentTo = reader;
    return this.buf.subarray(this.filled, this.filled + Math.min(max, this.buf.length - this.filled));
  }

  private isRoom(data: Buffer): boolean {
    return data.buffer === this.buf.buffer && data.byteOffset === this.buf.byteOffset + this.filled;
  }

  /** The bytes filled so far. */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.filled);
  }
}
