// Open shared files kept per (content name, hash), so a request costs an fstat, not an open, stat and close.
import type { promises as fsp, Stats } from 'node:fs';
import { openNoFollow, sameIdentity } from './file-hash';

/** The share as its owner records it now: the cached handle must be of this very file. */
export interface FileRecord {
  path: string;
  dev: number;
  ino: number;
}

/** A handle lent to one request; `release` gives it back (closed once dropped and no longer lent). */
export interface LentFile {
  fh: fsp.FileHandle;
  /** Fresh: from the open, or an fstat of the cached handle (a file truncated in place shows here). */
  st: Stats;
  release(): void;
}

interface Entry {
  record: FileRecord;
  opened: Promise<fsp.FileHandle>;
  lent: number;
  dropped: boolean;
  lastUsed: number;
}

export interface OpenFileCacheOptions {
  /** Handles kept open while not lent; least recently used go first. */
  maxIdleFiles: number;
  /** A handle not used for this long is closed by the next sweep. */
  idleMs: number;
  /** Whether a key still names this record; a share changed or removed answers false and its handle is dropped. */
  stillShared(key: string, record: FileRecord): boolean;
  onCloseError(err: Error): void;
}

export class OpenFileCache {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: OpenFileCacheOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, opts.idleMs / 2));
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Lends the handle of `record`, opening it (never through a link) when none is cached or the cached
   * one is of another file than the share records now: a re-validation on every request.
   */
  async lend(key: string, record: FileRecord): Promise<LentFile> {
    let entry = this.entries.get(key);
    if (entry && (entry.record.path !== record.path || !sameIdentity(entry.record, record))) {
      this.drop(key);
      entry = undefined;
    }
    let fresh: Stats | undefined;
    if (!entry) {
      const opening = openNoFollow(record.path);
      entry = { record: { ...record }, opened: opening.then((o) => o.fh), lent: 0, dropped: false, lastUsed: Date.now() };
      // A failed open is never cached: the next request tries again.
      entry.opened.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
      this.entries.set(key, entry);
      entry.lent++;
      try {
        fresh = (await opening).st;
      } catch (err) {
        entry.lent--;
        throw err;
      }
    } else {
      entry.lent++;
    }
    const e = entry;
    let fh: fsp.FileHandle;
    let st: Stats;
    try {
      fh = await e.opened;
      st = fresh ?? (await fh.stat());
    } catch (err) {
      this.giveBack(e);
      throw err;
    }
    e.lastUsed = Date.now();
    let given = false;
    return {
      fh,
      st,
      release: () => {
        if (given) return;
        given = true;
        this.giveBack(e);
      },
    };
  }

  /** Forgets `key`'s handle; it closes as soon as no request holds it. */
  drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    e.dropped = true;
    if (e.lent === 0) this.closeEntry(e);
  }

  /** Closes every handle not lent; lent ones close on release. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.entries.keys()];
    for (const k of all) this.drop(k);
    await Promise.all([...this.closing]);
  }

  private readonly closing = new Set<Promise<void>>();

  private giveBack(e: Entry): void {
    e.lent--;
    e.lastUsed = Date.now();
    if (e.lent > 0) return;
    if (e.dropped) this.closeEntry(e);
    else this.trim();
  }

  private closeEntry(e: Entry): void {
    // A handle that never opened has nothing to close; its error went to the request that asked.
    const p = e.opened.then(
      (fh) => fh.close().catch((err: Error) => this.opts.onCloseError(err)),
      () => undefined,
    );
    this.closing.add(p);
    void p.then(() => this.closing.delete(p));
  }

  private trim(): void {
    const idle = [...this.entries].filter(([, e]) => e.lent === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (let i = 0; i < idle.length - this.opts.maxIdleFiles; i++) this.drop(idle[i][0]);
  }

  /** Closes handles unused for idleMs and those whose share changed or went away. */
  private sweep(): void {
    const now = Date.now();
    for (const [key, e] of [...this.entries]) {
      let keep: boolean;
      try {
        keep = this.opts.stillShared(key, e.record);
      } catch {
        keep = false;
      }
      if (!keep || (e.lent === 0 && now - e.lastUsed >= this.opts.idleMs)) this.drop(key);
    }
  }
}
