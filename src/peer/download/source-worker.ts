// One source's worker: the loop that takes range after range from the scheduler and fetches it over one connection.
import { P2PError, toP2PError } from '../../protocol/errors';
import type { LogLevel } from '../api';
import { WriteQueue, WriteTarget } from './disk-writer';
import { formatHostPort } from '../../protocol/address-text';
import { DEFAULT_PROGRESS_RULE, ProgressRule } from '../progress-watch';
import { DataSink, DownloadSource, RoomReader, SourceConnection } from './source-connection';

/** A source whose bytes waiting for their check or their disk write exceed this stops reading its socket until they drain. */
const WRITE_HIGH_WATER = 8 * 1024 * 1024;
const WRITE_LOW_WATER = 2 * 1024 * 1024;

const SUPERSEDED = new P2PError('CANCELLED', 'another source delivered this range first');

/** What every worker of one run asks its source for, and how long it waits. */
export interface WorkerRequest {
  readonly sha256Bytes: Buffer;
  readonly contentName: string;
  readonly size: number;
  readonly connectTimeoutMs: number;
  readonly stallTimeoutMs: number;
  /** A source slower than this while we read is dropped (a drip feed resets the stall timer forever). */
  readonly progress?: ProgressRule;
  /** Aborted when the run stops, so connection attempts in progress give up at once. */
  readonly stopSignal: AbortSignal;
}

/** One range handed to a worker: fetch from `frontier` to `end`, its bytes go where the task says (DataSink), `release` it when done. */
export interface Task extends DataSink {
  readonly frontier: number;
  readonly end: number;
  release(): void;
}

/** A worker's narrow line back to the scheduler that runs it. */
export interface WorkerHooks {
  /** The next range to fetch, or undefined when there is none left for this worker. */
  nextTask(): Promise<Task | undefined>;
  isStopped(): boolean;
  log(level: LogLevel, message: string): void;
  /** The worker stopped for good, after its queued writes drained. */
  exited(): void;
  /** Where its received bytes go. */
  disk: WriteTarget;
}

/** One source's TCP connection and the loop that fetches chunk after chunk from it. */
export class SourceWorker {
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
  /** Bytes of this source's blocks at the hashing thread. */
  private held = 0;
  finished!: Promise<void>;
  private dropped: P2PError | undefined;

  constructor(
    readonly source: DownloadSource,
    private readonly request: WorkerRequest,
    private readonly hooks: WorkerHooks,
  ) {
    this.writes = new WriteQueue({
      fd: () => hooks.disk.fd(),
      written: (a, b, bufs) => {
        hooks.disk.written(a, b, bufs);
        this.onWritesBelowLowWater();
      },
      failed: (err) => hooks.disk.failed(err),
    });
  }

  /** The socket this worker's reads come through, as the blocks it reads into know it. */
  get reader(): RoomReader | undefined {
    return this.conn;
  }

  start(): void {
    this.finished = this.loop();
  }

  private async loop(): Promise<void> {
    const label = `${this.source.peerName} (${formatHostPort(this.source.host, this.source.port)})`;
    try {
      for (;;) {
        if (this.dropped) throw this.dropped;
        const task = await this.hooks.nextTask();
        if (!task) break;
        try {
          await this.fetchTask(task);
        } catch (err) {
          if (err === SUPERSEDED) continue;
          throw err;
        } finally {
          this.receiving = false;
          task.release();
        }
      }
    } catch (err) {
      const e = toP2PError(err);
      if (!this.hooks.isStopped()) {
        this.failure = e;
        this.hooks.log('warn', `download source ${label} dropped: ${e.message}`);
      }
    } finally {
      this.destroyConnection();
      // Bytes already taken from the socket still go to the file, so they count for resume.
      await this.writes.drained();
      this.exited = true;
      this.hooks.exited();
    }
  }

  private async fetchTask(task: Task): Promise<void> {
    const r = this.request;
    // Closed between two D: dialled again, unless it closed for breaking the protocol (bytes past a D's end).
    const breach = this.conn?.protocolBreach;
    if (breach) throw breach;
    if (!this.conn || this.conn.isClosed) {
      this.conn = await SourceConnection.connect(this.source, r.connectTimeoutMs, r.stallTimeoutMs, r.progress ?? DEFAULT_PROGRESS_RULE, r.stopSignal);
    }
    if (this.hooks.isStopped()) throw new P2PError('CANCELLED');
    const from = task.frontier;
    if (from >= task.end) return;
    this.taskStartedAt = performance.now();
    this.receiving = true;
    if (this.pausedForDisk) this.conn.pause();
    await this.conn.request(r.sha256Bytes, r.contentName, r.size, from, task.end - from, task);
  }

  /** Another source finished this worker's chunk first: its rest is of no use. */
  supersede(): void {
    this.conn?.destroy(SUPERSEDED);
  }

  /** This source cannot be trusted for this download: it stops with `err` and takes no more ranges. */
  drop(err: P2PError): void {
    this.dropped = err;
    this.conn?.destroy(err);
  }

  destroyConnection(): void {
    this.conn?.destroy(new P2PError('CANCELLED'));
  }

  queueWrite(buf: Buffer, at: number): void {
    this.writes.push(buf, at);
    this.pauseIfBehind();
  }

  /** `bytes` of this source's went to be checked: they count until they are written (or thrown away). */
  hold(bytes: number): void {
    this.held += bytes;
    this.pauseIfBehind();
  }

  unhold(bytes: number): void {
    this.held -= bytes;
    this.onWritesBelowLowWater();
  }

  /** Resolves once every write queued so far reached the file. */
  writesDrained(): Promise<void> {
    return this.writes.drained();
  }

  private get pendingBytes(): number {
    return this.writes.pendingBytes + this.held;
  }

  private pauseIfBehind(): void {
    if (!this.pausedForDisk && this.pendingBytes > WRITE_HIGH_WATER) {
      this.pausedForDisk = true;
      this.conn?.pause();
    }
  }

  private onWritesBelowLowWater(): void {
    if (this.pausedForDisk && this.pendingBytes <= WRITE_LOW_WATER) {
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
