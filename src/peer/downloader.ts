// Downloader: fetches one content from all its sources at once into a resumable .part file, checks the SHA-256 and places it without clobbering.
import { createHash, Hash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { codeFromWire, P2PError, toP2PError } from '../protocol/errors';
import { MAX_NAME_BYTES } from '../protocol/messages';
import { validateContentName } from '../protocol/names';
import { encodeDownloadRequest, tryDecodeContentResponse } from '../protocol/tcp';
import type { DownloadProgress, LogLevel } from './api';

export interface DownloadSource {
  peerName: string;
  host: string;
  port: number;
}

export interface DownloadJob {
  /** Saved under this base name only (validated with validateContentName). */
  contentName: string;
  /** Hex SHA-256 of the whole content. */
  sha256: string;
  size: number;
  /** Every live source with this same hash and size. */
  sources: DownloadSource[];
  /** Save folder; created when missing. */
  folder: string;
  /** Abort -> P2PError CANCELLED; the .part stays for a later resume. */
  signal?: AbortSignal;
  /** About four calls a second while bytes move, plus a final one. */
  onProgress?: (p: DownloadProgress) => void;
}

export interface DownloaderOptions {
  /** A source that sends nothing for this long is dropped with STALLED. Default 15 000 ms. */
  stallTimeoutMs?: number;
  /** Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** Size of the ranges handed to sources, one D each. Default 4 MiB. */
  chunkBytes?: number;
  log?: (level: LogLevel, message: string) => void;
}

export interface FetchResult {
  /** Absolute path of the finished file. */
  path: string;
  /** Peer names that sent bytes that were kept. */
  sources: string[];
  /** Bytes that were already in the .part file from an earlier attempt. */
  resumedFrom: number;
  /** True when an identical file was already there and nothing was written. */
  reused: boolean;
}

const DEFAULT_STALL_MS = 15_000;
const DEFAULT_CONNECT_MS = 5_000;
const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
const PROGRESS_EVERY_MS = 250;
const SIDECAR_EVERY_MS = 250;
/** A source whose queued disk writes exceed this stops reading its socket until they drain. */
const WRITE_HIGH_WATER = 8 * 1024 * 1024;
const WRITE_LOW_WATER = 2 * 1024 * 1024;
/** writev takes at most this many buffers (IOV_MAX is 1024 on Linux) and bytes in one call. */
const WRITEV_MAX_BUFFERS = 512;
const WRITEV_MAX_BYTES = 16 * 1024 * 1024;
const HASH_READ_BYTES = 1024 * 1024;
/** Largest single request to a source that has the whole download to itself. */
const SOLO_REQUEST_BYTES = 64 * 1024 * 1024;
/** Endgame: duplicate another source's chunk only when it has this much left and looks this slow. */
const ENDGAME_MIN_BYTES = 64 * 1024;
const ENDGAME_AFTER_MS = 250;
const ENDGAME_SLOW_MS = 500;
/** The content-name part of .part file names is cut to this many bytes so every helper name fits NAME_MAX. */
const PART_NAME_BYTES = 200;
const MAX_NAME_CANDIDATES = 1000;
const SIDECAR_VERSION = 1;

/** .part files being written by this process, so two fetches of one content never share one. */
const activeParts = new Set<string>();

export class Downloader {
  private readonly stallTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly chunkBytes: number;

  constructor(private readonly opts: DownloaderOptions = {}) {
    this.stallTimeoutMs = positive(opts.stallTimeoutMs ?? DEFAULT_STALL_MS, 'stallTimeoutMs');
    this.connectTimeoutMs = positive(opts.connectTimeoutMs ?? DEFAULT_CONNECT_MS, 'connectTimeoutMs');
    this.chunkBytes = Math.max(1, Math.floor(positive(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, 'chunkBytes')));
  }

  async fetch(job: DownloadJob): Promise<FetchResult> {
    const name = validateContentName(job?.contentName);
    if (typeof job.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(job.sha256)) {
      throw new P2PError('BAD_SETTING', `sha256 must be 64 hex digits, got ${JSON.stringify(job.sha256)}`);
    }
    if (!Number.isSafeInteger(job.size) || job.size < 0) throw new P2PError('BAD_SETTING', `size must be a whole number >= 0, got ${job.size}`);
    if (typeof job.folder !== 'string' || job.folder === '') throw new P2PError('BAD_SETTING', 'a download needs a folder');
    if (!Array.isArray(job.sources)) throw new P2PError('BAD_SETTING', 'sources must be a list');
    throwIfAborted(job.signal);

    const folder = path.resolve(job.folder);
    // Refuses, before anything touches the disk, a name that would land outside the folder.
    insideFolder(folder, name);
    const sha256 = job.sha256.toLowerCase();
    const log = (level: LogLevel, message: string) => {
      try {
        this.opts.log?.(level, message);
      } catch {
        // A failing logger must not fail the download.
      }
    };

    try {
      await fsp.mkdir(folder, { recursive: true });
    } catch (err) {
      throw fsError(err, `creating the download folder ${folder}`);
    }

    const partPath = path.join(folder, partFileName(name, sha256));
    const reusable = await findIdentical(folder, name, job.size, sha256, job.signal);
    if (reusable) {
      log('info', `${name}: ${reusable} already holds this content; nothing to download`);
      // A leftover .part of this content is of no more use, unless another fetch is writing it.
      if (!activeParts.has(partPath)) {
        await removeQuietly(partPath);
        await removeQuietly(`${partPath}.json`);
      }
      emitProgress(job, log, { contentName: name, received: job.size, total: job.size, bytesPerSecond: 0, sources: 0 });
      return { path: reusable, sources: [], resumedFrom: 0, reused: true };
    }

    if (activeParts.has(partPath)) throw new P2PError('BUSY', `${name} is already being downloaded into ${folder}`);
    activeParts.add(partPath);
    try {
      const run = new DownloadRun(job, name, sha256, folder, partPath, {
        stallTimeoutMs: this.stallTimeoutMs,
        connectTimeoutMs: this.connectTimeoutMs,
        chunkBytes: this.chunkBytes,
        log,
      });
      return await run.execute();
    } finally {
      activeParts.delete(partPath);
    }
  }
}

interface RunSettings {
  stallTimeoutMs: number;
  connectTimeoutMs: number;
  chunkBytes: number;
  log: (level: LogLevel, message: string) => void;
}

/** One slice of the content handed out as one D. `frontier` is where the next new byte goes. */
interface Chunk {
  start: number;
  end: number;
  frontier: number;
  workers: Set<SourceWorker>;
}

/** One fetch() from preparing the .part file to placing the result. */
class DownloadRun {
  private fd = -1;
  private written = new RangeSet();
  /** Bytes taken from sockets whose disk write has not completed yet, by offset; the hasher may take them from here. */
  private readonly unwritten = new Map<number, Buffer>();
  private resumedFrom = 0;
  private received = 0;
  /** In file order; chunks before `head` are all filled, so searches start there. */
  private chunks: Chunk[] = [];
  private head = 0;
  private workers: SourceWorker[] = [];
  private hasher!: InOrderHasher;
  private sidecar!: SidecarWriter;
  private stopped = false;
  private fatal: P2PError | undefined;
  private finish!: { resolve: () => void; reject: (e: P2PError) => void };
  private readonly outcome: Promise<void>;
  private wakers: (() => void)[] = [];
  private rateSamples: { t: number; bytes: number }[] = [];
  private bytesPerSecond = 0;
  private progressTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.stop(new P2PError('CANCELLED', `download of ${this.name} cancelled`));
  /** Aborted when the run stops, so connection attempts in progress give up at once. */
  private readonly stopController = new AbortController();
  readonly sha256Bytes: Buffer;

  constructor(
    private readonly job: DownloadJob,
    private readonly name: string,
    private readonly sha256: string,
    private readonly folder: string,
    private readonly partPath: string,
    readonly settings: RunSettings,
  ) {
    this.sha256Bytes = Buffer.from(sha256, 'hex');
    this.outcome = new Promise<void>((resolve, reject) => (this.finish = { resolve, reject }));
    // Rejections are read in execute(); this keeps an early one from being reported as unhandled.
    this.outcome.catch(() => undefined);
  }

  get size(): number {
    return this.job.size;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get stopSignal(): AbortSignal {
    return this.stopController.signal;
  }

  log(level: LogLevel, message: string): void {
    this.settings.log(level, message);
  }

  async execute(): Promise<FetchResult> {
    const sidecarPath = `${this.partPath}.json`;
    await this.openPart(sidecarPath);
    this.sidecar = new SidecarWriter(sidecarPath, { contentName: this.name, sha256: this.sha256, size: this.size }, () => this.written.toJSON(), this);
    this.hasher = new InOrderHasher(this.fd, this);
    this.job.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.job.signal?.aborted) this.onAbort();

    let outcome: P2PError | undefined;
    try {
      this.planChunks();
      this.startWorkers();
      this.progressTimer = setInterval(() => this.tick(), PROGRESS_EVERY_MS);
      this.hasher.catchUp();
      this.checkDone();
      await this.outcome;
    } catch (err) {
      outcome = toP2PError(err);
    }

    // Whatever happened, nothing may still be writing to or reading from the .part file.
    this.stopped = true;
    this.stopController.abort();
    this.wake();
    for (const w of this.workers) w.destroyConnection();
    await Promise.all(this.workers.map((w) => w.finished));
    await this.hasher.idle();
    clearInterval(this.progressTimer);
    this.job.signal?.removeEventListener('abort', this.onAbort);
    this.emitProgress(true);

    const sources = this.workers.filter((w) => w.keptBytes > 0).map((w) => w.source.peerName);
    if (!outcome) {
      const digest = this.hasher.digest();
      if (digest !== this.sha256) {
        outcome = new P2PError('HASH_MISMATCH', `${this.name}: got ${digest}, expected ${this.sha256} (bytes from ${sources.join(', ') || 'no peer'})`);
      }
    }

    if (outcome && outcome.code !== 'HASH_MISMATCH') {
      // Keep what arrived: a retry of the same content resumes from here.
      await this.sidecar.close(true);
      await this.closeFd();
      this.log('info', `${this.name}: stopped (${outcome.message}); ${this.written.total()} of ${this.size} bytes kept in ${this.partPath}`);
      throw outcome;
    }
    // On success the sidecar is final too: should placing the file fail, a retry only re-checks the hash.
    await this.sidecar.close(!outcome);
    await this.closeFd();
    if (outcome) {
      await removeQuietly(this.partPath);
      await removeQuietly(sidecarPath);
      this.log('warn', outcome.message);
      throw outcome;
    }

    const finalPath = await placeNoClobber(this.partPath, this.folder, this.name);
    await removeQuietly(this.partPath);
    await removeQuietly(sidecarPath);
    this.log('info', `${this.name}: saved ${this.size} bytes to ${finalPath} from ${sources.join(', ') || 'the .part file'}`);
    return { path: finalPath, sources, resumedFrom: this.resumedFrom, reused: false };
  }

  /** Opens the .part for resume when its sidecar matches, else creates it afresh (never reusing a stranger's file). */
  private async openPart(sidecarPath: string): Promise<void> {
    const resumed = await readSidecar(sidecarPath, this.sha256, this.size);
    if (resumed) {
      try {
        const st = await fsp.lstat(this.partPath);
        // Only a plain file of our own: a second hard link would mean writing into someone else's file.
        if (st.isFile() && st.nlink === 1) {
          this.fd = await openFd(this.partPath, fs.constants.O_RDWR | (fs.constants.O_NOFOLLOW ?? 0));
          // Claims beyond what the file holds cannot be true (a crash before the data reached the disk).
          for (const [a, b] of resumed) if (a < st.size) this.written.add(a, Math.min(b, st.size));
          this.resumedFrom = this.written.total();
          this.received = this.resumedFrom;
          if (this.size > 0 && st.size > this.size) await ftruncate(this.fd, this.size);
          this.log('info', `${this.name}: resuming with ${this.resumedFrom} of ${this.size} bytes already in ${this.partPath}`);
          return;
        }
      } catch (err) {
        if (this.fd >= 0) await this.closeFd();
        this.log('warn', `${this.name}: cannot resume from ${this.partPath} (${(err as Error).message}); starting afresh`);
      }
    }
    this.written = new RangeSet();
    await removeQuietly(sidecarPath);
    try {
      await fsp.unlink(this.partPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, `removing a stale ${this.partPath}`);
    }
    try {
      // Read-write: the hasher reads back chunks that arrived out of order.
      this.fd = await openFd(this.partPath, 'wx+');
    } catch (err) {
      throw fsError(err, `creating ${this.partPath}`);
    }
  }

  private async closeFd(): Promise<void> {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    await new Promise<void>((resolve) =>
      fs.close(fd, (err) => {
        if (err) this.log('warn', `closing ${this.partPath}: ${err.message}`);
        resolve();
      }),
    );
  }

  private planChunks(): void {
    for (const [a, b] of this.written.gaps(this.size)) {
      for (let s = a; s < b; s += this.settings.chunkBytes) {
        const e = Math.min(b, s + this.settings.chunkBytes);
        this.chunks.push({ start: s, end: e, frontier: s, workers: new Set() });
      }
    }
  }

  private startWorkers(): void {
    if (this.chunks.length === 0) return;
    const seen = new Set<string>();
    for (const source of this.job.sources) {
      const key = `${source.host}|${source.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.workers.push(new SourceWorker(source, this));
    }
    if (this.workers.length === 0) {
      this.stop(new P2PError('NO_SOURCES', `no peer was given as a source for ${this.name}`));
      return;
    }
    for (const w of this.workers) w.start();
  }

  get partFd(): number {
    return this.fd;
  }

  get contentName(): string {
    return this.name;
  }

  /** End of the contiguous bytes already on disk from `pos`. */
  writtenEnd(pos: number): number {
    return this.written.endFrom(pos);
  }

  /** Received bytes starting exactly at `pos` that are still on their way to the disk. */
  unwrittenAt(pos: number): Buffer | undefined {
    return this.unwritten.get(pos);
  }

  /** Hands an idle worker its next range: the lowest unclaimed chunk, or a share of a slow one near the end. */
  async nextTask(worker: SourceWorker): Promise<Chunk | undefined> {
    for (;;) {
      if (this.stopped) return undefined;
      const open = this.openChunks();
      if (open.length === 0) return undefined;
      const free = open.find((c) => c.workers.size === 0);
      if (free) {
        if (this.workers.filter((w) => !w.exited).length === 1) this.coalesce(free);
        free.workers.add(worker);
        return free;
      }
      const now = performance.now();
      let best: Chunk | undefined;
      let bestEta = ENDGAME_SLOW_MS;
      for (const c of open) {
        if (c.workers.size !== 1 || c.workers.has(worker) || c.end - c.frontier < ENDGAME_MIN_BYTES) continue;
        const owner = [...c.workers][0];
        if (now - owner.taskStartedAt < ENDGAME_AFTER_MS) continue;
        const rate = owner.bytesPerSecond;
        const eta = rate > 0 ? ((c.end - c.frontier) / rate) * 1000 : Infinity;
        if (eta > bestEta) {
          best = c;
          bestEta = eta;
        }
      }
      if (best) {
        this.log('debug', `${this.name}: ${worker.source.peerName} also fetches ${best.frontier}..${best.end} (endgame)`);
        best.workers.add(worker);
        return best;
      }
      await this.waitForChange(PROGRESS_EVERY_MS);
    }
  }

  /**
   * Chunks still missing bytes. Claimed chunks sit before free ones (both are handed out in file
   * order), so in practice this scans little more than one chunk per source.
   */
  private openChunks(): Chunk[] {
    while (this.head < this.chunks.length && this.chunks[this.head].frontier === this.chunks[this.head].end) this.head++;
    const out: Chunk[] = [];
    let skipped = 0;
    for (let i = this.head; i < this.chunks.length; i++) {
      const c = this.chunks[i];
      if (c.frontier === c.end) {
        skipped++;
        continue;
      }
      out.push(c);
      if (c.workers.size === 0) break;
    }
    // Filled chunks behind a slow one would be rescanned on every call; drop them now and then.
    if (skipped > 64) {
      this.chunks = this.chunks.filter((c) => c.frontier < c.end);
      this.head = 0;
    }
    return out;
  }

  /**
   * The last source standing has nobody to share with: fewer, larger requests save a round trip and
   * a file open on the source per chunk. Merges the free chunks that directly follow `chunk`.
   */
  private coalesce(chunk: Chunk): void {
    const i = this.chunks.indexOf(chunk);
    let j = i + 1;
    while (j < this.chunks.length && chunk.end - chunk.start < SOLO_REQUEST_BYTES) {
      const next = this.chunks[j];
      if (next.start !== chunk.end || next.workers.size > 0 || next.frontier !== next.start) break;
      chunk.end = next.end;
      j++;
    }
    this.chunks.splice(i + 1, j - i - 1);
  }

  /** Resolves on the next change of chunk ownership, or after `ms` to look again at rates. */
  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.push(done);
    });
  }

  wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  /**
   * Takes bytes `data` that belong at `at` from a worker's stream. Only bytes past the chunk's
   * frontier are new; so every offset is written exactly once, and the in-order hash always sees
   * the very bytes that end up in the file even when two sources race for one chunk.
   */
  accept(worker: SourceWorker, chunk: Chunk, data: Buffer, at: number): void {
    if (this.stopped) return;
    const end = Math.min(at + data.length, chunk.end);
    const from = Math.max(at, chunk.frontier);
    if (from >= end) return;
    const slice = data.subarray(from - at, end - at);
    chunk.frontier = end;
    worker.keptBytes += slice.length;
    this.received += slice.length;
    if (!this.hasher.feed(from, slice)) this.unwritten.set(from, slice);
    worker.queueWrite(slice, from);
    if (chunk.frontier === chunk.end) {
      for (const other of chunk.workers) if (other !== worker) other.supersede();
      this.wake();
    }
  }

  /** Called when the buffers `bufs`, laid end to end from `a`, reached the file. */
  onWritten(a: number, b: number, bufs: Buffer[]): void {
    this.written.add(a, b);
    for (let at = a, i = 0; i < bufs.length; at += bufs[i].length, i++) this.unwritten.delete(at);
    this.sidecar.schedule();
    this.hasher.catchUp();
    this.checkDone();
  }

  releaseChunk(worker: SourceWorker, chunk: Chunk): void {
    chunk.workers.delete(worker);
    if (chunk.frontier < chunk.end) this.wake();
  }

  /** A worker stopped for good; when it was the last and bytes are still missing, the download fails. */
  onWorkerExit(): void {
    if (this.stopped) return;
    if (this.workers.some((w) => !w.exited)) return;
    if (this.openChunks().length === 0) return;
    const failed = this.workers.filter((w) => w.failure);
    if (failed.length === 1 && this.workers.length === 1) {
      this.stop(failed[0].failure!);
      return;
    }
    const reasons = failed.map((w) => `${w.source.peerName}: ${w.failure!.message}`).join('; ');
    this.stop(new P2PError('NO_SOURCES', `${this.name}: every source failed (${reasons})`));
  }

  checkDone(): void {
    if (this.stopped || this.fatal) return;
    if (this.hasher.position === this.size && this.written.covers(0, this.size)) {
      this.stopped = true;
      this.finish.resolve();
    }
  }

  /** Ends the run with `err` (the first one wins); workers see `isStopped` and hang up. */
  stop(err: P2PError): void {
    if (this.stopped) return;
    this.stopped = true;
    this.fatal = err;
    this.stopController.abort();
    for (const w of this.workers) w.destroyConnection();
    this.wake();
    this.finish.reject(err);
  }

  private tick(): void {
    for (const w of this.workers) w.sampleRate();
    this.emitProgress(false);
  }

  private emitProgress(final: boolean): void {
    const now = performance.now();
    const bytes = this.received - this.resumedFrom;
    this.rateSamples.push({ t: now, bytes });
    // Smoothed over about a second: the oldest sample kept is at most ~1 s old.
    while (this.rateSamples.length > 2 && now - this.rateSamples[1].t >= 1000) this.rateSamples.shift();
    const first = this.rateSamples[0];
    if (now - first.t > 0) this.bytesPerSecond = ((bytes - first.bytes) * 1000) / (now - first.t);
    if (!this.job.onProgress) return;
    emitProgress(this.job, this.settings.log, {
      contentName: this.name,
      received: this.received,
      total: this.size,
      bytesPerSecond: Math.max(0, Math.round(this.bytesPerSecond)),
      // The last event says how many sources the file came from; the others, how many send right now.
      sources: this.workers.filter((w) => (final ? w.keptBytes > 0 : w.receiving)).length,
    });
  }
}

/** One source's TCP connection and the loop that fetches chunk after chunk from it. */
class SourceWorker {
  keptBytes = 0;
  receiving = false;
  exited = false;
  failure: P2PError | undefined;
  taskStartedAt = 0;
  bytesPerSecond = 0;
  private conn: SourceConnection | undefined;
  private sampleAt = performance.now();
  private sampleBytes = 0;
  private writes: WriteQueue;
  private pausedForDisk = false;
  finished!: Promise<void>;

  constructor(
    readonly source: DownloadSource,
    private readonly run: DownloadRun,
  ) {
    this.writes = new WriteQueue(run, this);
  }

  start(): void {
    this.finished = this.loop();
  }

  private async loop(): Promise<void> {
    const label = `${this.source.peerName} (${formatAddress(this.source.host, this.source.port)})`;
    try {
      for (;;) {
        const chunk = await this.run.nextTask(this);
        if (!chunk) break;
        try {
          await this.fetchChunk(chunk);
        } catch (err) {
          if (err === SUPERSEDED) continue;
          throw err;
        } finally {
          this.receiving = false;
          this.run.releaseChunk(this, chunk);
        }
      }
    } catch (err) {
      const e = toP2PError(err);
      if (!this.run.isStopped) {
        this.failure = e;
        this.run.log('warn', `download source ${label} dropped: ${e.message}`);
      }
    } finally {
      this.destroyConnection();
      // Bytes already taken from the socket still go to the file, so they count for resume.
      await this.writes.drained();
      this.exited = true;
      this.run.onWorkerExit();
    }
  }

  private async fetchChunk(chunk: Chunk): Promise<void> {
    if (!this.conn || this.conn.isClosed) {
      this.conn = await SourceConnection.connect(this.source, this.run.settings.connectTimeoutMs, this.run.settings.stallTimeoutMs, this.run.stopSignal);
    }
    if (this.run.isStopped) throw new P2PError('CANCELLED');
    const from = chunk.frontier;
    if (from >= chunk.end) return;
    this.taskStartedAt = performance.now();
    this.receiving = true;
    if (this.pausedForDisk) this.conn.pause();
    await this.conn.request(this.run.sha256Bytes, this.run.contentName, this.run.size, from, chunk.end - from, (data, at) =>
      this.run.accept(this, chunk, data, at),
    );
  }

  /** Another source finished this worker's chunk first: its rest is of no use. */
  supersede(): void {
    this.conn?.destroy(SUPERSEDED);
  }

  destroyConnection(): void {
    this.conn?.destroy(new P2PError('CANCELLED'));
  }

  queueWrite(buf: Buffer, at: number): void {
    this.writes.push(buf, at);
    if (!this.pausedForDisk && this.writes.pendingBytes > WRITE_HIGH_WATER) {
      this.pausedForDisk = true;
      this.conn?.pause();
    }
  }

  onWritesBelowLowWater(): void {
    if (this.pausedForDisk && this.writes.pendingBytes <= WRITE_LOW_WATER) {
      this.pausedForDisk = false;
      this.conn?.resume();
    }
  }

  sampleRate(): void {
    const now = performance.now();
    const dt = now - this.sampleAt;
    if (dt <= 0) return;
    const inst = ((this.keptBytes - this.sampleBytes) * 1000) / dt;
    this.bytesPerSecond = this.bytesPerSecond === 0 ? inst : 0.5 * this.bytesPerSecond + 0.5 * inst;
    this.sampleAt = now;
    this.sampleBytes = this.keptBytes;
  }
}

/** Serial positional writes for one worker, batching whatever queued up meanwhile into one writev. */
class WriteQueue {
  private queue: { at: number; bufs: Buffer[]; bytes: number }[] = [];
  private writing = false;
  private inFlightBytes = 0;
  private queuedBytes = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly run: DownloadRun,
    private readonly worker: SourceWorker,
  ) {}

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
        this.run.stop(fsError(err, 'writing the .part file'));
      } else {
        this.run.onWritten(job.at, job.at + job.bytes, job.bufs);
        this.worker.onWritesBelowLowWater();
      }
      this.pump();
    });
  }

  private writeAll(bufs: Buffer[], at: number, bytes: number, done: (err?: Error) => void): void {
    const fd = this.run.partFd;
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

/**
 * SHA-256 of the content in file order. Bytes arriving exactly at the hashed-up-to point are hashed
 * straight off the socket; anything else (other sources' chunks, resumed ranges) is taken, once the
 * in-order point reaches it, from memory while its write is pending or else read back from the .part.
 * So a single-source download never re-reads the file, and a resumed one stops re-reading as soon as
 * the hash has caught up with the stream.
 */
class InOrderHasher {
  private readonly hash: Hash = createHash('sha256');
  private pos = 0;
  private busy: Promise<void> | undefined;
  private readBuf: Buffer | undefined;

  constructor(
    private readonly fd: number,
    private readonly run: DownloadRun,
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
    if (this.busy || this.run.isStopped) return;
    if (this.run.writtenEnd(this.pos) <= this.pos && !this.run.unwrittenAt(this.pos)) return;
    this.busy = this.readBack()
      .catch((err) => this.run.stop(fsError(err, 'reading back the .part file to hash it')))
      .finally(() => {
        this.busy = undefined;
        this.run.checkDone();
      });
  }

  private async readBack(): Promise<void> {
    this.readBuf ??= Buffer.allocUnsafe(HASH_READ_BYTES);
    const buf = this.readBuf;
    for (;;) {
      if (this.run.isStopped) return;
      const pending = this.run.unwrittenAt(this.pos);
      if (pending) {
        this.hash.update(pending);
        this.pos += pending.length;
        continue;
      }
      const end = this.run.writtenEnd(this.pos);
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

const SUPERSEDED = new P2PError('CANCELLED', 'another source delivered this range first');

type DataSink = (data: Buffer, at: number) => void;

/** A TCP connection to one content server: one D at a time, its C header checked, its bytes handed on as they stream. */
class SourceConnection {
  private header: Buffer = Buffer.alloc(0);
  private active:
    | { offset: number; length: number; received: number; seenHeader: boolean; sink: DataSink; resolve: () => void; reject: (e: unknown) => void; size: number }
    | undefined;
  private closed = false;
  private closeReason: unknown;
  private paused = false;

  private constructor(
    private readonly socket: net.Socket,
    private readonly source: DownloadSource,
    private readonly stallTimeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('timeout', () => {
      if (this.active && !this.paused) this.fail(new P2PError('STALLED', `${this.who}: nothing arrived for ${this.stallTimeoutMs} ms`));
    });
    socket.on('error', (err) => this.fail(this.socketError(err)));
    socket.on('close', () => {
      const a = this.active;
      this.fail(
        new P2PError('SOURCE_GONE', a ? `${this.who} closed the connection after ${a.received} of ${a.length} bytes` : `${this.who} closed the connection`),
      );
    });
  }

  private get who(): string {
    return `peer "${this.source.peerName}" at ${formatAddress(this.source.host, this.source.port)}`;
  }

  static connect(source: DownloadSource, connectTimeoutMs: number, stallTimeoutMs: number, signal: AbortSignal): Promise<SourceConnection> {
    const where = `peer "${source.peerName}" at ${formatAddress(source.host, source.port)}`;
    return new Promise((resolve, reject) => {
      if (!Number.isInteger(source.port) || source.port < 1 || source.port > 65535) {
        reject(new P2PError('UNREACHABLE', `${where}: bad port ${source.port}`));
        return;
      }
      if (signal.aborted) {
        reject(new P2PError('CANCELLED'));
        return;
      }
      const socket = net.connect({ host: source.host, port: source.port });
      const settle = (err?: P2PError) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('connect', onConnect);
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
        settle();
        resolve(new SourceConnection(socket, source, stallTimeoutMs));
      };
      const timer = setTimeout(() => settle(new P2PError('UNREACHABLE', `${where} did not accept a connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('error', onError);
      socket.on('connect', onConnect);
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
      if (!this.paused) this.socket.setTimeout(this.stallTimeoutMs);
      this.socket.write(encodeDownloadRequest({ type: 'D', contentName, sha256, offset, length }));
    });
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
    this.socket.setTimeout(0);
  }

  resume(): void {
    this.paused = false;
    if (this.active) this.socket.setTimeout(this.stallTimeoutMs);
    this.socket.resume();
  }

  destroy(reason: unknown): void {
    if (this.closed) return;
    this.fail(reason);
  }

  private fail(reason: unknown): void {
    if (!this.closed) {
      this.closed = true;
      this.closeReason = reason;
      this.socket.destroy();
    }
    const a = this.active;
    this.active = undefined;
    a?.reject(reason);
  }

  private socketError(err: Error): P2PError {
    const e = toP2PError(err, this.who);
    return e.code === 'UNKNOWN' ? new P2PError('SOURCE_GONE', `${this.who}: ${err.message}`, err) : e;
  }

  private onData(d: Buffer): void {
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
    a.sink(data, at);
    if (a.received === a.length && this.active === a) {
      this.active = undefined;
      this.socket.setTimeout(0);
      a.resolve();
    }
  }
}

