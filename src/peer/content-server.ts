// TCP content server: answers D requests with a C header and bytes streamed from disk, only for content this peer shares.
import { EventEmitter } from 'node:events';
import type { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import { isNonNegativeNumber, isPositiveNumber, isWholeNumberIn } from '../common/numbers';
import { formatHostPort } from '../protocol/address-text';
import { detailOrWords, ErrorCode, ErrorCodes, P2PError, toP2PError } from '../protocol/errors';
import { DownloadRequest } from '../protocol/messages';
import { isValidContentName } from '../protocol/names';
import { encodeContentHeader, encodeTcpError, tryDecodeDownloadRequest } from '../protocol/tcp';
import type { LogLevel } from './api';
import { openNoFollow, sameIdentity } from './file-hash';
import { TokenBucket } from './rate-limit';

export interface ServedFile {
  path: string;
  size: number;
  sha256: string; // lower-case hex
  /** Which file was hashed: the opened file must be this one, whatever the path leads to now. */
  dev: number;
  ino: number;
}

export interface ContentServerOptions {
  /** Only what this peer registered; the server never builds a path from a request. */
  lookup(contentName: string, sha256hex: string): ServedFile | undefined;
  /** A shared path no longer leads to the file that was hashed (refused, nothing sent): have it looked at. */
  onPathChanged?(contentName: string): void;
  /** Bytes per second per connection; 0 = unlimited. */
  uploadRateLimit?: number;
  /** Connections idle this long are closed; default 60 000 ms. */
  idleTimeoutMs?: number;
  /** Default 64; beyond it new connections get E BUSY and are closed. */
  maxConnections?: number;
  log?: (level: LogLevel, message: string) => void;
}

/** What the server emits as 'upload' once a D is finished with (its file handle already closed). */
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

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 64;
/** Two of these per active transfer: one being filled from disk while the other drains to the socket. */
const READ_BUFFER_BYTES = 512 * 1024;

export class ContentServer extends EventEmitter {
  private server: net.Server | undefined;
  private readonly connections = new Set<UploadConnection>();
  private readonly idleTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly rateLimit: number;
  readonly lookup: ContentServerOptions['lookup'];

  constructor(private readonly opts: ContentServerOptions) {
    super();
    if (typeof opts?.lookup !== 'function') throw new P2PError('BAD_SETTING', 'ContentServer needs a lookup function');
    this.lookup = opts.lookup;
    this.rateLimit = checkNonNegative(opts.uploadRateLimit ?? 0, 'uploadRateLimit');
    this.idleTimeoutMs = checkPositive(opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 'idleTimeoutMs');
    this.maxConnections = checkPositive(opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS, 'maxConnections');
  }

  /** Resolves the bound port. Without a host, binds '::' (dual-stack) and falls back to '0.0.0.0' where IPv6 is unavailable. */
  async listen(port: number, host?: string): Promise<number> {
    if (this.server) throw new P2PError('BAD_SETTING', 'the content server is already listening');
    if (!isWholeNumberIn(port, 0, 65535)) throw new P2PError('BAD_SETTING', `listen port must be 0..65535, got ${port}`);
    // Half-open allowed: a client may send its D and shut its side; it still gets the whole answer.
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    try {
      await bind(server, port, host ?? '::');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const noIPv6 = code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL' || code === 'EINVAL';
      if (host !== undefined || !noIPv6) throw listenError(err, host ?? '::', port);
      this.log('info', `IPv6 is unavailable (${code}); listening on IPv4 only`);
      try {
        await bind(server, port, '0.0.0.0');
      } catch (err2) {
        throw listenError(err2, '0.0.0.0', port);
      }
    }
    server.on('error', (err) => this.log('error', `content server: ${err.message}`));
    this.server = server;
    const addr = server.address() as net.AddressInfo;
    this.log('info', `content server listening on ${formatHostPort(addr.address, addr.port)}`);
    return addr.port;
  }

  get port(): number {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? addr.port : 0;
  }

  /** Connections open right now (uploading or idle between requests). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops listening and ends every connection; resolves once every socket and file handle is closed. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    const conns = [...this.connections];
    for (const c of conns) c.destroy();
    await Promise.all(conns.map((c) => c.finished));
    await closed;
    if (server) this.log('info', 'content server closed');
  }

  /** @internal used by connections */
  log(level: LogLevel, message: string): void {
    try {
      this.opts.log?.(level, message);
    } catch {
      // A failing logger must not take the server down.
    }
  }

  /** @internal used by connections */
  pathChanged(contentName: string): void {
    try {
      this.opts.onPathChanged?.(contentName);
    } catch (err) {
      this.log('error', `onPathChanged threw: ${(err as Error).message}`);
    }
  }

  /** @internal used by connections */
  report(record: UploadRecord): void {
    try {
      this.emit('upload', record);
    } catch (err) {
      this.log('error', `an 'upload' listener threw: ${(err as Error).message}`);
    }
  }

  private accept(socket: net.Socket): void {
    const remote = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.connections.size >= this.maxConnections) {
      this.log('warn', `refusing ${remote}: ${this.maxConnections} connections already open`);
      socket.on('error', () => undefined);
      socket.setTimeout(5_000, () => socket.destroy());
      socket.end(encodeTcpError(ErrorCodes.BUSY, `this peer already serves ${this.maxConnections} connections; try again later`));
      return;
    }
    const conn = new UploadConnection(this, socket, remote, this.idleTimeoutMs, this.rateLimit);
    this.connections.add(conn);
    void conn.finished.then(() => this.connections.delete(conn));
  }
}

