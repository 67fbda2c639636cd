// The download scheduler: one fetch from opening the .part to placing the file, handing ranges to one worker per source.
import { P2PError, toP2PError } from '../../protocol/errors';
import type { DownloadProgress, LogLevel } from '../api';
import { BlockInProgress, BlockPool } from './blocks';
import type { RoomReader } from './source-connection';
import { HashThread } from './hash-thread';
import { PartFile } from './part-file';
import { DownloadSource, SourceConnection } from './source-connection';
import { DEFAULT_PROGRESS_RULE, ProgressRule } from '../progress-watch';
import { findPieces, labelOf, PieceCheck } from './piece-check';
import { PIECE_BYTES } from '../../protocol/pieces';
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
  private received = 0;
  /** Buffers for blocks, reused once their bytes are on disk. */
  private readonly pool = new BlockPool();
  /** Chunks with a block partly filled. */
  private readonly filling = new Set<Chunk>();
  /** Blocks at the hashing thread awaiting their verdict. */
  private readonly checking = new Set<Promise<void>>();
  /** Every byte before this offset went into the whole-file hash. */
  private hashedTo = 0;
  /** Which range each source fetches next (chunk-plan.ts). */
  private chunkPlan!: ChunkPlan<SourceWorker>;
  private workers: SourceWorker[] = [];
  private hasher: HashThread | undefined;
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
    this.plan.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.plan.signal?.aborted) this.onAbort();

    let outcome: P2PError | undefined;
    try {
      await this.preparePieces();
      this.received = this.part.resumedFrom;
      this.startHashing();
      this.startWorkers();
      this.progressTimer = setInterval(() => this.tick(), PROGRESS_EVERY_MS);
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
    // Blocks checked after the stop are kept too (a resume takes them); then every write lands.
    while (this.checking.size > 0) await Promise.all([...this.checking]);
    await Promise.all(this.workers.map((w) => w.writesDrained()));
    clearInterval(this.progressTimer);
    this.plan.signal?.removeEventListener('abort', this.onAbort);
    this.emitProgress(true);

    const sources = this.workers.filter((w) => w.keptBytes > 0).map((w) => w.source.peerName);
    const digest = outcome ? undefined : await this.hasher?.digest();
    await this.hasher?.close();
    if (!outcome) {
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

  /** The chunk plan over the .part's holes, and the hashing thread told what is on disk already. */
  private startHashing(): void {
    const gaps = this.part.gaps(this.size);
    this.chunkPlan = new ChunkPlan(gaps, this.settings.chunkBytes, this.pieces !== undefined);
    const hasher = new HashThread(this.part.fd, this.pieces?.leaves, this.pool.ring, {
      advanced: (pos) => {
        this.hashedTo = pos;
        this.checkDone();
      },
      failed: (err) => this.stop(err),
    });
    this.hasher = hasher;
    let from = 0;
    for (const [a, b] of gaps) {
      if (a > from) hasher.written(from, a);
      from = b;
    }
    if (from < this.size) hasher.written(from, this.size);
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
      take: (data, at) => this.accept(worker, chunk, data, at),
      room: (at, max, reader) => this.room(worker, chunk, at, max, reader),
      release: () => this.releaseChunk(worker, chunk),
    };
  }

  /** Hands an idle worker its next range: the lowest unclaimed chunk, or a share of a slow one near the end. */
  private async nextTask(worker: SourceWorker): Promise<Task | undefined> {
    for (;;) {
      if (this.stopped) return undefined;
      const alone = this.workers.filter((w) => !w.exited).length === 1;
      const { chunk, endgame, done } = this.chunkPlan.pick(worker, alone, performance.now());
      // A piece still being checked may fail and be handed out again.
      if (done && this.checking.size === 0) return undefined;
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
   * frontier are new; so every offset is written exactly once, and the hash always sees the very
   * bytes that end up in the file even when two sources race for one chunk.
   */
  private accept(worker: SourceWorker, chunk: Chunk, data: Buffer, at: number): void {
    if (this.stopped) return;
    const end = Math.min(at + data.length, chunk.end);
    const from = Math.max(at, chunk.frontier);
    // Bytes past the frontier would leave a hole: a racing source ahead of a piece taken back.
    if (from >= end || from > chunk.frontier) return;
    let rest = data.subarray(from - at, end - at);
    chunk.frontier = end;
    worker.keptBytes += rest.length;
    try {
      // Into blocks of a piece each: checked whole off this thread, then written whole.
      for (let pos = from; rest.length > 0; ) {
        let block = chunk.block;
        // Endgame on a chunk whose room another source's socket holds: go on in a buffer of our own.
        if (block && !block.writableBy(worker.reader)) block = chunk.block = block.moveTo(this.pool.take(block.buf.length));
        block ??= chunk.block = this.newBlock(chunk, pos);
        const n = block.add(rest, worker, worker.reader);
        pos += n;
        rest = rest.subarray(n);
        if (block.full) this.submit(worker, chunk, block);
      }
    } catch (err) {
      // The chunk's frontier moved past bytes no block holds: the run cannot go on from here.
      this.stop(toP2PError(err));
      return;
    }
    if (chunk.frontier === chunk.end) {
      for (const other of chunk.workers) if (other !== worker) other.supersede();
      this.wake();
    }
  }

  /**
   * Lends the room after the chunk's block to `worker`'s next socket read, so its bytes land in place:
   * only while that worker alone fetches the chunk and its stream is at the frontier (a shared chunk
   * takes copies, since the sources race).
   */
  private room(worker: SourceWorker, chunk: Chunk, at: number, max: number, reader: RoomReader): Buffer | undefined {
    if (this.stopped || at !== chunk.frontier || at >= chunk.end || chunk.workers.size !== 1 || !chunk.workers.has(worker)) return undefined;
    const block = (chunk.block ??= this.newBlock(chunk, at));
    return block.writableBy(reader) ? block.lend(max, reader) : undefined;
  }

  /** A block from `pos` to the end of its piece (or of the chunk, when that comes first). */
  private newBlock(chunk: Chunk, pos: number): BlockInProgress<SourceWorker> {
    this.filling.add(chunk);
    const end = Math.min(chunk.end, (Math.floor(pos / PIECE_BYTES) + 1) * PIECE_BYTES);
    return new BlockInProgress(pos, this.pool.take(end - pos));
  }

  /**
   * Hands the chunk's block to the hashing thread: there it is checked against its leaf (with piece
   * checks), and hashed into the whole file when it is next in order. A block that passes is written;
   * a bad one never reaches the disk.
   */
  private submit(worker: SourceWorker, chunk: Chunk, block: BlockInProgress<SourceWorker>): void {
    chunk.block = undefined;
    this.filling.delete(chunk);
    const bytes = block.bytes;
    const length = bytes.length;
    const index = this.pieces ? this.pieces.pieceOf(block.start) : -1;
    if (index >= 0 && (block.start !== index * PIECE_BYTES || block.start + length !== this.pieces!.endOf(index))) {
      this.stop(new P2PError('INTERNAL', `${this.name}: block ${block.start}+${length} is not piece ${index}`));
      return;
    }
    // Its bytes count against the source's memory until they are on disk.
    worker.hold(length);
    const job = this.hasher!.check(block.start, bytes, index).then((ok) => {
      worker.unhold(length);
      if (ok === undefined) return;
      if (ok) this.store(worker, block.start, bytes);
      else {
        this.pool.give(bytes);
        if (!this.stopped) this.rejectPiece(index, block, length);
      }
    });
    this.checking.add(job);
    void job.finally(() => {
      this.checking.delete(job);
      this.wake();
    });
  }

  /** Checked bytes bound for the file, queued on `worker`'s writes. */
  private store(worker: SourceWorker, at: number, data: Buffer): void {
    // Progress counts only bytes that are kept: with piece checks, a piece once it verified.
    this.received += data.length;
    worker.queueWrite(data, at);
  }

  /**
   * A piece did not match its leaf: its senders are dropped and named, whatever they sent since
   * without a check yet is thrown away, and the piece is handed out again for another source.
   */
  private rejectPiece(index: number, piece: BlockInProgress<SourceWorker>, length: number): void {
    const liars = piece.senders;
    for (const w of liars) {
      const label = labelOf(w.source);
      this.refused.add(label);
      this.log('warn', `${this.name}: piece ${index} (bytes ${piece.start}..${piece.start + length}) from ${label} does not match its hash; fetching it again from another source`);
      w.drop(new P2PError('PROTOCOL', `sent piece ${index} of ${this.name} not matching its hash`));
    }
    // The liars may have gone on into another piece meanwhile: none of its bytes is kept.
    for (const c of [...this.filling]) {
      const b = c.block!;
      if (![...b.senders].some((w) => liars.has(w))) continue;
      c.frontier = b.start;
      c.block = undefined;
      this.filling.delete(c);
      this.pool.give(b.buf);
      // Others on this chunk stream past the block taken back; their rest would leave a hole.
      for (const w of c.workers) if (!liars.has(w)) w.supersede();
    }
    this.chunkPlan.requeue(piece.start, piece.start + length);
    this.wake();
  }

  /** Called when the buffers `bufs`, laid end to end from `a`, reached the file. */
  private onWritten(a: number, b: number, bufs: Buffer[]): void {
    this.part.recordWritten(a, b);
    this.hasher?.written(a, b);
    for (const buf of bufs) this.pool.give(buf);
    this.checkDone();
  }

  private releaseChunk(worker: SourceWorker, chunk: Chunk): void {
    chunk.workers.delete(worker);
    // Without piece checks every byte is worth keeping: what the last source on a chunk left half a block goes to disk.
    if (!this.pieces && chunk.workers.size === 0 && chunk.block && chunk.block.filled > 0) this.submit(worker, chunk, chunk.block);
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
    if (this.hashedTo === this.size && this.part.covers(0, this.size)) {
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
