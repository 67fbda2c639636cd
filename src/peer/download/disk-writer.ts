// The disk side of a download: each source's queue of positional writes to the .part, batched into writev.
import * as fs from 'node:fs';
import { P2PError } from '../../protocol/errors';
import { fsError } from './fs-calls';

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
