// The .part file being filled: opened for resume or afresh, which ranges hold data (RangeSet), and its .part.json sidecar.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { P2PError } from '../../protocol/errors';
import type { LogLevel } from '../api';
import { FileId, fsError, fstatBig, ftruncate, idAtPath, idOf, openFd, removeQuietly } from './fs-calls';
import { placeNoClobber } from './placement';

const SIDECAR_EVERY_MS = 250;
/** 2 added partId; a version-1 sidecar is treated as a stranger's file. */
const SIDECAR_VERSION = 2;

type Log = (level: LogLevel, message: string) => void;

/** What the sidecar says the .part holds; a sidecar for anything else is not resumed from. */
export interface PartMeta {
  contentName: string;
  sha256: string;
  size: number;
}

/** Other .part names tried when a stranger's file sits at the usual one. */
const PART_NAME_TRIES = 8;

/** The .part file, its fd, and the ranges of it that are known to hold received bytes. */
export class PartFile {
  private handle = -1;
  /** dev+ino of the .part this process created or verified: the only file it will ever remove or place. */
  private id: FileId = '';
  private written = new RangeSet();
  private resumed = 0;
  private sidecar!: SidecarWriter;
  private partPath: string;

  private constructor(
    basePath: string,
    private readonly meta: PartMeta,
    private readonly log: Log,
  ) {
    this.partPath = basePath;
  }

  /**
   * Opens `partPath` for resume when it is ours, else creates it afresh. A file at a helper name that
   * this downloader cannot show it made (a user's file, a stranger's sidecar) is left untouched and
   * the next helper name (`…~1.part`, …) is tried.
   */
  static async open(partPath: string, meta: PartMeta, log: Log): Promise<PartFile> {
    const part = new PartFile(partPath, meta, log);
    for (let n = 0; n < PART_NAME_TRIES; n++) {
      part.partPath = alternatePartPath(partPath, n);
      if (await part.openForResumeOrAfresh()) {
        part.sidecar = new SidecarWriter(part.sidecarPath, part.sidecarBody, () => part.written.toJSON(), log);
        return part;
      }
      log('warn', `${meta.contentName}: ${part.partPath} or its .json holds a file P2P Share did not make; left alone, trying another name`);
    }
    throw new P2PError('IO', `${meta.contentName}: every download helper name near ${partPath} holds a file P2P Share did not make; none was touched`);
  }

  get path(): string {
    return this.partPath;
  }

  get sidecarPath(): string {
    return `${this.partPath}.json`;
  }

  private get sidecarBody(): SidecarBody {
    return { ...this.meta, partId: this.id };
  }

  /** The open fd, or -1 once closed. */
  get fd(): number {
    return this.handle;
  }

  /** Bytes that were already in the .part from an earlier attempt. */
  get resumedFrom(): number {
    return this.resumed;
  }

  /** Bytes known to be in the file. */
  get writtenBytes(): number {
    return this.written.total();
  }

  /** End of the contiguous bytes already on disk from `pos`. */
  writtenEnd(pos: number): number {
    return this.written.endFrom(pos);
  }

  covers(a: number, b: number): boolean {
    return this.written.covers(a, b);
  }

  /** The holes in [0, size) that still need bytes. */
  gaps(size: number): [number, number][] {
    return this.written.gaps(size);
  }

  /** Bytes [a, b) reached the file; the sidecar follows soon after. */
  recordWritten(a: number, b: number): void {
    this.written.add(a, b);
    this.sidecar.schedule();
  }

  /** Keeps only `ranges` of what was resumed (the pieces that verified); the rest is fetched again. */
  keepOnly(ranges: [number, number][]): void {
    const before = this.resumed;
    this.written = new RangeSet();
    for (const [a, b] of ranges) this.written.add(a, b);
    this.resumed = this.written.total();
    if (this.resumed !== before) {
      this.log('warn', `${this.meta.contentName}: ${before - this.resumed} resumed bytes did not verify piece by piece; fetching them again`);
      this.sidecar.schedule();
    }
  }

  /** Stops the sidecar (with `final`, after writing its last state) and closes the fd. */
  async close(final: boolean): Promise<void> {
    await this.sidecar.close(final);
    await this.closeFd();
  }

  /**
   * Gives the whole, verified .part its final name (see placeNoClobber), with the fd still open so
   * the file placed is provably the one written; then removes the helpers. On failure the .part and
   * its final sidecar stay, so a retry only re-checks the hash.
   */
  async place(folder: string, name: string): Promise<string> {
    await this.sidecar.close(true);
    try {
      return await placeNoClobber({ path: this.partPath, fd: this.handle }, folder, name);
    } finally {
      await this.closeFd();
    }
  }

  /** Removes the .part and its sidecar, each only while it is still the file this process made; only after close(). */
  async remove(): Promise<void> {
    await removeIfOurs(this.partPath, this.id, this.sidecarPath);
  }

