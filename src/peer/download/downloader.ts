// Downloader: fetches one content from all its sources at once into a resumable .part file, checks the SHA-256 and places it without clobbering.
import * as path from 'node:path';
import { isPositiveNumber } from '../../common/numbers';
import { P2PError } from '../../protocol/errors';
import { validateContentName } from '../../protocol/names';
import type { DownloadProgress, LogLevel } from '../api';
import { checkProgressRule, DEFAULT_PROGRESS_RULE, ProgressRule } from '../progress-watch';
import { FolderLock } from './folder-lock';
import { FS_STEP_MS, makeFolder, withinTime } from './fs-calls';
import { findIdentical, insideFolder, lockFileName, partFileName, throwIfAborted } from './placement';
import { DownloadRun, RunResult } from './run';
import { DEFAULT_MAX_DOWNLOAD_BYTES, checkClaimedSize, checkFreeSpace } from './size-check';
import type { DownloadSource } from './source-connection';

export type { DownloadSource } from './source-connection';
export { DEFAULT_MAX_DOWNLOAD_BYTES } from './size-check';

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
  /** Overrides DownloaderOptions.maxBytes for this job. */
  maxBytes?: number;
}

export interface DownloaderOptions {
  /** A source that sends nothing for this long is dropped with STALLED. Default 15 000 ms. */
  stallTimeoutMs?: number;
  /** Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** A source sending less than this while we read is dropped with STALLED. Default 1 KiB/s over 10 s. */
  minTransferRate?: ProgressRule;
  /** Size of the ranges handed to sources, one D each. Default 4 MiB. */
  chunkBytes?: number;
  /** A job claiming more bytes fails at once with SIZE_LIMIT. Default DEFAULT_MAX_DOWNLOAD_BYTES. */
  maxBytes?: number;
  /** Time limit of each file system step before the transfer (folder, lookup, free space, lock). Default FS_STEP_MS. */
  fsStepMs?: number;
  log?: (level: LogLevel, message: string) => void;
}

export interface FetchResult extends RunResult {
  /** True when an identical file was already there and nothing was written. */
  reused: boolean;
}

const DEFAULT_STALL_MS = 15_000;
const DEFAULT_CONNECT_MS = 5_000;
const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/** .part files being written by this process, so two fetches of one content never share one. */
const activeParts = new Set<string>();

export class Downloader {
  private readonly stallTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly progress: ProgressRule;
  private readonly chunkBytes: number;
  private readonly maxBytes: number;

  constructor(private readonly opts: DownloaderOptions = {}) {
    this.stallTimeoutMs = positive(opts.stallTimeoutMs ?? DEFAULT_STALL_MS, 'stallTimeoutMs');
    this.connectTimeoutMs = positive(opts.connectTimeoutMs ?? DEFAULT_CONNECT_MS, 'connectTimeoutMs');
    this.progress = checkProgressRule(opts.minTransferRate ?? DEFAULT_PROGRESS_RULE, 'minTransferRate');
    this.chunkBytes = Math.max(1, Math.floor(positive(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, 'chunkBytes')));
    this.maxBytes = positive(opts.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES, 'maxBytes');
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
    checkClaimedSize(name, job.size, job.maxBytes === undefined ? this.maxBytes : positive(job.maxBytes, 'maxBytes'));
    const sha256 = job.sha256.toLowerCase();
    const log = (level: LogLevel, message: string) => {
      try {
        this.opts.log?.(level, message);
      } catch {
        // A failing logger must not fail the download.
      }
    };
    const onProgress = job.onProgress && ((p: DownloadProgress) => emitProgress(job, log, p));

    const fsStepMs = this.opts.fsStepMs ?? FS_STEP_MS;
    await withinTime(makeFolder(folder), `creating the download folder ${folder}`, fsStepMs);

    const partPath = path.join(folder, partFileName(name, sha256));
    const reusable = await withinTime(findIdentical(folder, name, job.size, sha256, job.signal), `looking for ${name} in ${folder}`, fsStepMs);
    if (reusable) {
      log('info', `${name}: ${reusable} already holds this content; nothing to download`);
      emitProgress(job, log, { contentName: name, received: job.size, total: job.size, bytesPerSecond: 0, sources: 0 });
      return { path: reusable, sources: [], resumedFrom: 0, reused: true, pieceChecked: true, refused: [] };
    }

    await withinTime(checkFreeSpace(name, job.size, folder, partPath), `checking the free space in ${folder}`, fsStepMs);
    if (activeParts.has(partPath)) throw new P2PError('BUSY', `${name} is already being downloaded into ${folder}`);
    activeParts.add(partPath);
    let lock: FolderLock | undefined;
    let timedOut = false;
    try {
      // Other processes (another VS Code window, p2p-peer) may download into this folder too.
      const locking = FolderLock.acquire(path.join(folder, lockFileName(name, sha256)), name);
      // A lock won after the deadline is released at once, or it would keep the content locked.
      locking.then(
        (late) => lock === undefined && timedOut && void late.release(),
        () => undefined,
      );
      lock = await withinTime(locking, `locking ${name} in ${folder}`, fsStepMs).catch((err) => {
        timedOut = true;
        throw err;
      });
      // Placed by the process that held the lock just before us: nothing left to fetch.
      const placed = await findIdentical(folder, name, job.size, sha256, job.signal);
      if (placed) {
        emitProgress(job, log, { contentName: name, received: job.size, total: job.size, bytesPerSecond: 0, sources: 0 });
        return { path: placed, sources: [], resumedFrom: 0, reused: true, pieceChecked: true, refused: [] };
      }
      const run = new DownloadRun(
        { name, sha256, size: job.size, folder, partPath, sources: job.sources, signal: job.signal, onProgress },
        { stallTimeoutMs: this.stallTimeoutMs, connectTimeoutMs: this.connectTimeoutMs, progress: this.progress, chunkBytes: this.chunkBytes, log },
      );
      return { ...(await run.execute()), reused: false };
    } finally {
      await lock?.release();
      activeParts.delete(partPath);
    }
  }
}

/** Hands `p` to the job's listener; a listener that throws is logged, never allowed to fail the download. */
function emitProgress(job: DownloadJob, log: (level: LogLevel, message: string) => void, p: DownloadProgress): void {
  if (!job.onProgress) return;
  try {
    job.onProgress(p);
  } catch (err) {
    log('warn', `a download progress listener threw: ${(err as Error).message}`);
  }
}

function positive(v: number, what: string): number {
  if (!isPositiveNumber(v)) throw new P2PError('BAD_SETTING', `${what} must be a number > 0, got ${v}`);
  return v;
}
