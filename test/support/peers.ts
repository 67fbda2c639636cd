// Test helpers for the TCP side: temp files of known SHA-256, a raw D/C client and scriptable raw sources.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { codeFromWire, ErrorCode } from '../../src/protocol/errors';
import { ContentHeader, DownloadRequest } from '../../src/protocol/messages';
import { encodeContentHeader, encodeDownloadRequest, tryDecodeContentResponse, tryDecodeDownloadRequest } from '../../src/protocol/tcp';
import { ContentServer, ContentServerOptions, ServedFile } from '../../src/peer/content-server';

export async function makeTempDir(tag: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `p2p-${tag}-`));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
}

export interface TestFile extends ServedFile {
  name: string;
}

/**
 * Writes `size` bytes of random-looking content and returns its SHA-256. Big files repeat one random
 * mebibyte with the block number stamped into each block, so every block differs (a chunk written at
 * the wrong offset changes the hash) without paying for hundreds of MiB of crypto randomness.
 */
export async function writeTestFile(dir: string, name: string, size: number): Promise<TestFile> {
  const file = path.join(dir, name);
  const block = randomBytes(Math.min(size, 1 << 20) || 1);
  const hash = createHash('sha256');
  const fh = await fsp.open(file, 'wx');
  try {
    for (let pos = 0, n = 0; pos < size; n++) {
      const len = Math.min(block.length, size - pos);
      const chunk = Buffer.from(block.subarray(0, len));
      if (len >= 8) chunk.writeDoubleBE(n, 0);
      hash.update(chunk);
      await fh.write(chunk, 0, len, pos);
      pos += len;
    }
  } finally {
    await fh.close();
  }
  return { name, path: file, size, sha256: hash.digest('hex'), ...(await identityOfFile(file)) };
}

export async function writeBytes(dir: string, name: string, bytes: Buffer): Promise<TestFile> {
  const file = path.join(dir, name);
  await fsp.writeFile(file, bytes, { flag: 'wx' });
  return { name, path: file, size: bytes.length, sha256: sha256Hex(bytes), ...(await identityOfFile(file)) };
}

/** Which file is at `file` now (dev and ino), as a ServedFile records it. */
export async function identityOfFile(file: string): Promise<{ dev: number; ino: number }> {
  const st = await fsp.stat(file);
  return { dev: st.dev, ino: st.ino };
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A ContentServer on 127.0.0.1 that serves exactly the given files, keyed by content name. */
export async function serveFiles(files: TestFile[], opts: Partial<ContentServerOptions> = {}, host = '127.0.0.1'): Promise<ContentServer> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const server = new ContentServer({
    lookup: (name, hash) => {
      const f = byName.get(name);
      return f && f.sha256 === hash ? { path: f.path, size: f.size, sha256: f.sha256, dev: f.dev, ino: f.ino } : undefined;
    },
    ...opts,
  });
  await server.listen(0, host);
  return server;
}

export type RawResponse =
  | { type: 'C'; header: ContentHeader; body: Buffer }
  | { type: 'E'; code: ErrorCode; wireCode: number; message: string };

