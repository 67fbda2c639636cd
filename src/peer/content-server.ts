// TCP content server: answers D requests with a C header and bytes streamed from disk, only for content this peer shares.
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { isNonNegativeNumber, isPositiveNumber, isWholeNumberIn } from '../common/numbers';
import { formatHostPort } from '../protocol/address-text';
import { ErrorCodes, P2PError, toP2PError } from '../protocol/errors';
import { encodeTcpError } from '../protocol/tcp';
import type { ActiveUpload, LogLevel } from './api';
import { sameIdentity } from './file-hash';
import { OpenFileCache } from './open-file-cache';
import { checkProgressRule, DEFAULT_PROGRESS_RULE, ProgressRule } from './progress-watch';
import { ConnectionRules, ServedFile, UploadConnection, UploadHooks, UploadRecord } from './upload-connection';
import { UploadLimits } from './upload-limits';
import { UploadWatch } from './upload-watch';

export type { ServedFile, UploadRecord };

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
  /** Connections one address (IPv6: one /64) may hold; beyond it E BUSY. Default 8. */
  maxConnectionsPerAddress?: number;
  /** A connection's first D, and any D once its first byte arrived, must be whole within this. Default 5 000 ms. */
  headerTimeoutMs?: number;
  /** D requests per second one address may make (a burst of as many); more wait their turn. Default 100. */
  requestsPerSecond?: number;
  /** A downloader taking less than this while our bytes wait for it is dropped. Default 1 KiB/s over 10 s. */
  minTransferRate?: ProgressRule;
  /** Key and certificate (PEM): every connection then speaks TLS 1.3 only. Without it, plain TCP. */
  tls?: { key: string; cert: string };
  log?: (level: LogLevel, message: string) => void;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 64;
/** Far more than one downloader opens to one source (it opens one), far fewer than the global cap. */
const DEFAULT_MAX_PER_ADDRESS = 8;
const DEFAULT_HEADER_TIMEOUT_MS = 5_000;
/** With 4 MiB chunks, 100 requests a second is 400 MiB/s to one address before any request waits. */
const DEFAULT_REQUESTS_PER_SECOND = 100;
/** Open shared files kept while no request uses them, and for how long. */
const CACHED_FILES = 32;
const CACHED_FILE_IDLE_MS = 30_000;

export class ContentServer extends EventEmitter {
  private server: net.Server | undefined;
  private readonly connections = new Set<UploadConnection>();
  private readonly maxConnections: number;
  private readonly rules: ConnectionRules;
  private readonly limits: UploadLimits;
  private readonly files: OpenFileCache;
  private readonly watch = new UploadWatch(() => this.announceUploads());
  private readonly secureContext: tls.SecureContext | undefined;
  readonly lookup: ContentServerOptions['lookup'];

