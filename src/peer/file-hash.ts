// The SHA-256 of a file on disk, streamed, and the stamp that says whether the file changed since.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { P2PError, toP2PError } from '../protocol/errors';
import { LeafCollector } from '../protocol/pieces';

/** Which file this is, whatever name leads to it: a share is bound to it, not to its path. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/** What identifies one version of a file on disk without reading it. */
export interface FileStamp extends FileIdentity {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * Read-only, and the last path component must not be a symbolic link (ELOOP otherwise). Windows has
 * no O_NOFOLLOW; there lstat and the identity check stand in for it.
 */
const OPEN_NO_FOLLOW = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0);

/** Times a file is hashed again when it keeps changing while being read, before the last result is kept. */
const HASH_ATTEMPTS = 3;

/** Big reads: hashing is bound by the disk and by crypto, not by memory. */
export const HASH_READ_BYTES = 1 << 20;

export function stampOf(st: fs.Stats): FileStamp {
  return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, dev: st.dev, ino: st.ino };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && sameIdentity(a, b);
}

/**
 * Opens a regular file for reading without following a symbolic link at its last component; NOT_A_FILE
 * when it is a link, a folder or anything else. The stats are the opened file's own (fstat), so they
 * say which file was opened, whatever happened to the path meanwhile.
 */
export async function openNoFollow(file: string): Promise<{ fh: fs.promises.FileHandle; st: fs.Stats }> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, OPEN_NO_FOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new P2PError('NOT_A_FILE', `${file} is a symbolic link`, err);
    throw toP2PError(err, file);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new P2PError('NOT_A_FILE', `${file} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}`);
    return { fh, st };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw toP2PError(err, file);
  }
}

/** The file's stats; FILE_NOT_FOUND, NOT_A_FILE or another P2PError when it is not a readable regular file. */
export async function statRegularFile(file: string): Promise<fs.Stats> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (err) {
    throw toP2PError(err, file);
  }
  if (!st.isFile()) throw new P2PError('NOT_A_FILE', `${file} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}`);
  return st;
}

/**
 * One streamed pass of SHA-256 (lower-case hex) over the file as it is now. Read errors are thrown as
 * Node gives them, so each caller says in its own words what it was doing.
 */
export async function readSha256(file: string, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: HASH_READ_BYTES, signal })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Streams the file through SHA-256, opened without following a symbolic link (openNoFollow). When the
 * file changes while it is read (its stamp before and after differ), it is read again, so the hash
 * matches one real version of the file. The stamp is the opened file's, identity included. Aborting
 * `signal` stops the read with CANCELLED.
 */
export async function hashFile(file: string, signal?: AbortSignal): Promise<FileHashes & { stamp: FileStamp }> {
  for (let attempt = 1; ; attempt++) {
    const { fh, st } = await openNoFollow(file);
    try {
      const before = stampOf(st);
      let read: FileHashes;
      try {
        read = await readSha256Of(fh, signal);
      } catch (err) {
        throw toP2PError(err, file);
      }
      const after = stampOf(await fh.stat());
      if ((sameStamp(before, after) && after.size === read.size) || attempt >= HASH_ATTEMPTS) {
        return { ...read, stamp: { ...after, size: read.size } };
      }
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
}

/** What one pass over a file yields: its size, whole SHA-256 and piece leaves (docs/protocol.md, "Pieces"). */
export interface FileHashes {
  size: number;
  sha256: string;
  /** 32 bytes a piece, end to end: 1/32768 of the file's size, kept in memory per share. */
  leaves: Buffer;
}

/** One streamed pass of SHA-256 over an open file, from its start; the piece leaves are taken in the same pass. */
async function readSha256Of(fh: fs.promises.FileHandle, signal?: AbortSignal): Promise<FileHashes> {
  const hash = createHash('sha256');
  const leaves = new LeafCollector();
  let size = 0;
  if (signal?.aborted) throw new P2PError('CANCELLED', 'hashing was cancelled');
  // Checked between reads rather than handed to the stream, whose abort error would escape the file handle's close.
  const stream = fh.createReadStream({ start: 0, highWaterMark: HASH_READ_BYTES, autoClose: false });
  for await (const chunk of stream) {
    if (signal?.aborted) {
      stream.destroy();
      throw new P2PError('CANCELLED', 'hashing was cancelled');
    }
    hash.update(chunk as Buffer);
    leaves.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex'), leaves: leaves.finish() };
}
