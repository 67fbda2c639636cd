// This peer's own shares: streamed SHA-256 of each file, lookup for the content server, watching for change.
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { P2PError, toP2PError } from '../protocol/errors';
import { validateContentName } from '../protocol/names';
import { merkleRoot } from '../protocol/pieces';
import type { LogLevel, Share } from './api';
import { FileStamp, hashFile, sameIdentity, sameStamp, stampOf } from './file-hash';

/**
 * What the content server needs to serve one share (structurally the ContentServer's ServedFile):
 * `dev` and `ino` say which file was hashed, so a path that now leads to another file is refused.
 */
export interface SharedFile {
  path: string;
  size: number;
  sha256: string;
  dev: number;
  ino: number;
  /** Piece leaves, 32 bytes each, answered to P requests. */
  leaves?: Buffer;
}

/** A hashed file, ready to be stored with put() (Peer registers it at the index first). */
export interface PreparedShare {
  share: Share;
  stamp: FileStamp;
  leaves: Buffer;
  /** The path with every folder link resolved, at hashing time: a later change means the path leads elsewhere. */
  realPath: string;
}

export interface ShareBookOptions {
  /** Re-hash shared files that change on disk and drop the ones deleted. Default true. */
  watch?: boolean;
  /** Quiet time after the last file-system event before a file is looked at again. Default 300 ms. */
  debounceMs?: number;
  /**
   * 'native' uses the platform's folder events and polls only where they are unavailable; 'poll' always
   * polls, for network drives whose changes made on another machine raise no local event. Default 'native'.
   */
  watchMethod?: 'native' | 'poll';
  /** Stat polling interval when polling. Default 2000 ms. */
  pollIntervalMs?: number;
  log?: (level: LogLevel, message: string) => void;
}

/** Events of a ShareBook (Node EventEmitter). */
export interface ShareBookEvents {
  /** A shared file changed on disk and was hashed again; `share` carries the new size and hash. */
  'share-changed': (share: Share, previous: Share) => void;
  /**
   * A shared file is no longer shared: deleted or moved away (FILE_NOT_FOUND), unreadable, replaced by a
   * symbolic link or something that is not a regular file (NOT_A_FILE), or its path now leads to another
   * file than the user's own (BAD_PATH: a folder on the path became a link, or a hard link took its place).
   */
  'share-removed': (share: Share, reason: P2PError) => void;
}

/** Watches one folder for events on the names it is given; falls back to stat polling where fs.watch fails. */
class FolderWatch {
  private watcher?: fs.FSWatcher;
  private readonly names = new Set<string>();
  private readonly polled = new Set<string>();

  constructor(
    private readonly folder: string,
    private readonly onEvent: (name: string | undefined) => void,
    private readonly pollIntervalMs: number,
    private readonly log: (level: LogLevel, message: string) => void,
    native: boolean,
  ) {
    if (!native) return;
    try {
      // Not persistent: watching shares must never keep the process alive on its own.
      this.watcher = fs.watch(folder, { persistent: false }, (_event, name) => this.onEvent(name ? String(name) : undefined));
      this.watcher.on('error', (err) => {
        this.log('warn', `watching ${folder} failed (${err.message}); polling its shared files instead`);
        this.watcher?.close();
        this.watcher = undefined;
        for (const n of this.names) this.poll(n);
        // Whatever happened to the folder may have happened to the files too.
        this.onEvent(undefined);
      });
    } catch (err) {
      this.log('debug', `cannot watch ${folder} (${(err as Error).message}); polling its shared files instead`);
    }
  }

  get size(): number {
    return this.names.size;
  }

  add(name: string): void {
    this.names.add(name);
    if (!this.watcher) this.poll(name);
  }

  delete(name: string): void {
    this.names.delete(name);
    if (this.polled.delete(name)) fs.unwatchFile(path.join(this.folder, name));
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    for (const n of this.polled) fs.unwatchFile(path.join(this.folder, n));
    this.polled.clear();
    this.names.clear();
  }

  private poll(name: string): void {
    if (this.polled.has(name)) return;
    this.polled.add(name);
    fs.watchFile(path.join(this.folder, name), { persistent: false, interval: this.pollIntervalMs }, () => this.onEvent(name));
  }
}

interface Entry {
  share: Share;
  stamp: FileStamp;
  /** Piece leaves, 32 bytes per MiB shared. */
  leaves: Buffer;
  realPath: string;
}

export interface ShareBook {
  on<K extends keyof ShareBookEvents>(event: K, listener: ShareBookEvents[K]): this;
  once<K extends keyof ShareBookEvents>(event: K, listener: ShareBookEvents[K]): this;
  off<K extends keyof ShareBookEvents>(event: K, listener: ShareBookEvents[K]): this;
  emit<K extends keyof ShareBookEvents>(event: K, ...args: Parameters<ShareBookEvents[K]>): boolean;
}

