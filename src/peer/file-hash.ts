// The SHA-256 of a file on disk, streamed, and the stamp that says whether the file changed since.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { P2PError, toP2PError } from '../protocol/errors';

/** What identifies one version of a file on disk without reading it. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** Times a file is hashed again when it keeps changing while being read, before the last result is kept. */
const HASH_ATTEMPTS = 3;

/** Big reads: hashing is bound by the disk and by crypto, not by memory. */
export const HASH_READ_BYTES = 1 << 20;

export function stampOf(st: fs.Stats): FileStamp {
  return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
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
 * Streams the file through SHA-256. When the file changes while it is read (its stamp before and after
 * differ), it is read again, so the hash matches one real version of the file. Aborting `signal` stops
 * the read with CANCELLED.
 */
export async function hashFile(file: string, signal?: AbortSignal): Promise<{ size: number; sha256: string; stamp: FileStamp }> {
  let before = stampOf(await statRegularFile(file));
  for (let attempt = 1; ; attempt++) {
    let read: { size: number; sha256: string };
    try {
      read = await readSha256(file, signal);
    } catch (err) {
      throw toP2PError(err, file);
    }
    const after = stampOf(await statRegularFile(file));
    if ((sameStamp(before, after) && after.size === read.size) || attempt >= HASH_ATTEMPTS) {
      return { ...read, stamp: { ...after, size: read.size } };
    }
    before = after;
  }
}
