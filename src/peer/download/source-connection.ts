// The D/C client: one TCP connection to a content server, one D at a time, its C header checked and its bytes streamed on.
import type * as net from 'node:net';
import { formatHostPort } from '../../protocol/address-text';
import { codeFromWire, P2PError, toP2PError } from '../../protocol/errors';
import type { PieceReply } from '../../protocol/messages';
import { encodeDownloadRequest, encodePieceRequest, tryDecodeContentResponse, tryDecodePieceReply } from '../../protocol/tcp';
import { ProgressRule, ProgressWatch } from '../progress-watch';
import { dialSource } from './pinned-connect';

/** One peer serving the content. */
export interface DownloadSource {
  peerName: string;
  host: string;
  port: number;
  /** SHA-256 of the source's TLS key (its pin claim): such a source is reached over TLS only. */
  pin?: Buffer;
  /** The pieceRoot this source claimed at the index; absent for classic and older peers. */
  pieceRoot?: Buffer;
}

/** Receives each run of bytes as it streams in, with the file offset of its first byte. */
export type DataSink = (data: Buffer, at: number) => void;

/** A TCP connection to one content server: one D at a time, its C header checked, its bytes handed on as they stream. */
export class SourceConnection {
  private header: Buffer = Buffer.alloc(0);
  private active:
    | { offset: number; length: number; received: number; seenHeader: boolean; sink: DataSink; resolve: () => void; reject: (e: unknown) => void; size: number }
    | undefined;
  /** A P waiting for its reply (piece hashes); D and P never run at once. */
  private asking: { buf: Buffer; resolve: (r: PieceReply) => void; reject: (e: unknown) => void } | undefined;
  private closed = false;
  private closeReason: unknown;
  private paused = false;
  /** The stall timer restarts on every byte, so a source dripping one byte at a time needs this too. */
  private readonly watch: ProgressWatch;

  private constructor(
    private readonly socket: net.Socket,
    private readonly source: DownloadSource,
    private readonly stallTimeoutMs: number,
    progress: ProgressRule,
  ) {
    this.watch = new ProgressWatch(progress, (moved, windowMs) => {
      if (this.active && !this.paused) {
        this.fail(new P2PError('STALLED', `${this.who} sent ${moved} bytes in ${windowMs} ms, below the minimum of ${progress.minBytesPerSecond} bytes a second`));
      }
    });
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('timeout', () => {
      if ((this.active && !this.paused) || this.asking) this.fail(new P2PError('STALLED', `${this.who}: nothing arrived for ${this.stallTimeoutMs} ms`));
    });
    socket.on('error', (err) => this.fail(this.socketError(err)));
    socket.on('close', () => {
      const a = this.active;
      this.fail(
        // How far into a range is the engine's business; the user hears how much of the file arrived.
        new P2PError('SOURCE_GONE', a ? `${this.who} closed the connection in the middle of a transfer` : `${this.who} closed the connection`),
      );
    });
  }

  private get who(): string {
    return `peer "${this.source.peerName}" at ${formatHostPort(this.source.host, this.source.port)}`;
  }