/** One downloader's TCP connection: a sequence of D requests, each answered in turn. */
class UploadConnection {
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

  constructor(
    private readonly owner: ContentServer,
    private readonly socket: net.Socket,
    private readonly remote: string,
    private readonly idleTimeoutMs: number,
    rateLimit: number,
  ) {
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
    this.bucket = rateLimit > 0 ? new TokenBucket(rateLimit) : undefined;
    socket.setTimeout(idleTimeoutMs);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('timeout', () => this.onIdle());
    socket.on('end', () => {
      this.peerEnded = true;
      if (!this.serving) this.nextRequest();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Resets and broken pipes are how downloaders hang up; anything else is worth a warning.
      const routine = err.code === 'ECONNRESET' || err.code === 'EPIPE';
      this.owner.log(routine ? 'debug' : 'warn', `connection from ${this.remote}: ${err.message}`);
    });
    socket.on('close', () => {
      this.closed = true;
      this.abort.abort();
      void this.serveDone.then(() => this.markFinished());
    });
    this.owner.log('debug', `connection from ${this.remote}`);
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
      decoded = tryDecodeDownloadRequest(this.pending);
    } catch (err) {
      const e = toP2PError(err);
      this.refuse(e.code, `bad request: ${detailOrWords(e)}`, '?', 0);
      return;
    }
    if (!decoded) {
      if (this.peerEnded) this.refuse('MALFORMED', `the connection ended inside a D request (${this.pending.length} bytes)`, '?', 0);
      return;
    }
    // A copy, so a leftover tail never pins the socket's larger read buffer.
    this.pending = Buffer.from(this.pending.subarray(decoded.bytes));
    this.serving = true;
    // Hold further requests (and their bytes) until this one is answered: one D at a time.
    this.socket.pause();
    const req = decoded.msg;
    this.serveDone = this.serve(req).then(
      (keepOpen) => {
        this.serving = false;
        if (!keepOpen || this.closed) return;
        this.socket.resume();
        this.nextRequest();
      },
      (err) => {
        // serve() handles its own failures; reaching here is a bug, so say so and hang up.
        this.serving = false;
        this.owner.log('error', `serving ${this.remote}: ${(err as Error)?.stack ?? err}`);
        this.socket.destroy();
      },
    );
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
      this.owner.log('info', `connection from ${this.remote}: downloader stopped reading for ${this.idleTimeoutMs} ms; closing`);
      this.socket.destroy();
    } else if (this.pending.length > 0) {
      this.refuse('MALFORMED', `D request incomplete after ${this.idleTimeoutMs} ms (${this.pending.length} bytes)`, '?', 0);
    } else {
      this.owner.log('debug', `connection from ${this.remote}: idle for ${this.idleTimeoutMs} ms; closing`);
      this.endQuietly();
    }
  }

  /** Sends E and closes; the protocol ends the connection after every E. */
  private refuse(code: ErrorCode, message: string, contentName: string, length: number, level: LogLevel = 'info'): false {
    const err = new P2PError(code, message);
    this.owner.log(level, `refused ${this.remote}: ${err.message}`);
    if (!this.closed && !this.ending) {
      this.ending = true;
      this.socket.setTimeout(Math.min(this.idleTimeoutMs, 5_000));
      this.socket.end(encodeTcpError(ErrorCodes[code] ?? ErrorCodes.INTERNAL, message));
    }
    this.owner.report({ remote: this.remote, contentName, offset: 0, length, sent: 0, ok: false, error: err });
    return false;
  }

  /** Answers one D; resolves true when the connection may carry another request. */
  private async serve(req: DownloadRequest): Promise<boolean> {
    const name = req.contentName;
    const shown = JSON.stringify(name);
    const hash = req.sha256.toString('hex');
    if (!isValidContentName(name)) return this.refuse('NOT_SHARED', `${shown} is not a valid content name`, name, 0);

    let served: ServedFile | undefined;
    try {
      served = this.owner.lookup(name, hash);
    } catch (err) {
      this.owner.log('error', `lookup(${shown}) threw: ${(err as Error)?.stack ?? err}`);
      return this.refuse('INTERNAL', 'the peer could not look up its shares', name, 0, 'error');
    }
    if (!served || served.sha256.toLowerCase() !== hash) {
      return this.refuse('NOT_SHARED', `this peer does not share ${shown} with SHA-256 ${hash}`, name, 0);
    }

    let fh: fsp.FileHandle | undefined;
    const progress = { sent: 0 };
    let length = req.length;
    try {
      try {
        // Never through a link, and only the very file that was hashed: a path swapped to lead to a
        // private file must not send one byte of it, however well its size matches.
        let st;
        ({ fh, st } = await openNoFollow(served.path));
        if (!sameIdentity(st, served)) {
          this.owner.pathChanged(name);
          return this.refuse('NOT_SHARED', `${shown} is no longer the file that was shared`, name, 0, 'warn');
        }
        if (st.size !== served.size) {
          return this.refuse('NOT_SHARED', `${shown} changed since it was registered (now ${st.size} bytes, registered ${served.size})`, name, 0, 'warn');
        }
      } catch (err) {
        const e = toP2PError(err, `opening ${shown}`);
        // The local path and why stay in the log: the downloader is a stranger.
        this.owner.log('warn', `cannot serve ${shown}: ${e.message}`);
        this.owner.pathChanged(name);
        return this.refuse('NOT_SHARED', `${shown} can no longer be read`, name, 0, 'warn');
      }
      if (this.closed) return false;

      const size = served.size;
      if (req.offset > size || (req.length > 0 && req.offset + req.length > size)) {
        return this.refuse('BAD_RANGE', `range ${req.offset}+${req.length} is outside ${shown} (${size} bytes)`, name, req.length);
      }
      if (length === 0) length = size - req.offset;

      this.socket.write(encodeContentHeader({ size, offset: req.offset, length }));
      await this.stream(fh, req.offset, length, progress);
      this.owner.log('debug', `sent ${shown} ${req.offset}+${length} to ${this.remote}`);
      this.owner.report({ remote: this.remote, contentName: name, offset: req.offset, length, sent: progress.sent, ok: true });
      return true;
    } catch (err) {
      const e = toP2PError(err, `sending ${shown} to ${this.remote}`);
      const level: LogLevel = this.closed ? 'info' : 'warn';
      this.owner.log(level, `upload of ${shown} ${req.offset}+${length} to ${this.remote} stopped after ${progress.sent} bytes: ${e.message}`);
      // Mid-stream there is no way to signal an error but to hang up; the downloader sees SOURCE_GONE.
      this.socket.destroy();
      this.owner.report({ remote: this.remote, contentName: name, offset: req.offset, length, sent: progress.sent, ok: false, error: e });
      return false;
    } finally {
      await fh?.close().catch((err: Error) => this.owner.log('warn', `closing ${shown}: ${err.message}`));
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
    while (left > 0) {
      const buf = buffers[turn];
      await inFlight[turn];
      if (this.closed) throw new P2PError('SOURCE_GONE', 'the downloader closed the connection');
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), pos);
      if (bytesRead === 0) throw new P2PError('IO', `the file ended at ${pos}, ${left} bytes short: it was truncated while being sent`);
      if (bucket) await bucket.take(bytesRead, signal);
      if (this.closed) throw new P2PError('SOURCE_GONE', 'the downloader closed the connection');
      inFlight[turn] = this.write(buf.subarray(0, bytesRead));
      // Keep the promise from counting as unhandled while the other buffer is being filled.
      inFlight[turn].catch(() => undefined);
      pos += bytesRead;
      left -= bytesRead;
      progress.sent += bytesRead;
      turn ^= 1;
    }
    await Promise.all(inFlight);
  }

  /** Resolves once the socket has handed `chunk` to the kernel, so its buffer can be refilled. */
  private write(chunk: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new P2PError('SOURCE_GONE', 'the downloader closed the connection'));
      if (this.abort.signal.aborted) return onAbort();
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      this.socket.write(chunk, (err) => {
        this.abort.signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      });
    });
  }
}

function bind(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, exclusive: true });
  });
}

function listenError(err: unknown, host: string, port: number): P2PError {
  const e = err as NodeJS.ErrnoException;
  const where = `cannot listen on ${formatHostPort(host, port)}`;
  if (e?.code === 'EADDRINUSE') return new P2PError('ADDRESS_IN_USE', where, err);
  if (e?.code === 'EADDRNOTAVAIL') return new P2PError('BAD_SETTING', `${where}: no such local address`, err);
  const p = toP2PError(err, where);
  return p.code === 'UNKNOWN' ? new P2PError('IO', `${where}: ${e?.message ?? err}`, err) : p;
}

function checkNonNegative(v: number, what: string): number {
  if (!isNonNegativeNumber(v)) throw new P2PError('BAD_SETTING', `${what} must be a number >= 0, got ${v}`);
  return v;
}

function checkPositive(v: number, what: string): number {
  if (!isPositiveNumber(v)) throw new P2PError('BAD_SETTING', `${what} must be a number > 0, got ${v}`);
  return v;
}
