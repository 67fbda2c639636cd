// One downloader's TCP connection to the content server: its D requests answered one at a time, within deadlines and budgets.
import type { promises as fsp } from 'node:fs';
import type * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { detailOrWords, ErrorCode, ErrorCodes, P2PError, toP2PError } from '../protocol/errors';
import { DownloadRequest, HASH_BYTES, PieceRequest } from '../protocol/messages';
import { MAX_LEAVES_PER_REPLY } from '../protocol/pieces';
import { isValidContentName } from '../protocol/names';
import { encodeContentHeader, encodePieceReply, encodeTcpError, tryDecodeUploadRequest } from '../protocol/tcp';
import type { LogLevel } from './api';
import { sameIdentity } from './file-hash';
import type { FileRecord, LentFile } from './open-file-cache';
import { ProgressRule, ProgressWatch } from './progress-watch';
import { TokenBucket } from './rate-limit';

/** A file this peer serves, as its share records it. */
export interface ServedFile {
  path: string;
  size: number;
  sha256: string; // lower-case hex
  /** Which file was hashed: the opened file must be this one, whatever the path leads to now. */
  dev: number;
  ino: number;
  /** Piece leaves (32 bytes each) answered to a P; absent: P gets NOT_SHARED. */
  leaves?: Buffer;
}

/** What the server emits as 'upload' once a D is finished with (its file handle already given back). */
export interface UploadRecord {
  remote: string;
  contentName: string;
  offset: number;
  /** Bytes the request asked for (resolved: a D with length 0 means to the end). 0 when refused before a range was known. */
  length: number;
  /** Content bytes handed to the socket. */
  sent: number;
  ok: boolean;
  error?: P2PError;
}

/** The limits one connection keeps. */
export interface ConnectionRules {
  idleTimeoutMs: number;
  headerTimeoutMs: number;
  rateLimit: number;
  progress: ProgressRule;
}

/** A connection's narrow line back to the server that accepted it. */
export interface UploadHooks {
  lookup(contentName: string, sha256hex: string): ServedFile | undefined;
  /** A handle on the very file of `record`, cached per key and re-validated on each call. */
  lend(key: string, record: FileRecord): Promise<LentFile>;
  /** The cached handle of `key` is of a file no longer shared as it was. */
  forget(key: string): void;
  /** Counts one request of this connection's address; ms it must wait first. */
  takeRequest(): number;
  pathChanged(contentName: string): void;
  /** This connection is being sent `contentName` now. */
  uploading(contentName: string, size: number): void;
  /** `bytes` of it reached the socket. */
  sent(bytes: number): void;
  report(record: UploadRecord): void;
  log(level: LogLevel, message: string): void;
}

/** Two of these per active transfer: one being filled from disk while the other drains to the socket. */
const READ_BUFFER_BYTES = 512 * 1024;