export class ShareBook extends EventEmitter {
  private readonly entries = new Map<string, Entry>();
  private readonly folders = new Map<string, FolderWatch>();
  private readonly debounce = new Map<string, NodeJS.Timeout>();
  /** Content names being re-checked right now, with whether another check was asked for meanwhile. */
  private readonly checking = new Map<string, { again: boolean }>();
  private readonly watch: boolean;
  private readonly debounceMs: number;
  private readonly pollIntervalMs: number;
  private readonly native: boolean;
  private readonly log: (level: LogLevel, message: string) => void;
  private closed = false;

  constructor(options: ShareBookOptions = {}) {
    super();
    this.watch = options.watch ?? true;
    this.debounceMs = options.debounceMs ?? 300;
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.native = (options.watchMethod ?? 'native') === 'native';
    if (!(this.debounceMs >= 0)) throw new P2PError('BAD_SETTING', `debounceMs must be 0 or more, got ${options.debounceMs}`);
    if (!(this.pollIntervalMs > 0)) throw new P2PError('BAD_SETTING', `pollIntervalMs must be positive, got ${options.pollIntervalMs}`);
    this.log = options.log ?? (() => undefined);
  }

  /**
   * Checks and hashes a file without sharing it yet. The content name defaults to the file's base name
   * and must be a valid content name (BAD_NAME); the path must be a regular file, not a symbolic link to
   * one (FILE_NOT_FOUND, NOT_A_FILE): a share is the file the user chose, never whatever a link points to.
   */
  async prepare(filePath: string, contentName?: string, signal?: AbortSignal): Promise<PreparedShare> {
    if (typeof filePath !== 'string' || filePath.trim() === '') throw new P2PError('FILE_NOT_FOUND', 'no file path given');
    const absolute = path.resolve(filePath);
    const name = validateContentName(contentName ?? path.basename(absolute));
    const realPath = await realPathOf(absolute);
    const { size, sha256, stamp, leaves } = await hashFile(absolute, signal);
    // A folder on the path that changed while the file was read may have led the read elsewhere.
    if ((await realPathOf(absolute)) !== realPath) throw new P2PError('BAD_PATH', `${absolute} now leads elsewhere (${realPath} before)`);
    const pieceRoot = merkleRoot(leaves).toString('hex');
    return { share: { contentName: name, path: absolute, size, sha256, pieceRoot, registeredAt: new Date() }, stamp, leaves, realPath };
  }

  /** Shares a prepared file, replacing any share with the same content name. */
  put(prepared: PreparedShare): Share {
    this.checkOpen();
    const { share, stamp, leaves, realPath } = prepared;
    const previous = this.entries.get(share.contentName);
    if (previous) {
      this.entries.delete(share.contentName);
      this.unwatch(share.contentName, previous.share.path);
    }
    this.entries.set(share.contentName, { share: { ...share }, stamp: { ...stamp }, leaves, realPath });
    if (this.watch) {
      this.watchPath(share.path);
      // The file may have changed between hashing and watching (no event would tell); one cheap stat settles it.
      this.schedule(share.contentName);
    }
    return { ...share };
  }

  get(contentName: string): Share | undefined {
    const e = this.entries.get(contentName);
    return e ? { ...e.share } : undefined;
  }

  /** The file to serve for a D request, only when this exact content (name and hash) is shared. */
  lookup(contentName: string, sha256hex: string): SharedFile | undefined {
    const e = this.entries.get(contentName);
    if (!e || e.share.sha256 !== sha256hex.toLowerCase()) return undefined;
    return { path: e.share.path, size: e.share.size, sha256: e.share.sha256, dev: e.stamp.dev, ino: e.stamp.ino, leaves: e.leaves };
  }

  /**
   * Someone found the share's path leading to another file than the one hashed (the content server, on
   * a D): look at it now rather than wait for a file-system event, which a swapped folder never raises.
   */
  suspect(contentName: string): void {
    if (!this.closed && this.entries.has(contentName)) this.schedule(contentName);
  }

  /** Stops sharing one content; returns what was shared, if anything. */
  remove(contentName: string): Share | undefined {
    const e = this.entries.get(contentName);
    if (!e) return undefined;
    this.entries.delete(contentName);
    this.unwatch(contentName, e.share.path);
    return { ...e.share };
  }

