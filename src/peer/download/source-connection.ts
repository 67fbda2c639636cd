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

/** Where a D's bytes go as they stream in. */
export interface DataSink {
  /**
   * Takes the bytes that belong at file offset `at`. They sit either in room lent by `room()` (read
   * there in place) or in the connection's scratch buffer, reused by the next read: keep a copy.
   */
  take(data: Buffer, at: number): void;
  /**
   * Room for the socket's next read of the bytes at `at` (at most `max`), or undefined for the scratch
   * buffer. Once lent, nobody but `reader` writes that room until `reader` has delivered its next read
   * or is closed: the socket may fill it at any moment.
   */
  room(at: number, max: number, reader: RoomReader): Buffer | undefined;
}

/** The connection a room is lent to, as a block sees it. */
export interface RoomReader {
  /** Whether this socket's next read may land inside `buf` (it is open and the room it holds lies there). */
  holdsRoomIn(buf: Buffer): boolean;
}

/** Reads with no lent room land here: C headers, piece replies, and bytes of a chunk another source shares. */
const SCRATCH_BYTES = 64 * 1024;

/**
 * Where a socket's reads land: given to the socket at connect time (`onread`), before the connection
 * that handles them exists. Bytes that arrive before then (nobody asked for any) are kept as a copy.
 */
class ReadTarget {
  readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  readonly early: Buffer[] = [];
  /** Node asks for the next read's buffer right after each callback (and once at the start). */
  next: () => Buffer = () => this.scratch;
  got: (data: Buffer) => void = (data) => this.early.push(Buffer.from(data));

  readonly onread = {
    buffer: (): Buffer => this.next(),
    callback: (n: number, buf: Uint8Array): boolean => {
      this.got(Buffer.from(buf.buffer, buf.byteOffset, n));
      return true;
    },
  };
}

/** A TCP connection to one content server: one D at a time, its C header checked, its bytes handed on as they stream. */
export class SourceConnection implements RoomReader {
  private header: Buffer = Buffer.alloc(0);
  private active:
    | { offset: number; length: number; received: number; seenHeader: boolean; sink: DataSink; resolve: () => void; reject: (e: unknown) => void; size: number }
    | undefined;
  /** A P waiting for its reply (piece hashes); D and P never run at once. */
  private asking: { buf: Buffer; resolve: (r: PieceReply) => void; reject: (e: unknown) => void } | undefined;
  private closed = false;
  private closeReason: unknown;
  /** The lent room the socket's next read lands in; undefined while it reads into the scratch buffer. */
  private room: Buffer | undefined;
  /** The length the last finished D announced, while no other runs: bytes past it are the source's overrun. */
  private finishedLength: number | undefined;
  private paused = false;
  /** The stall timer restarts on every byte, so a source dripping one byte at a time needs this too. */
  private readonly watch: ProgressWatch;

  private constructor(
    private readonly socket: net.Socket,
    private readonly reads: ReadTarget,
    private readonly source: DownloadSource,
    private readonly stallTimeoutMs: number,
    progress: ProgressRule,
  ) {
    this.watch = new ProgressWatch(progress, (moved, windowMs) => {
      if ((this.active && !this.paused) || this.asking) {
        this.fail(new P2PError('STALLED', `${this.who} sent ${moved} bytes in ${windowMs} ms, below the minimum of ${progress.minBytesPerSecond} bytes a second`));
      }
    });
    socket.setNoDelay(true);
    reads.next = () => this.nextReadBuffer();
    reads.got = (data) => this.onData(data);
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
      const reads = new ReadTarget();
      const dial = dialSource(source, where, reads.onread);
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
        const conn = new SourceConnection(socket, reads, source, stallTimeoutMs, progress);
        resolve(conn);
        for (const early of reads.early.splice(0)) conn.onData(early);
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

  holdsRoomIn(buf: Buffer): boolean {
    const r = this.room;
    return !this.closed && r !== undefined && r.buffer === buf.buffer && r.byteOffset >= buf.byteOffset && r.byteOffset < buf.byteOffset + buf.length;
  }

  /** Why it closed, when the source broke the protocol (then it is not dialled again for this download). */
  get protocolBreach(): P2PError | undefined {
    const r = this.closeReason;
    return r instanceof P2PError && r.code === 'PROTOCOL' ? r : undefined;
  }

  request(sha256: Buffer, contentName: string, size: number, offset: number, length: number, sink: DataSink): Promise<void> {
    if (this.closed) return Promise.reject(this.closeReason ?? new P2PError('SOURCE_GONE', `${this.who} closed the connection`));
    if (this.active) return Promise.reject(new P2PError('INTERNAL', 'a request is already running on this connection'));
    return new Promise<void>((resolve, reject) => {
      this.active = { offset, length, received: 0, seenHeader: false, sink, resolve, reject, size };
      this.finishedLength = undefined;
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
      // A reply dripped a byte at a time restarts the idle timer forever, and the download waits on it.
      this.watch.start();
      this.socket.write(encodePieceRequest({ contentName, sha256, first }));
    });
  }

  private onAnswer(d: Buffer): void {
    const q = this.asking!;
    q.buf = Buffer.concat([q.buf, d]);
    this.watch.add(d.length);
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
    this.watch.stop();
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

  /**
   * While a D streams its bytes, the socket reads straight into the block they belong in (no Buffer
   * per read, no copy); the header, piece replies and anything unlent go through the scratch buffer.
   */
  private nextReadBuffer(): Buffer {
    this.room = undefined;
    const a = this.active;
    if (a && a.seenHeader && !this.closed && !this.asking) {
      const want = a.length - a.received;
      try {
        const room = want > 0 ? a.sink.room(a.offset + a.received, want, this) : undefined;
        if (room && room.length > 0) return (this.room = room);
      } catch (err) {
        this.fail(toP2PError(err));
      }
    }
    return this.reads.scratch;
  }

  private onData(d: Buffer): void {
    if (this.asking) return this.onAnswer(d);
    const a = this.active;
    if (!a) {
      const past = this.finishedLength;
      // A D's reads stop at the length it announced, so bytes beyond it arrive here, after it finished.
      const what = past === undefined ? 'nobody asked for' : `more than the ${past} it announced`;
      this.fail(new P2PError('PROTOCOL', `${this.who} sent ${d.length} bytes ${what}`));
      return;
    }
    let data: Buffer = d;
    if (!a.seenHeader) {
      this.header = Buffer.concat([this.header, d]);
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
    try {
      a.sink.take(data, at);
    } catch (err) {
      // A broken rule of ours must not take the process down from inside a socket callback.
      this.fail(toP2PError(err));
      return;
    }
    if (a.received === a.length && this.active === a) {
      this.active = undefined;
      this.finishedLength = a.length;
      this.socket.setTimeout(0);
      this.watch.stop();
      a.resolve();
    }
  }
}

