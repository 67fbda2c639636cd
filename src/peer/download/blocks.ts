// The blocks a download assembles from socket reads: one piece (at most) copied into a buffer of its own, held off the disk until it is checked.
import { PIECE_BYTES } from '../../protocol/pieces';

/** Spare block buffers kept for reuse; more would only hold memory the run no longer needs. */
const POOL_MAX = 16;

/**
 * Buffers of one piece each, every one with an ArrayBuffer of its own (never a slice of Node's shared
 * pool), so a block can be handed to the hashing thread and back without a copy.
 */
export class BlockPool {
  private readonly free: Buffer[] = [];

  /** A buffer of `bytes` (at most one piece). */
  take(bytes: number): Buffer {
    const whole = this.free.pop() ?? Buffer.allocUnsafeSlow(PIECE_BYTES);
    return whole.subarray(0, bytes);
  }

  /** Gives back a buffer that came from take() and is no longer used. */
  give(buf: Buffer): void {
    if (buf.buffer.byteLength === PIECE_BYTES && this.free.length < POOL_MAX) this.free.push(Buffer.from(buf.buffer as ArrayBuffer, 0, PIECE_BYTES));
  }
}

/** The block a chunk is filling, in order, possibly from more than one source (endgame, a source lost mid-piece). */
export class BlockInProgress<Sender> {
  filled = 0;
  readonly senders = new Set<Sender>();

  constructor(
    readonly start: number,
    /** The block's bytes: its length is the block's. */
    readonly buf: Buffer,
  ) {}

  get full(): boolean {
    return this.filled === this.buf.length;
  }

  /** Copies what fits of `data` in; returns how many bytes were taken. */
  add(data: Buffer, from: Sender): number {
    const n = Math.min(data.length, this.buf.length - this.filled);
    data.copy(this.buf, this.filled, 0, n);
    this.filled += n;
    this.senders.add(from);
    return n;
  }

  /** The bytes filled so far. */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.filled);
  }
}
