// The disk side of a download: each source's queue of positional writes to the .part, and the SHA-256 taken in file order.
import { createHash, Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { P2PError } from '../../protocol/errors';
import { HASH_READ_BYTES } from '../file-hash';
import { fsError, readAt } from './fs-calls';

/** writev takes at most this many buffers (IOV_MAX is 1024 on Linux) and bytes in one call. */
const WRITEV_MAX_BUFFERS = 512;
const WRITEV_MAX_BYTES = 16 * 1024 * 1024;

/** Where a WriteQueue writes and whom it tells. */
export interface WriteTarget {
  /** The .part file's fd now; -1 once it is closed. */
  fd(): number;
  /** The buffers `bufs`, laid end to end from `a` up to `b`, reached the file. */
  written(a: number, b: number, bufs: Buffer[]): void;
  /** The file cannot take bytes. */
  failed(err: P2PError): void;
}

/** Serial positional writes for one worker, batching whatever queued up meanwhile into one writev. */
export class WriteQueue {
  private queue: { at: number; bufs: Buffer[]; bytes: number }[] = [];
  private writing = false;
  private inFlightBytes = 0;
  private queuedBytes = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly target: WriteTarget) {}

  get pendingBytes(): number {
    return this.queuedBytes + this.inFlightBytes;
  }

  push(buf: Buffer, at: number): void {
    const last = this.queue[this.queue.length - 1];
    if (last && last.at + last.bytes === at && last.bufs.length < WRITEV_MAX_BUFFERS && last.bytes + buf.length <= WRITEV_MAX_BYTES) {
      last.bufs.push(buf);
      last.bytes += buf.length;
    } else {
      this.queue.push({ at, bufs: [buf], bytes: buf.length });
    }
    this.queuedBytes += buf.length;
    this.pump();
  }

  drained(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private pump(): void {
    if (this.writing) return;
    const job = this.queue.shift();
    if (!job) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
      return;
    }
    this.writing = true;
    this.queuedBytes -= job.bytes;
    this.inFlightBytes = job.bytes;
    this.writeAll(job.bufs, job.at, job.bytes, (err) => {
      this.writing = false;
      this.inFlightBytes = 0;
      if (err) {
        // The file cannot take the bytes: nothing else can succeed either.
        this.queue = [];
        this.queuedBytes = 0;
        this.target.failed(fsError(err, 'writing the .part file'));
      } else {
        this.target.written(job.at, job.at + job.bytes, job.bufs);
      }
      this.pump();
    });
  }

  private writeAll(bufs: Buffer[], at: number, bytes: number, done: (err?: Error) => void): void {
    const fd = this.target.fd();
    if (fd < 0) return done(new P2PError('IO', 'the .part file is closed'));
    fs.writev(fd, bufs, at, (err, n) => {
      if (err) return done(err);
      if (n === bytes) return done();
      if (n === 0) return done(new P2PError('IO', 'the .part file accepted no bytes'));
      // A short write (rare, e.g. a nearly full disk): write the rest; an error, if any, surfaces there.
      const rest: Buffer[] = [];
      let skip = n;
      for (const b of bufs) {
        if (skip >= b.length) skip -= b.length;
        else {
          rest.push(skip > 0 ? b.subarray(skip) : b);
          skip = 0;
        }
      }
      this.writeAll(rest, at + n, bytes - n, done);
    });
  }
}

/** What the hasher reads of the run, and whom it tells. */
export interface HashInput {
  isStopped(): boolean;
  /** End of the contiguous bytes already on disk from `pos`. */
  writtenEnd(pos: number): number;
  /** Received bytes starting exactly at `pos` that are still on their way to the disk. */
  unwrittenAt(pos: number): Buffer | undefined;
  /** Reading the .part back failed. */
  failed(err: P2PError): void;
  /** A read-back round ended; the hash may have reached the end. */
  settled(): void;
}

/**
 * SHA-256 of the content in file order. Bytes arriving exactly at the hashed-up-to point are hashed
 * straight off the socket; anything else (other sources' chunks, resumed ranges) is taken, once the
 * in-order point reaches it, from memory while its write is pending or else read back from the .part.
 * So a single-source download never re-reads the file, and a resumed one stops re-reading as soon as
 * the hash has caught up with the stream.
 */
export class InOrderHasher {
  private readonly hash: Hash = createHash('sha256');
  private pos = 0;
  private busy: Promise<void> | undefined;
  private readBuf: Buffer | undefined;

  constructor(
    private readonly fd: number,
    private readonly input: HashInput,
  ) {}

  get position(): number {
    return this.pos;
  }

  /** Hashes `data` when it sits exactly at the in-order point; false when it must wait its turn. */
  feed(at: number, data: Buffer): boolean {
    if (this.busy || at !== this.pos) return false;
    this.hash.update(data);
    this.pos += data.length;
    return true;
  }

  /** Reads back whatever written bytes the in-order point has reached; one reader at a time. */
  catchUp(): void {
    if (this.busy || this.input.isStopped()) return;
    if (this.input.writtenEnd(this.pos) <= this.pos && !this.input.unwrittenAt(this.pos)) return;
    this.busy = this.readBack()
      .catch((err) => this.input.failed(fsError(err, 'reading back the .part file to hash it')))
      .finally(() => {
        this.busy = undefined;
        this.input.settled();
      });
  }

  private async readBack(): Promise<void> {
    this.readBuf ??= Buffer.allocUnsafe(HASH_READ_BYTES);
    const buf = this.readBuf;
    for (;;) {
      if (this.input.isStopped()) return;
      const pending = this.input.unwrittenAt(this.pos);
      if (pending) {
        this.hash.update(pending);
        this.pos += pending.length;
        continue;
      }
      const end = this.input.writtenEnd(this.pos);
      if (end <= this.pos) return;
      const want = Math.min(end - this.pos, buf.length);
      const n = await readAt(this.fd, buf, want, this.pos);
      if (n === 0) throw new P2PError('IO', `the .part file ends at ${this.pos}, before bytes recorded as received`);
      this.hash.update(buf.subarray(0, n));
      this.pos += n;
    }
  }

  async idle(): Promise<void> {
    while (this.busy) await this.busy;
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