/** Sorted, disjoint [start, end) ranges, merged as they grow. */
export class RangeSet {
  private ranges: [number, number][] = [];

  add(a: number, b: number): void {
    if (b <= a) return;
    const r = this.ranges;
    const last = r[r.length - 1];
    // Downloads mostly grow the last range; keep that path cheap.
    if (last && last[1] === a) {
      last[1] = b;
      return;
    }
    if (!last || last[1] < a) {
      r.push([a, b]);
      return;
    }
    let i = 0;
    while (i < r.length && r[i][1] < a) i++;
    let j = i;
    let lo = a;
    let hi = b;
    while (j < r.length && r[j][0] <= b) {
      lo = Math.min(lo, r[j][0]);
      hi = Math.max(hi, r[j][1]);
      j++;
    }
    r.splice(i, j - i, [lo, hi]);
  }

  /** End of the range containing `pos`, or `pos` when no range does. */
  endFrom(pos: number): number {
    for (const [a, b] of this.ranges) {
      if (a <= pos && pos < b) return b;
      if (a > pos) break;
    }
    return pos;
  }

  covers(a: number, b: number): boolean {
    return b <= a || this.endFrom(a) >= b;
  }

  total(): number {
    return this.ranges.reduce((n, [a, b]) => n + (b - a), 0);
  }