  /** Every share, in the order they were added. */
  list(): Share[] {
    return [...this.entries.values()].map((e) => ({ ...e.share }));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Stops every watcher; the book keeps its entries but no longer changes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.debounce.values()) clearTimeout(t);
    this.debounce.clear();
    for (const w of this.folders.values()) w.close();
    this.folders.clear();
  }

  // ---- watching ----

  private watchPath(file: string): void {
    const folder = path.dirname(file);
    let w = this.folders.get(folder);
    if (!w) {
      w = new FolderWatch(folder, (name) => this.onFolderEvent(folder, name), this.pollIntervalMs, this.log, this.native);
      this.folders.set(folder, w);
    }
    w.add(path.basename(file));
  }

  private unwatch(contentName: string, file: string): void {
    const t = this.debounce.get(contentName);
    if (t) clearTimeout(t);
    this.debounce.delete(contentName);
    // Another content name may share the same file; keep watching it then.
    if ([...this.entries.values()].some((e) => e.share.path === file)) return;
    const folder = path.dirname(file);
    const w = this.folders.get(folder);
    if (!w) return;
    w.delete(path.basename(file));
    if (w.size === 0) {
      w.close();
      this.folders.delete(folder);
    }
  }

  private onFolderEvent(folder: string, name: string | undefined): void {
    if (this.closed) return;
    for (const [contentName, e] of this.entries) {
      if (path.dirname(e.share.path) !== folder) continue;
      if (name !== undefined && path.basename(e.share.path) !== name) continue;
      this.schedule(contentName);
    }
  }

  /** Editors write in bursts (truncate, write, rename); look at the file once the burst is over. */
  private schedule(contentName: string): void {
    const old = this.debounce.get(contentName);
    if (old) clearTimeout(old);
    this.debounce.set(
      contentName,
      setTimeout(() => {
        this.debounce.delete(contentName);
        void this.recheck(contentName);
      }, this.debounceMs),
    );
  }

  private async recheck(contentName: string): Promise<void> {
    const running = this.checking.get(contentName);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.checking.set(contentName, state);
    try {
      do {
        state.again = false;
        await this.recheckOnce(contentName);
      } while (state.again && !this.closed);
    } finally {
      this.checking.delete(contentName);
    }
  }

  private async recheckOnce(contentName: string): Promise<void> {
    const entry = this.entries.get(contentName);
    if (!entry || this.closed) return;
    let result: Awaited<ReturnType<typeof hashFile>> | undefined;
    let failure: P2PError | undefined;
    try {
      const st = await lstatOf(entry.share.path);
      if (sameStamp(stampOf(st), entry.stamp)) return;
      if (!sameIdentity(stampOf(st), entry.stamp)) await checkStillTheUsers(entry, st);
      result = await hashFile(entry.share.path);
      // The hashed file must be the one the checks above looked at, reached the same way.
      if (!sameIdentity(result.stamp, stampOf(st)) || (await realPathOf(entry.share.path)) !== entry.realPath) {
        throw new P2PError('BAD_PATH', `${entry.share.path} changed while it was checked`);
      }
    } catch (err) {
      failure = toP2PError(err, entry.share.path);
    }
    // The share may have been removed or replaced while the file was read.
    if (this.closed || this.entries.get(contentName) !== entry) return;
    if (failure || !result) {
      const reason = failure ?? new P2PError('IO', entry.share.path);
      this.remove(contentName);
      // Info only: the 'share-removed' event is the news, and each front end tells its user in its own words.
      this.log('info', `stopped sharing "${contentName}": ${reason.message}`);
      this.emit('share-removed', { ...entry.share }, reason);
      return;
    }
    if (result.sha256 === entry.share.sha256 && result.size === entry.share.size) {
      entry.stamp = result.stamp; // touched, or saved unchanged under a new inode
      return;
    }
    const previous = entry.share;
    const pieceRoot = merkleRoot(result.leaves).toString('hex');
    const share: Share = { ...previous, size: result.size, sha256: result.sha256, pieceRoot, registeredAt: new Date() };
    this.entries.set(contentName, { share, stamp: result.stamp, leaves: result.leaves, realPath: entry.realPath });
    this.log('info', `"${contentName}" changed on disk: now ${result.size} bytes, SHA-256 ${result.sha256.slice(0, 12)}…`);
    this.emit('share-changed', { ...share }, { ...previous });
  }

  private checkOpen(): void {
    if (this.closed) throw new P2PError('CLOSED', 'the share book is closed');
  }
}

/** The path's own stats, a symbolic link not followed. */
async function lstatOf(file: string): Promise<fs.Stats> {
  try {
    return await fs.promises.lstat(file);
  } catch (err) {
    throw toP2PError(err, file);
  }
}

async function realPathOf(file: string): Promise<string> {
  try {
    return await fs.promises.realpath(file);
  } catch (err) {
    throw toP2PError(err, file);
  }
}

/**
 * The path now holds another file than the one registered. Editors save by writing a new file and
 * renaming it over the old one, so a new regular file with one name, reached through the same folders,
 * is still the user's file at that path. A symbolic link never is (it may point at any private file),
 * nor is a file with other names too (a hard link to someone else's file), nor a path whose folders
 * now lead elsewhere.
 */
async function checkStillTheUsers(entry: Entry, st: fs.Stats): Promise<void> {
  const file = entry.share.path;
  if (st.isSymbolicLink()) throw new P2PError('NOT_A_FILE', `${file} was replaced by a symbolic link`);
  if (!st.isFile()) throw new P2PError('NOT_A_FILE', `${file} was replaced by ${st.isDirectory() ? 'a folder' : 'something that is not a regular file'}`);
  if (st.nlink !== 1) throw new P2PError('BAD_PATH', `${file} was replaced by a file with ${st.nlink} names (a hard link)`);
  const real = await realPathOf(file);
  if (real !== entry.realPath) throw new P2PError('BAD_PATH', `${file} now leads to ${real}, not ${entry.realPath}`);
}