  constructor(private readonly opts: ContentServerOptions) {
    super();
    if (typeof opts?.lookup !== 'function') throw new P2PError('BAD_SETTING', 'ContentServer needs a lookup function');
    this.lookup = opts.lookup;
    this.maxConnections = checkPositive(opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS, 'maxConnections');
    this.rules = {
      rateLimit: checkNonNegative(opts.uploadRateLimit ?? 0, 'uploadRateLimit'),
      idleTimeoutMs: checkPositive(opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 'idleTimeoutMs'),
      headerTimeoutMs: checkPositive(opts.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS, 'headerTimeoutMs'),
      progress: checkProgressRule(opts.minTransferRate ?? DEFAULT_PROGRESS_RULE, 'minTransferRate'),
    };
    this.limits = new UploadLimits({
      maxConnectionsPerAddress: checkPositive(opts.maxConnectionsPerAddress ?? DEFAULT_MAX_PER_ADDRESS, 'maxConnectionsPerAddress'),
      requestsPerSecond: checkPositive(opts.requestsPerSecond ?? DEFAULT_REQUESTS_PER_SECOND, 'requestsPerSecond'),
    });
    this.secureContext = opts.tls ? tls.createSecureContext({ ...opts.tls, minVersion: 'TLSv1.3' }) : undefined;
    this.files = new OpenFileCache({
      maxIdleFiles: CACHED_FILES,
      idleMs: CACHED_FILE_IDLE_MS,
      // A handle lives only while the share still names that very file under that key.
      stillShared: (key, record) => {
        const [name, hash] = key.split('\0');
        const served = this.lookup(name, hash);
        return served !== undefined && served.path === record.path && sameIdentity(served, record);
      },
      onCloseError: (err) => this.log('warn', `closing a shared file: ${err.message}`),
    });
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

  /** Shared files held open for the next request. */
  get openFileCount(): number {
    return this.files.size;
  }

  /** Who is being sent what right now: one entry per connection that has been answered, until it closes. */
  get uploads(): ActiveUpload[] {
    return this.watch.list();
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
    await this.files.close();
    this.watch.close();
    await closed;
    if (server) this.log('info', 'content server closed');
  }

  private log(level: LogLevel, message: string): void {
    try {
      this.opts.log?.(level, message);
    } catch {
      // A failing logger must not take the server down.
    }
  }

  /**
   * The caps count TCP connections as they arrive, before any handshake; the header deadline starts
   * with the connection, so a handshake never started or never finished is held to it like a slow D.
   */
  private secure(socket: net.Socket): net.Socket {
    if (!this.secureContext) return socket;
    const secured = new tls.TLSSocket(socket, { isServer: true, secureContext: this.secureContext });
    // Half-open as on plain TCP: a downloader that shut its side still gets its whole answer.
    secured.allowHalfOpen = true;
    // An E cannot be sent before the handshake ends, so a hello that never comes is cut off, not answered.
    const late = setTimeout(() => secured.destroy(), this.rules.headerTimeoutMs);
    const done = () => clearTimeout(late);
    secured.once('secure', done);
    secured.once('close', done);
    return secured;
  }

  private accept(raw: net.Socket): void {
    const socket = this.secure(raw);
    const remote = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.connections.size >= this.maxConnections) {
      this.log('warn', `refusing ${remote}: ${this.maxConnections} connections already open`);
      socket.on('error', () => undefined);
      socket.setTimeout(5_000, () => socket.destroy());
      socket.end(encodeTcpError(ErrorCodes.BUSY, `this peer already serves ${this.maxConnections} connections; try again later`));
      return;
    }
    const ip = socket.remoteAddress ?? '?';
    if (!this.limits.admit(ip)) {
      this.log('info', `refusing ${remote}: its address already holds its share of connections`);
      socket.on('error', () => undefined);
      socket.setTimeout(5_000, () => socket.destroy());
      socket.end(encodeTcpError(ErrorCodes.BUSY, 'this address already holds its share of connections to this peer; try again later'));
      return;
    }
    const id = {};
    const conn = new UploadConnection(this.hooksFor(ip, id), socket, remote, this.rules);
    this.connections.add(conn);
    void conn.finished.then(() => {
      this.connections.delete(conn);
      this.limits.release(ip);
      this.watch.end(id);
    });
  }

  private announceUploads(): void {
    try {
      this.emit('uploads-changed', this.watch.list());
    } catch (err) {
      this.log('error', `an 'uploads-changed' listener threw: ${(err as Error).message}`);
    }
  }

  /** What one connection (known to the upload list as `id`) may ask of the server, and nothing more. */
  private hooksFor(ip: string, id: object): UploadHooks {
    return {
      uploading: (contentName, size) => this.watch.begin(id, ip, contentName, size),
      sent: (bytes) => this.watch.sent(id, bytes),
      lookup: this.lookup,
      lend: (key, record) => this.files.lend(key, record),
      forget: (key) => this.files.drop(key),
      takeRequest: () => this.limits.takeRequest(ip),
      pathChanged: (name) => {
        try {
          this.opts.onPathChanged?.(name);
        } catch (err) {
          this.log('error', `onPathChanged threw: ${(err as Error).message}`);
        }
      },
      report: (record) => {
        try {
          this.emit('upload', record);
        } catch (err) {
          this.log('error', `an 'upload' listener threw: ${(err as Error).message}`);
        }
      },
      log: (level, message) => this.log(level, message),
    };
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