  /** The holes in [0, size). */
  gaps(size: number): [number, number][] {
    const out: [number, number][] = [];
    let pos = 0;
    for (const [a, b] of this.ranges) {
      if (a >= size) break;
      if (a > pos) out.push([pos, a]);
      pos = Math.max(pos, b);
    }
    if (pos < size) out.push([pos, size]);
    return out;
  }

  toJSON(): [number, number][] {
    return this.ranges.map(([a, b]) => [a, b]);
  }
}

interface SidecarMeta {
  contentName: string;
  sha256: string;
  size: number;
}

/** Rewrites the sidecar (tmp file + rename) at most every SIDECAR_EVERY_MS, so a crash leaves the old or the new one, never half. */
class SidecarWriter {
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly meta: SidecarMeta,
    private readonly ranges: () => [number, number][],
    private readonly run: DownloadRun,
  ) {}

  schedule(): void {
    this.dirty = true;
    if (this.closed || this.writing || this.timer) return;
    const wait = this.lastAt + SIDECAR_EVERY_MS - performance.now();
    if (wait <= 0) this.writeNow();
    else this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writeNow();
    }, wait);
  }

  private writeNow(): void {
    if (this.closed || this.writing) return;
    this.dirty = false;
    this.lastAt = performance.now();
    this.writing = this.write().finally(() => {
      this.writing = undefined;
      if (this.dirty) this.schedule();
    });
  }

  private async write(): Promise<void> {
    const body = JSON.stringify({ version: SIDECAR_VERSION, ...this.meta, ranges: this.ranges() });
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fsp.writeFile(tmp, body, { flag: 'wx' });
      await fsp.rename(tmp, this.file);
    } catch (err) {
      await removeQuietly(tmp);
      // Losing the sidecar only costs a later resume; the download itself goes on.
      this.run.log('warn', `cannot save download progress to ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Stops scheduling; with `final`, writes the last state and waits for it. */
  async close(final: boolean): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (final) await this.write();
  }
}

/** Ranges from a sidecar that matches this content, or undefined when it is missing, unreadable or for other content. */
async function readSidecar(file: string, sha256: string, size: number): Promise<[number, number][] | undefined> {
  let data: unknown;
  try {
    const st = await fsp.lstat(file);
    if (!st.isFile() || st.size > 16 * 1024 * 1024) return undefined;
    data = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  const d = data as { version?: unknown; sha256?: unknown; size?: unknown; ranges?: unknown };
  if (d?.version !== SIDECAR_VERSION || d.sha256 !== sha256 || d.size !== size || !Array.isArray(d.ranges)) return undefined;
  const out: [number, number][] = [];
  let prevEnd = -1;
  for (const r of d.ranges) {
    if (!Array.isArray(r) || r.length !== 2) return undefined;
    const [a, b] = r;
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b <= a || b > size || a < prevEnd) return undefined;
    out.push([a, b]);
    prevEnd = b;
  }
  return out;
}

/** `.<name>.<first 12 hex of sha256>.part`, with the name cut so every helper file name fits in 255 bytes. */
export function partFileName(contentName: string, sha256: string): string {
  return `.${truncateUtf8(contentName, PART_NAME_BYTES)}.${sha256.slice(0, 12).toLowerCase()}.part`;
}

/** The n-th name to try: "name.ext", "name (1).ext", "name (2).ext", ... each within 255 bytes. */
export function candidateName(name: string, n: number): string {
  if (n === 0) return name;
  const m = /^(.+?)((?:\.tar)?\.[^.\s]{1,16})$/i.exec(name);
  let stem = m ? m[1] : name;
  const ext = m ? m[2] : '';
  const suffix = ` (${n})`;
  const room = MAX_NAME_BYTES - Buffer.byteLength(suffix + ext);
  if (room <= 0) return truncateUtf8(name, MAX_NAME_BYTES - Buffer.byteLength(suffix)) + suffix;
  stem = truncateUtf8(stem, room);
  return stem + suffix + ext;
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * path.join(folder, name), refused unless it stays inside folder whatever the name holds. Only ".."
 * itself (or a path through it) leaves; "..notes.txt" is a plain file name.
 */
export function insideFolder(folder: string, name: string): string {
  const target = path.resolve(folder, name);
  const rel = path.relative(folder, target);
  if (rel === '' || rel === '..' || path.isAbsolute(rel) || rel.includes(path.sep)) {
    throw new P2PError('BAD_NAME', `content name ${JSON.stringify(name)} would be saved outside ${folder}`);
  }
  return target;
}

/** An existing candidate name ("x", "x (1)", ...) that already holds exactly this content. */
async function findIdentical(folder: string, name: string, size: number, sha256: string, signal?: AbortSignal): Promise<string | undefined> {
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
    const candidate = insideFolder(folder, candidateName(name, n));
    let st: fs.Stats;
    try {
      st = await fsp.lstat(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, `checking ${candidate}`);
    }
    throwIfAborted(signal);
    if (!st.isFile() || st.size !== size) continue;
    if ((await hashFile(candidate, signal)) === sha256) return candidate;
  }
  return undefined;
}

async function hashFile(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of fs.createReadStream(file, { signal, highWaterMark: HASH_READ_BYTES })) hash.update(chunk as Buffer);
  } catch (err) {
    throw fsError(err, `reading ${file}`);
  }
  return hash.digest('hex');
}

/**
 * Gives the finished .part its final name without ever replacing a file: a hard link fails when the
 * name exists (then the next candidate name is tried); where links are unsupported, an exclusive copy
 * is made and removed again if it fails half-way.
 */
async function placeNoClobber(partPath: string, folder: string, name: string): Promise<string> {
  let linkWorks = true;
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
    const target = insideFolder(folder, candidateName(name, n));
    if (linkWorks) {
      try {
        await fsp.link(partPath, target);
        return target;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK', 'EACCES'].includes(code ?? '')) throw fsError(err, `saving ${target}`);
        linkWorks = false;
      }
    }
    try {
      await fsp.copyFile(partPath, target, fs.constants.COPYFILE_EXCL);
      return target;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      await removeQuietly(target);
      throw fsError(err, `saving ${target}`);
    }
  }
  throw new P2PError('IO', `no free name for ${name} in ${folder} after ${MAX_NAME_CANDIDATES} tries`);
}

function emitProgress(job: DownloadJob, log: (level: LogLevel, message: string) => void, p: DownloadProgress): void {
  if (!job.onProgress) return;
  try {
    job.onProgress(p);
  } catch (err) {
    log('warn', `a download progress listener threw: ${(err as Error).message}`);
  }
}

/** toP2PError for file system failures: ENOSPC is DISK_FULL, anything without a better code is IO. */
function fsError(err: unknown, context: string): P2PError {
  const e = toP2PError(err, context);
  return e.code === 'UNKNOWN' ? new P2PError('IO', `${context}: ${(err as Error)?.message ?? err}`, err) : e;
}

async function removeQuietly(file: string): Promise<void> {
  await fsp.rm(file, { force: true }).catch(() => undefined);
}

function openFd(file: string, flags: string | number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, flags, 0o666, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function ftruncate(fd: number, len: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, len, (err) => (err ? reject(err) : resolve())));
}

function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new P2PError('CANCELLED', 'the download was cancelled before it started');
}

function formatAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function positive(v: number, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new P2PError('BAD_SETTING', `${what} must be a number > 0, got ${v}`);
  return v;
}
