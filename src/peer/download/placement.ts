// Where a download lands: .part, lock and final names, the folder containment check, reuse of an identical file, and no-clobber placement.
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { P2PError } from '../../protocol/errors';
import { MAX_NAME_BYTES } from '../../protocol/messages';
import { cutUtf8 } from '../../protocol/wire';
import { HASH_READ_BYTES, readSha256 } from '../file-hash';
import { fsError, fstatBig, idAtPath, idOf, readAt, removeQuietly } from './fs-calls';

/** The content-name part of .part file names is cut to this many bytes so every helper name fits NAME_MAX. */
const PART_NAME_BYTES = 200;
const MAX_NAME_CANDIDATES = 1000;

/** `.<name>.<first 12 hex of sha256>.part`, with the name cut so every helper file name fits in 255 bytes. */
export function partFileName(contentName: string, sha256: string): string {
  return `.${cutUtf8(contentName, PART_NAME_BYTES)}.${sha256.slice(0, 12).toLowerCase()}.part`;
}

/** `.<name>.<first 12 hex of sha256>.lock`: one per (content, hash) and folder, shared by every process. */
export function lockFileName(contentName: string, sha256: string): string {
  return partFileName(contentName, sha256).replace(/\.part$/, '.lock');
}

/** The n-th name to try: "name.ext", "name (1).ext", "name (2).ext", ... each within 255 bytes. */
export function candidateName(name: string, n: number): string {
  if (n === 0) return name;
  const m = /^(.+?)((?:\.tar)?\.[^.\s]{1,16})$/i.exec(name);
  let stem = m ? m[1] : name;
  const ext = m ? m[2] : '';
  const suffix = ` (${n})`;
  const room = MAX_NAME_BYTES - Buffer.byteLength(suffix + ext);
  if (room <= 0) return cutUtf8(name, MAX_NAME_BYTES - Buffer.byteLength(suffix)) + suffix;
  stem = cutUtf8(stem, room);
  return stem + suffix + ext;
}

/**
 * path.join(folder, name), refused unless it stays inside folder whatever the name holds. Only ".."
 * itself (or a path through it) leaves; "..notes.txt" is a plain file name.
 */
export function insideFolder(folder: string, name: string): string {
  const target = path.resolve(folder, name);
  const rel = path.relative(folder, target);
  if (rel === '' || rel === '..' || path.isAbsolute(rel) || rel.includes(path.sep)) {
    throw new P2PError('BAD_NAME', `content name ${JSON.stringify(name)} would be saved outside ${folder}`);
  }
  return target;
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new P2PError('CANCELLED', 'the download was cancelled before it started');
}

/** An existing candidate name ("x", "x (1)", ...) that already holds exactly this content. */
export async function findIdentical(folder: string, name: string, size: number, sha256: string, signal?: AbortSignal): Promise<string | undefined> {
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
    const candidate = insideFolder(folder, candidateName(name, n));
    let st: fs.Stats;
    try {
      st = await fsp.lstat(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, `checking ${candidate}`);
    }
    throwIfAborted(signal);
    if (!st.isFile() || st.size !== size) continue;
    if ((await sha256Of(candidate, signal)) === sha256) return candidate;
  }
  return undefined;
}

/** The .part to place: its name, and the fd its bytes were written and hashed through. */
export interface WrittenPart {
  path: string;
  fd: number;
}

/**
 * Gives the finished .part its final name without ever replacing a file: a hard link fails when the
 * name exists (then the next candidate name is tried); where links are unsupported, an exclusive copy
 * is made from the fd and removed again if it fails half-way. The file placed must be the one written:
 * the .part name is checked against the fd (dev+ino) right before linking, and the new name right
 * after; a .part that another process unlinked or replaced is never placed.
 */
export async function placeNoClobber(part: WrittenPart, folder: string, name: string): Promise<string> {
  const written = idOf(await fstatBig(part.fd));
  let linkWorks = true;
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
    const target = insideFolder(folder, candidateName(name, n));
    if (linkWorks) {
      if ((await idAtPath(part.path).catch(() => undefined)) !== written) throw replaced(part.path);
      try {
        await fsp.link(part.path, target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK', 'EACCES'].includes(code ?? '')) throw fsError(err, `saving ${target}`);
        linkWorks = false;
      }
      if (linkWorks) {
        // Swapped between the check and the link: the name we just made points at a stranger's bytes.
        if ((await idAtPath(target).catch(() => undefined)) === written) return target;
        await fsp.unlink(target).catch(() => undefined);
        throw replaced(part.path);
      }
    }
    try {
      await copyFromFd(part.fd, target);
      return target;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw fsError(err, `saving ${target}`);
    }
  }
  throw new P2PError('IO', `no free name for ${name} in ${folder} after ${MAX_NAME_CANDIDATES} tries`);
}

function replaced(partPath: string): P2PError {
  return new P2PError('IO', `${partPath} was removed or replaced by another process while downloading; nothing was saved under the final name, try the download again`);
}

/** Copies the written bytes from `fd` into a new file `target` (O_EXCL), removing the copy if it fails half-way. */
async function copyFromFd(fd: number, target: string): Promise<void> {
  const out = await fsp.open(target, 'wx');
  try {
    const buf = Buffer.allocUnsafe(HASH_READ_BYTES);
    for (let pos = 0; ; ) {
      const n = await readAt(fd, buf, buf.length, pos);
      if (n === 0) break;
      await out.write(buf, 0, n);
      pos += n;
    }
    await out.close();
  } catch (err) {
    await out.close().catch(() => undefined);
    // Created by the O_EXCL open above, so ours to remove.
    await removeQuietly(target);
    throw err;
  }
}

async function sha256Of(file: string, signal?: AbortSignal): Promise<string> {
  try {
    return (await readSha256(file, signal)).sha256;
  } catch (err) {
    throw fsError(err, `reading ${file}`);
  }
}
