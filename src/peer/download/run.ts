// The download scheduler: one fetch from opening the .part to placing the file, handing ranges to one worker per source.
import { P2PError, toP2PError } from '../../protocol/errors';
import type { DownloadProgress, LogLevel } from '../api';
import { InOrderHasher } from './disk-writer';
import { PartFile } from './part-file';
import { DownloadSource, SourceConnection } from './source-connection';
import { DEFAULT_PROGRESS_RULE, ProgressRule } from '../progress-watch';
import { findPieces, labelOf, PieceCheck, PieceInProgress } from './piece-check';
import { Chunk as PlanChunk, ChunkPlan } from './chunk-plan';
import { SourceWorker, Task, WorkerRequest } from './source-worker';

const PROGRESS_EVERY_MS = 250;

export interface RunSettings {
  stallTimeoutMs: number;
  connectTimeoutMs: number;
  /** The minimum rate a source must keep; default DEFAULT_PROGRESS_RULE. */
  progress?: ProgressRule;
  chunkBytes: number;
  log: (level: LogLevel, message: string) => void;
}

/** One checked download: what to fetch, from whom, and where. */
export interface RunPlan {
  /** Validated content name. */
  name: string;
  /** Lower-case hex SHA-256. */
  sha256: string;
  size: number;
  /** Absolute save folder, already created. */
  folder: string;
  partPath: string;
  sources: readonly DownloadSource[];
  signal?: AbortSignal;
  /** Already shielded from listeners that throw. */
  onProgress?: (p: DownloadProgress) => void;
}

export interface RunResult {
  /** Absolute path of the finished file. */
  path: string;
  /** Peer names that sent bytes that were kept. */
  sources: string[];
  /** Bytes that were already in the .part file from an earlier attempt. */
  resumedFrom: number;
  /** Every byte taken from the network was checked piece by piece on arrival; false: the whole-file SHA-256 alone. */
  pieceChecked: boolean;
  /** Sources dropped for sending a bad piece or piece hashes not matching the root, as "name (host:port)". */
  refused: string[];
}

type Chunk = PlanChunk<SourceWorker>;

/** One fetch() from preparing the .part file to placing the result. */
export class DownloadRun {
  private part!: PartFile;
  /** Bytes taken from sockets whose disk write has not completed yet, by offset; the hasher may take them from here. */
  private readonly unwritten = new Map<number, Buffer>();
  private received = 0;
  /** Which range each source fetches next (chunk-plan.ts). */
  private chunkPlan!: ChunkPlan<SourceWorker>;
  private workers: SourceWorker[] = [];
  private hasher!: InOrderHasher;
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
  private readonly request: WorkerRequest;
  /** The leaves checked against the piece root; undefined: whole-file check only. */
  private pieces: PieceCheck | undefined;
  /** Sources caught lying, by label: never asked again in this download. */
  private readonly refused = new Set<string>();

  constructor(
    private readonly plan: RunPlan,
    private readonly settings: RunSettings,
  ) {
    this.request = {
      sha256Bytes: Buffer.from(plan.sha256, 'hex'),
      contentName: plan.name,
      size: plan.size,
      connectTimeoutMs: settings.connectTimeoutMs,
      stallTimeoutMs: settings.stallTimeoutMs,
      progress: settings.progress,
      stopSignal: this.stopController.signal,
    };
    this.outcome = new Promise<void>((resolve, reject) => (this.finish = { resolve, reject }));
    // Rejections are read in execute(); this keeps an early one from being reported as unhandled.
    this.outcome.catch(() => undefined);
  }

  private get name(): string {
    return this.plan.name;
  }

  private get size(): number {
    return this.plan.size;
  }

  private log(level: LogLevel, message: string): void {
    this.settings.log(level, message);
  }

  async execute(): Promise<RunResult> {
    const { name, sha256, size, partPath } = this.plan;
    this.part = await PartFile.open(partPath, { contentName: name, sha256, size }, this.settings.log);
    this.hasher = new InOrderHasher(this.part.fd, {
      isStopped: () => this.stopped,
      writtenEnd: (pos) => this.part.writtenEnd(pos),
      unwrittenAt: (pos) => this.unwritten.get(pos),
      failed: (err) => this.stop(err),
      settled: () => this.checkDone(),
    });
    this.plan.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.plan.signal?.aborted) this.onAbort();

