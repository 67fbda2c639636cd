// The blocks a download assembles from socket reads: one piece (at most) read or copied into a buffer of its own, held off the disk until it is checked.
import { P2PError } from '../../protocol/errors';
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
  /** The socket its room was last lent to (its next read may land there at any moment while it still holds that room). */
  lentTo: RoomReader | undefined;

  constructor(
    readonly start: number,
    /** The block's bytes: its length is the block's. */
    readonly buf: Buffer,
  ) {}

  get full(): boolean {
    return this.filled === this.buf.length;
  }

  /**
   * Takes what fits of `data`, sent through `reader`, in (copied, unless the socket read it into this
   * block's room already); returns how many bytes were taken. Refuses a writer other than the socket
   * the room is lent to, while that socket is open: its next read could land on top (see moveTo).
   */
  add(data: Buffer, from: Sender, reader: RoomReader | undefined): number {
    if (!this.writableBy(reader)) throw new P2PError('INTERNAL', 'a block whose room is lent to one source was written by another');
    const n = Math.min(data.length, this.buf.length - this.filled);
    if (!this.isRoom(data)) data.copy(this.buf, this.filled, 0, n);
    this.filled += n;
    this.senders.add(from);
    return n;
  }

  /** Whether bytes from `reader` may go in now: nobody else writes a room lent to a socket that may still read into it. */
  writableBy(reader: RoomReader | undefined): boolean {
    return this.lentTo === undefined || this.lentTo === reader || !this.lentTo.holdsRoomIn(this.buf);
  }

  /** The room after the bytes filled so far, at most `max` bytes, for `reader`'s next read. */
  lend(max: number, reader: RoomReader): Buffer {
    if (!this.writableBy(reader)) throw new P2PError('INTERNAL', 'a block\'s room was lent to two sources');
    this.lentTo = reader;
    return this.buf.subarray(this.filled, this.filled + Math.min(max, this.buf.length - this.filled));
  }

  /**
   * The same block in `buf`, a buffer of its own, for another source to go on with (endgame). This
   * one's buffer stays with the socket it was lent to and must never be reused, so that socket's next
   * read can change no byte that is checked or written.
   */
  moveTo(buf: Buffer): BlockInProgress<Sender> {
    const moved = new BlockInProgress<Sender>(this.start, buf.subarray(0, this.buf.length));
    this.bytes.copy(moved.buf);
    moved.filled = this.filled;
    for (const s of this.senders) moved.senders.add(s);
    return moved;
  }

  private isRoom(data: Buffer): boolean {
    return data.buffer === this.buf.buffer && data.byteOffset === this.buf.byteOffset + this.filled;
  }

  /** The bytes filled so far. */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.filled);
  }
}
