// The .part file being filled: opened for resume or afresh, which ranges hold data (RangeSet), and its .part.json sidecar.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import type { LogLevel } from '../api';
import { fsError, ftruncate, openFd, removeQuietly } from './fs-calls';

const SIDECAR_EVERY_MS = 250;
const SIDECAR_VERSION = 1;

type Log = (level: LogLevel, message: string) => void;

/** What the sidecar says the .part holds; a sidecar for anything else is not resumed from. */
export interface PartMeta {
  contentName: string;
  sha256: string;
  size: number;
}

/** The .part file, its fd, and the ranges of it that are known to hold received bytes. */
export class PartFile {
  private handle = -1;
  private written = new RangeSet();
  private resumed = 0;
  private sidecar!: SidecarWriter;
  readonly sidecarPath: string;

  private constructor(
    readonly path: string,
    private readonly meta: PartMeta,
    private readonly log: Log,
  ) {
    this.sidecarPath = `${path}.json`;
  }

  static async open(partPath: string, meta: PartMeta, log: Log): Promise<PartFile> {
    const part = new PartFile(partPath, meta, log);
    await part.openForResumeOrAfresh();
    part.sidecar = new SidecarWriter(part.sidecarPath, meta, () => part.written.toJSON(), log);
    return part;
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

  /** Stops the sidecar (with `final`, after writing its last state) and closes the fd. */
  async close(final: boolean): Promise<void> {
    await this.sidecar.close(final);
    await this.closeFd();
  }

  /** Removes the .part and its sidecar; only after close(). */
  async remove(): Promise<void> {
    await removeQuietly(this.path);
    await removeQuietly(this.sidecarPath);
  }

  /** Opens the .part for resume when its sidecar matches, else creates it afresh (never reusing a stranger's file). */
  private async openForResumeOrAfresh(): Promise<void> {
    const { contentName: name, sha256, size } = this.meta;
    const resumed = await readSidecar(this.sidecarPath, sha256, size);
    if (resumed) {
      try {
        const st = await fsp.lstat(this.path);
        // Only a plain file of our own: a second hard link would mean writing into someone else's file.
        if (st.isFile() && st.nlink === 1) {
          this.handle = await openFd(this.path, fs.constants.O_RDWR | (fs.constants.O_NOFOLLOW ?? 0));
          // Claims beyond what the file holds cannot be true (a crash before the data reached the disk).
          for (const [a, b] of resumed) if (a < st.size) this.written.add(a, Math.min(b, st.size));
          this.resumed = this.written.total();
          if (size > 0 && st.size > size) await ftruncate(this.handle, size);
          this.log('info', `${name}: resuming with ${this.resumed} of ${size} bytes already in ${this.path}`);
          return;
        }
      } catch (err) {
        if (this.handle >= 0) await this.closeFd();
        this.log('warn', `${name}: cannot resume from ${this.path} (${(err as Error).message}); starting afresh`);
      }
    }
    this.written = new RangeSet();
    await removeQuietly(this.sidecarPath);
    try {
      await fsp.unlink(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, `removing a stale ${this.path}`);
    }
    try {
      // Read-write: the hasher reads back chunks that arrived out of order.
      this.handle = await openFd(this.path, 'wx+');
    } catch (err) {
      throw fsError(err, `creating ${this.path}`);
    }
  }

  private async closeFd(): Promise<void> {
    if (this.handle < 0) return;
    const fd = this.handle;
    this.handle = -1;
    await new Promise<void>((resolve) =>
      fs.close(fd, (err) => {
        if (err) this.log('warn', `closing ${this.path}: ${err.message}`);
        resolve();
      }),
    );
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

/** Rewrites the sidecar (tmp file + rename) at most every SIDECAR_EVERY_MS, so a crash leaves the old or the new one, never half. */
class SidecarWriter {
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly meta: PartMeta,
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
    const body = JSON.stringify({ version: SIDECAR_VERSION, ...this.meta, ranges: this.ranges() });
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fsp.writeFile(tmp, body, { flag: 'wx' });
      await fsp.rename(tmp, this.file);
    } catch (err) {
      await removeQuietly(tmp);
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