/** One downloader's TCP connection: a sequence of D requests, each answered in turn. */
export class UploadConnection {
  /** Bytes of a D request that have arrived but not been decoded yet. */
  private pending: Buffer = Buffer.alloc(0);
  private serving = false;
  private closed = false;
  /** The downloader has sent FIN: answer what it asked for, then end our side too. */
  private peerEnded = false;
  /** We have sent E or FIN and wait only for the socket to close. */
  private ending = false;
  private readonly abort = new AbortController();
  readonly finished: Promise<void>;
  private markFinished!: () => void;
  private serveDone: Promise<void> = Promise.resolve();
  /** One per connection, not per request, so keep-alive requests cannot each start with a fresh burst. */
  private readonly bucket: TokenBucket | undefined;
  private readonly idleTimeoutMs: number;
  /** Runs from a connection's start, or a request's first byte, until the whole D has arrived. */
  private headerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly hooks: UploadHooks,
    private readonly socket: net.Socket,
    private readonly remote: string,
    private readonly rules: ConnectionRules,
  ) {
    this.idleTimeoutMs = rules.idleTimeoutMs;
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
    this.bucket = rules.rateLimit > 0 ? new TokenBucket(rules.rateLimit) : undefined;
    socket.setTimeout(this.idleTimeoutMs);
    // A stranger gets a few seconds, not the idle timeout, to say what it wants.
    this.armHeaderDeadline();
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('timeout', () => this.onIdle());
    socket.on('end', () => {
      this.peerEnded = true;
      if (!this.serving) this.nextRequest();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Resets and broken pipes are how downloaders hang up; anything else is worth a warning.
      const routine = err.code === 'ECONNRESET' || err.code === 'EPIPE';
      this.hooks.log(routine ? 'debug' : 'warn', `connection from ${this.remote}: ${err.message}`);
    });
    socket.on('close', () => {
      this.closed = true;
      this.clearHeaderDeadline();
      this.abort.abort();
      void this.serveDone.then(() => this.markFinished());
    });
    this.hooks.log('debug', `connection from ${this.remote}`);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.pending = this.pending.length === 0 ? d : Buffer.concat([this.pending, d]);
    if (!this.serving) this.nextRequest();
  }

  private nextRequest(): void {
    if (this.closed || this.ending) return;
    if (this.pending.length === 0) {
      if (this.peerEnded) this.endQuietly();
      return;
    }
    let decoded;
    try {
      decoded = tryDecodeUploadRequest(this.pending);
    } catch (err) {
      const e = toP2PError(err);
      this.refuse(e.code, `bad request: ${detailOrWords(e)}`, '?', 0);
      return;
    }
    if (!decoded) {
      this.armHeaderDeadline();
      if (this.peerEnded) this.refuse('MALFORMED', `the connection ended inside a D request (${this.pending.length} bytes)`, '?', 0);
      return;
    }
    this.clearHeaderDeadline();
    // A copy, so a leftover tail never pins the socket's larger read buffer.
    this.pending = Buffer.from(this.pending.subarray(decoded.bytes));
    this.serving = true;
    // Hold further requests (and their bytes) until this one is answered: one D at a time.
    this.socket.pause();
    const req = decoded.msg;
    // Requests are counted per address, so a flood of tiny D's waits its turn instead of costing a file access each.
    const wait = this.hooks.takeRequest();
    this.serveDone = this.waitTurn(wait, req).then(
      (keepOpen) => {
        this.serving = false;
        if (!keepOpen || this.closed) return;
        this.socket.resume();
        this.nextRequest();
      },
      (err) => {
        // serve() handles its own failures; reaching here is a bug, so say so and hang up.
        this.serving = false;
        this.hooks.log('error', `serving ${this.remote}: ${(err as Error)?.stack ?? err}`);
        this.socket.destroy();
      },
    );
  }

  private async waitTurn(ms: number, req: DownloadRequest | PieceRequest): Promise<boolean> {
    if (ms > 0) {
      try {
        await sleep(ms, undefined, { signal: this.abort.signal });
      } catch {
        return false;
      }
    }
    if (this.closed) return false;
    return this.serve(req);
  }

  private armHeaderDeadline(): void {
    if (this.headerTimer || this.closed) return;
    this.headerTimer = setTimeout(() => this.onHeaderLate(), this.rules.headerTimeoutMs);
  }

  private clearHeaderDeadline(): void {
    if (this.headerTimer) clearTimeout(this.headerTimer);
    this.headerTimer = undefined;
  }

  private onHeaderLate(): void {
    this.headerTimer = undefined;
    if (this.closed || this.ending || this.serving) return;
    const ms = this.rules.headerTimeoutMs;
    const what = this.pending.length > 0 ? `D request incomplete after ${ms} ms (${this.pending.length} bytes)` : `no D request within ${ms} ms`;
    this.refuse('MALFORMED', what, '?', 0);
  }

  private endQuietly(): void {
    this.ending = true;
    this.socket.setTimeout(Math.min(this.idleTimeoutMs, 5_000));
    this.socket.end();
  }

  private onIdle(): void {
    if (this.ending) {
      // Our E or FIN was not taken up in time; stop waiting for the other side.
      this.socket.destroy();
    } else if (this.serving) {
      // Waiting on our own rate limit or disk is not the downloader's fault; bytes stuck in our
      // send queue for the whole timeout are: it stopped reading.
      if (this.socket.writableLength === 0) return;
      this.hooks.log('info', `connection from ${this.remote}: downloader stopped reading for ${this.idleTimeoutMs} ms; closing`);
      this.socket.destroy();
    } else if (this.pending.length > 0) {
      this.refuse('MALFORMED', `D request incomplete after ${this.idleTimeoutMs} ms (${this.pending.length} bytes)`, '?', 0);
    } else {
      this.hooks.log('debug', `connection from ${this.remote}: idle for ${this.idleTimeoutMs} ms; closing`);
      this.endQuietly();
    }
  }

  /** Sends E and closes; the protocol ends the connection after every E. */
  private refuse(code: ErrorCode, message: string, contentName: string, length: number, level: LogLevel = 'info'): false {
    const err = new P2PError(code, message);
    this.hooks.log(level, `refused ${this.remote}: ${err.message}`);
    if (!this.closed && !this.ending) {
      this.ending = true;
      this.socket.setTimeout(Math.min(this.idleTimeoutMs, 5_000));
      this.socket.end(encodeTcpError(ErrorCodes[code] ?? ErrorCodes.INTERNAL, message));
    }
    this.hooks.report({ remote: this.remote, contentName, offset: 0, length, sent: 0, ok: false, error: err });
    return false;
  }

  /** One page of the share's piece leaves, from memory: nothing is read from disk for a P. */
  private answerPieces(req: PieceRequest, served: ServedFile): boolean {
    const name = req.contentName;
    const leaves = served.leaves;
    if (!leaves) return this.refuse('NOT_SHARED', `this peer has no piece hashes for ${JSON.stringify(name)}`, name, 0);
    const total = leaves.length / HASH_BYTES;
    if (req.first >= total) return this.refuse('BAD_RANGE', `leaf ${req.first} is past the ${total} of ${JSON.stringify(name)}`, name, 0);
    const count = Math.min(MAX_LEAVES_PER_REPLY, total - req.first);
    this.socket.write(encodePieceReply({ total, first: req.first, leaves: leaves.subarray(req.first * HASH_BYTES, (req.first + count) * HASH_BYTES) }));
    this.hooks.log('debug', `sent ${count} piece hashes of ${JSON.stringify(name)} to ${this.remote}`);
    return true;
  }

  /** Answers one D or P; resolves true when the connection may carry another request. */
  private async serve(req: DownloadRequest | PieceRequest): Promise<boolean> {
    const name = req.contentName;
    const shown = JSON.stringify(name);
    const hash = req.sha256.toString('hex');
    if (!isValidContentName(name)) return this.refuse('NOT_SHARED', `${shown} is not a valid content name`, name, 0);

    let served: ServedFile | undefined;
    try {
      served = this.hooks.lookup(name, hash);
    } catch (err) {
      this.hooks.log('error', `lookup(${shown}) threw: ${(err as Error)?.stack ?? err}`);
      return this.refuse('INTERNAL', 'the peer could not look up its shares', name, 0, 'error');
    }
    const key = `${name}\0${hash}`;
    if (!served || served.sha256.toLowerCase() !== hash) {
      // A share removed or re-hashed lets go of its open file at once, not at the next sweep.
      this.hooks.forget(key);
      return this.refuse('NOT_SHARED', `this peer does not share ${shown} with SHA-256 ${hash}`, name, 0);
    }
    if (req.type === 'P') return this.answerPieces(req, served);

    let lent: LentFile | undefined;
    const progress = { sent: 0 };
    let length = req.length;
    try {
      try {
        // Never through a link, and only the very file that was hashed: a path swapped to lead to a
        // private file must not send one byte of it, however well its size matches. A cached handle
        // is checked against the share's record on every request, and its size and links re-read.
        lent = await this.hooks.lend(key, served);
        const st = lent.st;
        if (!sameIdentity(st, served)) {
          this.hooks.forget(key);
          this.hooks.pathChanged(name);
          return this.refuse('NOT_SHARED', `${shown} is no longer the file that was shared`, name, 0, 'warn');
        }
        if (st.nlink === 0) throw new P2PError('FILE_NOT_FOUND', `${shown} was deleted`);
        if (st.size !== served.size) {
          this.hooks.forget(key);
          return this.refuse('NOT_SHARED', `${shown} changed since it was registered (now ${st.size} bytes, registered ${served.size})`, name, 0, 'warn');
        }
      } catch (err) {
        const e = toP2PError(err, `opening ${shown}`);
        this.hooks.forget(key);
        // The local path and why stay in the log: the downloader is a stranger.
        this.hooks.log('warn', `cannot serve ${shown}: ${e.message}`);
        this.hooks.pathChanged(name);
        return this.refuse('NOT_SHARED', `${shown} can no longer be read`, name, 0, 'warn');
      }
      if (this.closed) return false;

      const size = served.size;
      if (req.offset > size || (req.length > 0 && req.offset + req.length > size)) {
        return this.refuse('BAD_RANGE', `range ${req.offset}+${req.length} is outside ${shown} (${size} bytes)`, name, req.length);
      }
      if (length === 0) length = size - req.offset;

      this.socket.write(encodeContentHeader({ size, offset: req.offset, length }));
      this.hooks.uploading(name, size);
      await this.stream(lent.fh, req.offset, length, progress);
      this.hooks.log('debug', `sent ${shown} ${req.offset}+${length} to ${this.remote}`);
      this.hooks.report({ remote: this.remote, contentName: name, offset: req.offset, length, sent: progress.sent, ok: true });
      return true;
    } catch (err) {
      const e = toP2PError(err, `sending ${shown} to ${this.remote}`);
      const level: LogLevel = this.closed ? 'info' : 'warn';
      this.hooks.log(level, `upload of ${shown} ${req.offset}+${length} to ${this.remote} stopped after ${progress.sent} bytes: ${e.message}`);
      // Mid-stream there is no way to signal an error but to hang up; the downloader sees SOURCE_GONE.
      this.socket.destroy();
      this.hooks.report({ remote: this.remote, contentName: name, offset: req.offset, length, sent: progress.sent, ok: false, error: e });
      return false;
    } finally {
      lent?.release();
    }
  }

  /**
   * Streams [offset, offset+length) from the file with two reused buffers: a buffer is refilled only
   * after the socket has taken all of its bytes, so memory stays flat whatever the file size.
   */
  private async stream(fh: fsp.FileHandle, offset: number, length: number, progress: { sent: number }): Promise<void> {
    const bucket = this.bucket;
    const step = Math.min(READ_BUFFER_BYTES, bucket?.stepBytes ?? READ_BUFFER_BYTES);
    const buffers = [Buffer.allocUnsafe(Math.min(step, length || 1)), Buffer.allocUnsafe(Math.min(step, length || 1))];
    const inFlight: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    const signal = this.abort.signal;
    let pos = offset;
    let left = length;
    let turn = 0;
    const watch = this.watchDownloader();
    watch.start();
    try {
      while (left > 0) {
        const buf = buffers[turn];
        await inFlight[turn];
        if (this.closed) throw new P2PError('SOURCE_GONE', 'the downloader closed the connection');
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), pos);
        if (bytesRead === 0) throw new P2PError('IO', `the file ended at ${pos}, ${left} bytes short: it was truncated while being sent`);
        if (bucket) await bucket.take(bytesRead, signal);
        if (this.closed) throw new P2PError('SOURCE_GONE', 'the downloader closed the connection');
        inFlight[turn] = this.write(buf.subarray(0, bytesRead), watch);
        // Keep the promise from counting as unhandled while the other buffer is being filled.
        inFlight[turn].catch(() => undefined);
        pos += bytesRead;
        left -= bytesRead;
        progress.sent += bytesRead;
        turn ^= 1;
      }
      await Promise.all(inFlight);
    } finally {
      watch.stop();
    }
  }

  /**
   * A downloader that reads a byte now and then keeps the idle timer young forever; this drops one
   * that takes less than the minimum rate while our bytes wait in its queue. A window spent waiting
   * on our own disk or rate limit (nothing queued for it) is not its fault and starts afresh.
   */
  private watchDownloader(): ProgressWatch {
    const rule = this.rules.progress;
    const watch: ProgressWatch = new ProgressWatch(rule, (moved, windowMs) => {
      if (this.closed) return;
      if (this.socket.writableLength === 0) return watch.start();
      this.hooks.log('info', `connection from ${this.remote}: downloader took ${moved} bytes in ${windowMs} ms, below ${rule.minBytesPerSecond} B/s; closing`);
      this.socket.destroy();
    });
    return watch;
  }

  /** Resolves once the socket has handed `chunk` to the kernel, so its buffer can be refilled. */
  private write(chunk: Buffer, watch: ProgressWatch): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new P2PError('SOURCE_GONE', 'the downloader closed the connection'));
      if (this.abort.signal.aborted) return onAbort();
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      this.socket.write(chunk, (err) => {
        this.abort.signal.removeEventListener('abort', onAbort);
        if (err) return reject(err);
        watch.add(chunk.length);
        this.hooks.sent(chunk.length);
        resolve();
      });
    });
  }
}