  static connect(source: DownloadSource, connectTimeoutMs: number, stallTimeoutMs: number, progress: ProgressRule, signal: AbortSignal): Promise<SourceConnection> {
    const where = `peer "${source.peerName}" at ${formatHostPort(source.host, source.port)}`;
    return new Promise((resolve, reject) => {
      if (!Number.isInteger(source.port) || source.port < 1 || source.port > 65535) {
        reject(new P2PError('UNREACHABLE', `${where}: bad port ${source.port}`));
        return;
      }
      if (signal.aborted) {
        reject(new P2PError('CANCELLED'));
        return;
      }
      const dial = dialSource(source, where);
      const socket = dial.socket;
      const settle = (err?: P2PError) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off(dial.ready, onConnect);
        if (err) {
          socket.on('error', () => undefined);
          socket.destroy();
          reject(err);
        }
      };
      const onAbort = () => settle(new P2PError('CANCELLED'));
      const onError = (err: Error) => {
        const e = toP2PError(err, `connecting to ${where}`);
        settle(e.code === 'UNKNOWN' ? new P2PError('UNREACHABLE', `connecting to ${where}: ${err.message}`, err) : e);
      };
      const onConnect = () => {
        // A key other than the pinned one: dropped before a single D is written.
        const refused = dial.verify();
        if (refused) return settle(refused);
        settle();
        resolve(new SourceConnection(socket, source, stallTimeoutMs, progress));
      };
      const timer = setTimeout(() => settle(new P2PError('UNREACHABLE', `${where} did not accept a connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('error', onError);
      socket.on(dial.ready, onConnect);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  request(sha256: Buffer, contentName: string, size: number, offset: number, length: number, sink: DataSink): Promise<void> {
    if (this.closed) return Promise.reject(this.closeReason ?? new P2PError('SOURCE_GONE', `${this.who} closed the connection`));
    if (this.active) return Promise.reject(new P2PError('INTERNAL', 'a request is already running on this connection'));
    return new Promise<void>((resolve, reject) => {
      this.active = { offset, length, received: 0, seenHeader: false, sink, resolve, reject, size };
      this.header = Buffer.alloc(0);
      if (!this.paused) {
        this.socket.setTimeout(this.stallTimeoutMs);
        this.watch.start();
      }
      this.socket.write(encodeDownloadRequest({ type: 'D', contentName, sha256, offset, length }));
    });
  }

  /** One page of the source's piece leaves from leaf `first` (docs/protocol.md, "Pieces"). */
  askLeaves(sha256: Buffer, contentName: string, first: number): Promise<PieceReply> {
    if (this.closed) return Promise.reject(this.closeReason ?? new P2PError('SOURCE_GONE', `${this.who} closed the connection`));
    if (this.active || this.asking) return Promise.reject(new P2PError('INTERNAL', 'a request is already running on this connection'));
    return new Promise<PieceReply>((resolve, reject) => {
      this.asking = { buf: Buffer.alloc(0), resolve, reject };
      this.socket.setTimeout(this.stallTimeoutMs);
      this.socket.write(encodePieceRequest({ contentName, sha256, first }));
    });
  }

  private onAnswer(d: Buffer): void {
    const q = this.asking!;
    q.buf = q.buf.length === 0 ? d : Buffer.concat([q.buf, d]);
    let decoded;
    try {
      decoded = tryDecodePieceReply(q.buf);
    } catch (err) {
      this.fail(new P2PError('PROTOCOL', `${this.who} sent a bad piece hash reply: ${(err as Error).message}`, err));
      return;
    }
    if (!decoded) return;
    if (decoded.bytes !== q.buf.length) return this.fail(new P2PError('PROTOCOL', `${this.who} sent bytes after its piece hash reply`));
    const msg = decoded.msg;
    if (msg.type === 'E') return this.fail(new P2PError(codeFromWire(msg.code), `${this.who}: ${msg.message}`));
    this.asking = undefined;
    this.socket.setTimeout(0);
    q.resolve(msg);
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
    this.socket.setTimeout(0);
    // Time we spend not reading is ours, not the source's.
    this.watch.stop();
  }

  resume(): void {
    this.paused = false;
    if (this.active) {
      this.socket.setTimeout(this.stallTimeoutMs);
      this.watch.start();
    }
    this.socket.resume();
  }

  destroy(reason: unknown): void {
    if (this.closed) return;
    this.fail(reason);
  }

  private fail(reason: unknown): void {
    this.watch.stop();
    if (!this.closed) {
      this.closed = true;
      this.closeReason = reason;
      this.socket.destroy();
    }
    const a = this.active;
    this.active = undefined;
    a?.reject(reason);
    const q = this.asking;
    this.asking = undefined;
    q?.reject(reason);
  }

  private socketError(err: Error): P2PError {
    const e = toP2PError(err, this.who);
    return e.code === 'UNKNOWN' ? new P2PError('SOURCE_GONE', `${this.who}: ${err.message}`, err) : e;
  }

  private onData(d: Buffer): void {
    if (this.asking) return this.onAnswer(d);
    const a = this.active;
    if (!a) {
      this.fail(new P2PError('PROTOCOL', `${this.who} sent ${d.length} bytes nobody asked for`));
      return;
    }
    let data: Buffer = d;
    if (!a.seenHeader) {
      this.header = this.header.length === 0 ? d : Buffer.concat([this.header, d]);
      let decoded;
      try {
        decoded = tryDecodeContentResponse(this.header);
      } catch (err) {
        this.fail(new P2PError('PROTOCOL', `${this.who} sent a bad reply: ${(err as Error).message}`, err));
        return;
      }
      if (!decoded) return;
      const msg = decoded.msg;
      if (msg.type === 'E') {
        this.fail(new P2PError(codeFromWire(msg.code), `${this.who}: ${msg.message}`));
        return;
      }
      if (msg.size !== a.size || msg.offset !== a.offset || msg.length !== a.length) {
        this.fail(
          new P2PError('PROTOCOL', `${this.who} answered ${msg.offset}+${msg.length} of ${msg.size} bytes to a request for ${a.offset}+${a.length} of ${a.size}`),
        );
        return;
      }
      a.seenHeader = true;
      data = this.header.subarray(decoded.bytes);
      this.header = Buffer.alloc(0);
    }
    if (data.length === 0) return;
    const want = a.length - a.received;
    if (data.length > want) {
      this.fail(new P2PError('PROTOCOL', `${this.who} sent ${data.length - want} bytes more than the ${a.length} it announced`));
      return;
    }
    const at = a.offset + a.received;
    a.received += data.length;
    this.watch.add(data.length);
    a.sink(data, at);
    if (a.received === a.length && this.active === a) {
      this.active = undefined;
      this.socket.setTimeout(0);
      this.watch.stop();
      a.resolve();
    }
  }
}

