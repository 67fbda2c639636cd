// Where a download lands: .part and final names, the folder containment check, reuse of an identical file, and no-clobber placement.
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { P2PError } from '../../protocol/errors';
import { MAX_NAME_BYTES } from '../../protocol/messages';
import { cutUtf8 } from '../../protocol/wire';
import { readSha256 } from '../file-hash';
import { fsError, removeQuietly } from './fs-calls';

/** The content-name part of .part file names is cut to this many bytes so every helper name fits NAME_MAX. */
const PART_NAME_BYTES = 200;
const MAX_NAME_CANDIDATES = 1000;

/** `.<name>.<first 12 hex of sha256>.part`, with the name cut so every helper file name fits in 255 bytes. */
export function partFileName(contentName: string, sha256: string): string {
  return `.${cutUtf8(contentName, PART_NAME_BYTES)}.${sha256.slice(0, 12).toLowerCase()}.part`;
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

/**
 * Gives the finished .part its final name without ever replacing a file: a hard link fails when the
 * name exists (then the next candidate name is tried); where links are unsupported, an exclusive copy
 * is made and removed again if it fails half-way.
 */
export async function placeNoClobber(partPath: string, folder: string, name: string): Promise<string> {
  let linkWorks = true;
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
    const target = insideFolder(folder, candidateName(name, n));
    if (linkWorks) {
      try {
        await fsp.link(partPath, target);
        return target;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK', 'EACCES'].includes(code ?? '')) throw fsError(err, `saving ${target}`);
        linkWorks = false;
      }
    }
    try {
      await fsp.copyFile(partPath, target, fs.constants.COPYFILE_EXCL);
      return target;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      await removeQuietly(target);
      throw fsError(err, `saving ${target}`);
    }
  }
  throw new P2PError('IO', `no free name for ${name} in ${folder} after ${MAX_NAME_CANDIDATES} tries`);
}

async function sha256Of(file: string, signal?: AbortSignal): Promise<string> {
  try {
    return (await readSha256(file, signal)).sha256;
  } catch (err) {
    throw fsError(err, `reading ${file}`);
  }
}