    let outcome: P2PError | undefined;
    try {
      await this.preparePieces();
      this.received = this.part.resumedFrom;
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
    this.plan.signal?.removeEventListener('abort', this.onAbort);
    this.emitProgress(true);

    const sources = this.workers.filter((w) => w.keptBytes > 0).map((w) => w.source.peerName);
    if (!outcome) {
      const digest = this.hasher.digest();
      if (digest !== sha256) {
        outcome = new P2PError('HASH_MISMATCH', `${name}: got ${digest}, expected ${sha256} (bytes from ${sources.join(', ') || 'no peer'})`);
      }
    }

    if (outcome && outcome.code !== 'HASH_MISMATCH') {
      // Keep what arrived: a retry of the same content resumes from here. Nothing arrived: nothing to keep.
      await this.part.close(true);
      if (this.part.writtenBytes === 0) await this.part.remove();
      this.log('info', `${name}: stopped (${outcome.message}); ${this.part.writtenBytes} of ${size} bytes kept in ${this.part.path}`);
      throw outcome;
    }
    if (outcome) {
      await this.part.close(false);
      await this.part.remove();
      this.log('warn', outcome.message);
      throw outcome;
    }

    const finalPath = await this.part.place(this.plan.folder, name);
    await this.part.remove();
    this.log('info', `${name}: saved ${size} bytes to ${finalPath} from ${sources.join(', ') || 'the .part file'}`);
    return { path: finalPath, sources, resumedFrom: this.part.resumedFrom, pieceChecked: this.pieces !== undefined, refused: [...this.refused] };
  }

  /** Piece checks for this run when a root is claimed (piece-check.ts), and a resumed .part cut to the pieces that verify. */
  private async preparePieces(): Promise<void> {
    const { connectTimeoutMs, stallTimeoutMs, progress, stopSignal, sha256Bytes } = this.request;
    this.pieces = await findPieces(this.plan.sources, this.size, {
      leavesOf: async (source) => {
        const conn = await SourceConnection.connect(source, connectTimeoutMs, stallTimeoutMs, progress ?? DEFAULT_PROGRESS_RULE, stopSignal);
        return { ask: (first) => conn.askLeaves(sha256Bytes, this.name, first), close: () => conn.destroy(new P2PError('CANCELLED')) };
      },
      isStopped: () => this.stopped,
      refuse: (label) => this.refused.add(label),
      isRefused: (label) => this.refused.has(label),
      log: (level, message) => this.log(level, `${this.name}: ${message}`),
    });
    if (this.pieces && this.part.resumedFrom > 0) this.part.keepOnly(await this.pieces.verifiedOnDisk(this.part.fd, (a, b) => this.part.covers(a, b)));
  }

  private planChunks(): void {
    this.chunkPlan = new ChunkPlan(this.part.gaps(this.size), this.settings.chunkBytes, this.pieces !== undefined);
  }

  private startWorkers(): void {
    if (this.chunkPlan.empty) return;
    const seen = new Set<string>();
    for (const source of this.plan.sources) {
      const key = `${source.host}|${source.port}`;
      if (seen.has(key) || this.refused.has(labelOf(source))) continue;
      seen.add(key);
      this.workers.push(this.newWorker(source));
    }
    if (this.workers.length === 0) {
      this.stop(new P2PError('NO_SOURCES', `no peer was given as a source for ${this.name}`));
      return;
    }
    for (const w of this.workers) w.start();
  }

  private newWorker(source: DownloadSource): SourceWorker {
    const worker: SourceWorker = new SourceWorker(source, this.request, {
      nextTask: () => this.nextTask(worker),
      isStopped: () => this.stopped,
      log: (level, message) => this.log(level, message),
      exited: () => this.onWorkerExit(),
      disk: {
        fd: () => this.part.fd,
        written: (a, b, bufs) => this.onWritten(a, b, bufs),
        failed: (err) => this.stop(err),
      },
    });
    return worker;
  }

  /** The worker's view of a chunk it was handed: where to fetch, and its way back here. */
  private taskFor(worker: SourceWorker, chunk: Chunk): Task {
    return {
      get frontier() {
        return chunk.frontier;
      },
      get end() {
        return chunk.end;
      },
      accept: (data, at) => this.accept(worker, chunk, data, at),
      release: () => this.releaseChunk(worker, chunk),
    };
  }