  /**
   * True when the .part at this name is now ours (resumed or created); false when a file we cannot
   * show is ours sits at the .part or sidecar name.
   */
  private async openForResumeOrAfresh(): Promise<boolean> {
    const { contentName: name, sha256, size } = this.meta;
    const partId = await idAtPath(this.partPath);
    const sidecar = await readSidecar(this.sidecarPath);
    if (sidecar === 'foreign' || (partId === undefined) !== (sidecar === 'absent')) return false;
    if (partId !== undefined && sidecar !== 'absent') {
      if (sidecar.partId !== partId) return false;
      const resumed = matchingRanges(sidecar, sha256, size);
      const st = await fsp.lstat(this.partPath);
      // Only a plain file with no second name: another link would mean writing into someone else's file.
      if (resumed && st.isFile() && st.nlink === 1 && (await this.openVerified(partId))) {
        // Claims beyond what the file holds cannot be true (a crash before the data reached the disk).
        for (const [a, b] of resumed) if (a < st.size) this.written.add(a, Math.min(b, st.size));
        this.resumed = this.written.total();
        if (size > 0 && st.size > size) await ftruncate(this.handle, size);
        this.log('info', `${name}: resuming with ${this.resumed} of ${size} bytes already in ${this.partPath}`);
        return true;
      }
      // Our own leftover, of no use for this download: ours to remove.
      await removeIfOurs(this.partPath, partId, this.sidecarPath);
    }
    return this.create();
  }

  /** Opens the .part read-write and keeps it only if it is still the file with identity `id`. */
  private async openVerified(id: FileId): Promise<boolean> {
    try {
      this.handle = await openFd(this.partPath, fs.constants.O_RDWR | (fs.constants.O_NOFOLLOW ?? 0));
      this.id = idOf(await fstatBig(this.handle));
      if (this.id === id) return true;
    } catch (err) {
      this.log('warn', `${this.meta.contentName}: cannot resume from ${this.partPath} (${(err as Error).message}); starting afresh`);
    }
    await this.closeFd();
    return false;
  }

  /** Creates the .part and then its sidecar, both with O_EXCL: neither may already exist. */
  private async create(): Promise<boolean> {
    this.written = new RangeSet();
    this.resumed = 0;
    try {
      // Read-write: the hasher reads back chunks that arrived out of order.
      this.handle = await openFd(this.partPath, 'wx+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw fsError(err, `creating ${this.partPath}`);
    }
    this.id = idOf(await fstatBig(this.handle));
    try {
      await fsp.writeFile(this.sidecarPath, sidecarText(this.sidecarBody, []), { flag: 'wx' });
      return true;
    } catch (err) {
      await this.closeFd();
      await removeIfOurs(this.partPath, this.id);
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw fsError(err, `creating ${this.sidecarPath}`);
    }
  }

  private async closeFd(): Promise<void> {
    if (this.handle < 0) return;
    const fd = this.handle;
    this.handle = -1;
    await new Promise<void>((resolve) =>
      fs.close(fd, (err) => {
        if (err) this.log('warn', `closing ${this.partPath}: ${err.message}`);
        resolve();
      }),
    );
  }
}

/** `.x.abc.part` for n = 0, `.x.abc~n.part` after that. */
function alternatePartPath(partPath: string, n: number): string {
  return n === 0 ? partPath : partPath.replace(/\.part$/, `~${n}.part`);
}

/**
 * Unlinks the .part only while it is the file with identity `partId`, and the sidecar only while it
 * names that same .part: a helper name that now holds someone else's file is left alone.
 */
async function removeIfOurs(partPath: string, partId: FileId, sidecarPath?: string): Promise<void> {
  if (sidecarPath) {
    const sidecar = await readSidecar(sidecarPath);
    if (sidecar !== 'foreign' && sidecar !== 'absent' && sidecar.partId === partId) await fsp.unlink(sidecarPath).catch(() => undefined);
  }
  if ((await idAtPath(partPath).catch(() => undefined)) === partId) await fsp.unlink(partPath).catch(() => undefined);
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

/** Rewrites the sidecar (tmp file + rename) at most every SIDECAR_EVERY_MS, so a crash leaves the old or the new one, never half. */
class SidecarWriter {
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly body: SidecarBody,
    private readonly ranges: () => [number, number][],
    private readonly log: Log,
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
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    let created = false;
    try {
      await fsp.writeFile(tmp, sidecarText(this.body, this.ranges()), { flag: 'wx' });
      created = true;
      await fsp.rename(tmp, this.file);
    } catch (err) {
      // Only a tmp this process created is removed; a name that was taken stays as it was.
      if (created) await removeQuietly(tmp);
      // Losing the sidecar only costs a later resume; the download itself goes on.
      this.log('warn', `cannot save download progress to ${this.file}: ${(err as Error).message}`);
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

/** What a sidecar holds: the download it belongs to, and the dev+ino of the .part it was written for. */
interface SidecarBody extends PartMeta {
  partId: FileId;
}

function sidecarText(body: SidecarBody, ranges: [number, number][]): string {
  return JSON.stringify({ version: SIDECAR_VERSION, ...body, ranges });
}

/**
 * The sidecar at `file`: 'absent', 'foreign' (not a sidecar this version of P2P Share wrote: never
 * touched), or its parsed body with ranges not yet checked against a download.
 */
async function readSidecar(file: string): Promise<'absent' | 'foreign' | (SidecarBody & { ranges: unknown })> {
  let data: unknown;
  try {
    const st = await fsp.lstat(file);
    if (!st.isFile() || st.size > 16 * 1024 * 1024) return 'foreign';
    data = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'foreign';
  }
  const d = data as Partial<SidecarBody> & { version?: unknown; ranges?: unknown };
  if (d?.version !== SIDECAR_VERSION || typeof d.partId !== 'string' || typeof d.sha256 !== 'string') return 'foreign';
  return d as SidecarBody & { ranges: unknown };
}

/** The sidecar's ranges when it is for this content and every range is sane, else undefined. */
function matchingRanges(d: PartMeta & { ranges: unknown }, sha256: string, size: number): [number, number][] | undefined {
  if (d.sha256 !== sha256 || d.size !== size || !Array.isArray(d.ranges)) return undefined;
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