/** Speaks D/C/E through the codec over one raw socket, the way a downloader would, but step by step. */
export class RawContentClient {
  private buf = Buffer.alloc(0);
  private ended = false;
  private error: Error | undefined;
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.notify();
    });
    socket.on('error', (e) => (this.error = e));
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.notify();
        resolve();
      }),
    );
  }

  /** `localAddress` (e.g. 127.0.0.2) makes the connection come from another address, for per-address limits. */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawContentClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, localAddress }, () => {
        s.off('error', reject);
        resolve(new RawContentClient(s));
      });
      s.once('error', reject);
    });
  }

  /** The same over TLS 1.3, as a downloader reaches a running Peer's content server (any key accepted: the test knows whom it dials). */
  static connectTls(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawContentClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ socket: net.connect({ port, host, localAddress }), rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
        s.off('error', reject);
        resolve(new RawContentClient(s));
      });
      s.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Bytes received and not yet consumed by readResponse(). */
  get buffered(): number {
    return this.buf.length;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async until(cond: () => boolean, what: string): Promise<void> {
    while (!cond()) {
      if (this.ended) throw new Error(`connection closed while waiting for ${what} (${this.buf.length} bytes buffered${this.error ? `, ${this.error.message}` : ''})`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  request(req: Omit<DownloadRequest, 'type' | 'sha256'> & { sha256: Buffer | string }): void {
    const sha256 = typeof req.sha256 === 'string' ? Buffer.from(req.sha256, 'hex') : req.sha256;
    this.send(encodeDownloadRequest({ type: 'D', contentName: req.contentName, sha256, offset: req.offset, length: req.length }));
  }

  /** Reads one whole response: an E, or a C header and all the bytes it announces. */
  async readResponse(): Promise<RawResponse> {
    let decoded: ReturnType<typeof tryDecodeContentResponse> = null;
    await this.until(() => (decoded = tryDecodeContentResponse(this.buf)) !== null, 'a C or E header');
    const d = decoded!;
    if (d.msg.type === 'E') {
      this.buf = this.buf.subarray(d.bytes);
      return { type: 'E', code: codeFromWire(d.msg.code), wireCode: d.msg.code, message: d.msg.message };
    }
    const header = d.msg;
    await this.until(() => this.buf.length >= d.bytes + header.length, `${header.length} content bytes`);
    const body = Buffer.from(this.buf.subarray(d.bytes, d.bytes + header.length));
    this.buf = this.buf.subarray(d.bytes + header.length);
    return { type: 'C', header, body };
  }

  /** Waits until at least `n` bytes (header included) have arrived; for hanging up mid-stream. */
  async waitForBytes(n: number): Promise<void> {
    await this.until(() => this.buf.length >= n, `${n} bytes`);
  }

  destroy(): void {
    this.socket.destroy();
  }

  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }
}

/** What a scripted source does with each D; it owns the socket from then on. */
export type RawSourceBehaviour = (req: DownloadRequest, socket: net.Socket, file: TestFile) => void | Promise<void>;

/** A test server listening on 127.0.0.1 that keeps its sockets, so close() can cut them and return at once. */
export class TrackedServer {
  private readonly sockets = new Set<net.Socket>();
  constructor(readonly server: net.Server) {}

  /** Keeps `socket` until it closes; its errors are what the test provokes, not a crash. */
  protected track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  protected listen(): Promise<void> {
    return new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A hand-made content source on 127.0.0.1 for failure cases a real ContentServer never produces:
 * it decodes D with the codec and lets `behave` answer, so a test can send wrong bytes, stop
 * mid-stream or stall.
 */
export class RawSource extends TrackedServer {
  requests: DownloadRequest[] = [];

  static async start(file: TestFile, behave: RawSourceBehaviour): Promise<RawSource> {
    const server = net.createServer();
    const src = new RawSource(server);
    server.on('connection', (socket) => {
      src.track(socket);
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const decoded = tryDecodeDownloadRequest(buf);
        if (!decoded) return;
        buf = buf.subarray(decoded.bytes);
        src.requests.push(decoded.msg);
        void Promise.resolve(behave(decoded.msg, socket, file)).catch(() => socket.destroy());
      };
      socket.on('data', onData);
    });
    await src.listen();
    return src;
  }
}

/** Reads [offset, offset+length) of a test file (length 0 = to the end), as a real source would. */
export async function readRange(file: TestFile, offset: number, length: number): Promise<Buffer> {
  const len = length === 0 ? file.size - offset : length;
  const fh = await fsp.open(file.path, 'r');
  try {
    const out = Buffer.alloc(len);
    await fh.read(out, 0, len, offset);
    return out;
  } finally {
    await fh.close();
  }
}

/** The C header a correct source would send for `req`. */
export function headerFor(req: DownloadRequest, size: number): Buffer {
  const length = req.length === 0 ? size - req.offset : req.length;
  return encodeContentHeader({ size, offset: req.offset, length });
}

/** Polls `cond` until it holds, for states that no event announces; fails after `ms`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function listDir(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).sort();
}