  /** Hands an idle worker its next range: the lowest unclaimed chunk, or a share of a slow one near the end. */
  private async nextTask(worker: SourceWorker): Promise<Task | undefined> {
    for (;;) {
      if (this.stopped) return undefined;
      const alone = this.workers.filter((w) => !w.exited).length === 1;
      const { chunk, endgame, done } = this.chunkPlan.pick(worker, alone, performance.now());
      if (done) return undefined;
      if (chunk) {
        if (endgame) this.log('debug', `${this.name}: ${worker.source.peerName} also fetches ${chunk.frontier}..${chunk.end} (endgame)`);
        return this.taskFor(worker, chunk);
      }
      await this.waitForChange(PROGRESS_EVERY_MS);
    }
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

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  /**
   * Takes bytes `data` that belong at `at` from a worker's stream. Only bytes past the chunk's
   * frontier are new; so every offset is written exactly once, and the in-order hash always sees
   * the very bytes that end up in the file even when two sources race for one chunk.
   */
  private accept(worker: SourceWorker, chunk: Chunk, data: Buffer, at: number): void {
    if (this.stopped) return;
    const end = Math.min(at + data.length, chunk.end);
    const from = Math.max(at, chunk.frontier);
    // Bytes past the frontier would leave a hole: a racing source ahead of a piece taken back.
    if (from >= end || from > chunk.frontier) return;
    const slice = data.subarray(from - at, end - at);
    chunk.frontier = end;
    worker.keptBytes += slice.length;
    if (this.pieces) {
      if (!this.collect(this.pieces, worker, chunk, from, slice)) return;
    } else {
      this.store(worker, from, slice);
    }
    if (chunk.frontier === chunk.end) {
      for (const other of chunk.workers) if (other !== worker) other.supersede();
      this.wake();
    }
  }

  /** Bytes bound for the file: hashed in order now if they can be, and queued on `worker`'s writes. */
  private store(worker: SourceWorker, at: number, data: Buffer): void {
    // Progress counts only bytes that are kept: with piece checks, a piece once it verified.
    this.received += data.length;
    if (!this.hasher.feed(at, data)) this.unwritten.set(at, data);
    worker.queueWrite(data, at);
  }

  /**
   * Adds `data` at `from` to the chunk's piece in the making; each piece that completes and matches
   * its leaf is stored. A bad piece never reaches the disk: its senders are dropped and named, and
   * the chunk goes back to the piece's start for another source. False then.
   */
  private collect(pieces: PieceCheck, worker: SourceWorker, chunk: Chunk, from: number, data: Buffer): boolean {
    const { good, bad } = pieces.collect(chunk, from, data, worker);
    for (const p of good) for (let at = p.start, i = 0; i < p.bufs.length; at += p.bufs[i].length, i++) this.store(worker, at, p.bufs[i]);
    if (bad) this.rejectPiece(chunk, bad.index, bad.piece);
    return !bad;
  }

  private rejectPiece(chunk: Chunk, index: number, piece: PieceInProgress<SourceWorker>): void {
    chunk.frontier = piece.start;
    for (const w of piece.senders) {
      const label = labelOf(w.source);
      this.refused.add(label);
      this.log('warn', `${this.name}: piece ${index} (bytes ${piece.start}..${piece.start + piece.bytes}) from ${label} does not match its hash; fetching it again from another source`);
      w.drop(new P2PError('PROTOCOL', `sent piece ${index} of ${this.name} not matching its hash`));
    }
    // Others on this chunk stream past the piece taken back; their rest would leave a hole.
    for (const w of chunk.workers) if (!piece.senders.has(w)) w.supersede();
    this.wake();
  }

  /** Called when the buffers `bufs`, laid end to end from `a`, reached the file. */
  private onWritten(a: number, b: number, bufs: Buffer[]): void {
    this.part.recordWritten(a, b);
    for (let at = a, i = 0; i < bufs.length; at += bufs[i].length, i++) this.unwritten.delete(at);
    this.hasher.catchUp();
    this.checkDone();
  }

  private releaseChunk(worker: SourceWorker, chunk: Chunk): void {
    chunk.workers.delete(worker);
    if (chunk.frontier < chunk.end) this.wake();
  }

  /** A worker stopped for good; when it was the last and bytes are still missing, the download fails. */
  private onWorkerExit(): void {
    if (this.stopped) return;
    if (this.workers.some((w) => !w.exited)) return;
    if (!this.chunkPlan.unfinished) return;
    const failed = this.workers.filter((w) => w.failure);
    if (failed.length === 1 && this.workers.length === 1) {
      this.stop(failed[0].failure!);
      return;
    }
    const reasons = failed.map((w) => `${w.source.peerName}: ${w.failure!.message}`).join('; ');
    this.stop(new P2PError('NO_SOURCES', `${this.name}: every source failed (${reasons})`));
  }

  private checkDone(): void {
    if (this.stopped || this.fatal) return;
    if (this.hasher.position === this.size && this.part.covers(0, this.size)) {
      this.stopped = true;
      this.finish.resolve();
    }
  }

  /** Ends the run with `err` (the first one wins); workers see it through isStopped() and hang up. */
  private stop(err: P2PError): void {
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
    const bytes = this.received - this.part.resumedFrom;
    this.rateSamples.push({ t: now, bytes });
    // Smoothed over about a second: the oldest sample kept is at most ~1 s old.
    while (this.rateSamples.length > 2 && now - this.rateSamples[1].t >= 1000) this.rateSamples.shift();
    const first = this.rateSamples[0];
    if (now - first.t > 0) this.bytesPerSecond = ((bytes - first.bytes) * 1000) / (now - first.t);
    if (!this.plan.onProgress) return;
    this.plan.onProgress({
      contentName: this.name,
      received: this.received,
      total: this.size,
      bytesPerSecond: Math.max(0, Math.round(this.bytesPerSecond)),
      // The last event says how many sources the file came from; the others, how many send right now.
      sources: this.workers.filter((w) => (final ? w.keptBytes > 0 : w.receiving)).length,
    });
  }
}
