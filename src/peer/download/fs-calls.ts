// The download folder's thin layer over Node's fs: fd-level calls as promises, quiet removal, file identity (dev+ino), and fs failures as P2PError.
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { P2PError, toP2PError } from '../../protocol/errors';

/** Each file system step before the transfer finishes within this or fails: a stuck mount must not hang a download silently. */
export const FS_STEP_MS = 10_000;

/** `work`, or IO once `ms` have passed (the call itself cannot be stopped; the download no longer waits for it). */
export function withinTime<T>(work: Promise<T>, what: string, ms = FS_STEP_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new P2PError('IO', `${what} did not finish within ${ms / 1000} s`)), ms);
  });
  work.catch(() => undefined); // may fail after the deadline, with nobody left to hear it
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * mkdir -p, one level at a time. Node's recursive mkdir spins for ever where a parent exists but refuses
 * children (/proc/nope); here each level is tried once and a file in the way is named.
 */
export async function makeFolder(folder: string): Promise<void> {
  const missing: string[] = [];
  for (let at = path.resolve(folder); ; at = path.dirname(at)) {
    let st: fs.Stats;
    try {
      st = await fsp.stat(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && path.dirname(at) !== at) {
        missing.unshift(at);
        continue;
      }
      throw fsError(err, `creating the download folder ${folder}`);
    }
    if (!st.isDirectory()) throw new P2PError('BAD_PATH', `${at} is a file, so the download folder ${folder} cannot be created there`);
    break;
  }
  for (const dir of missing) {
    try {
      await fsp.mkdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await fsp.stat(dir).catch(() => undefined))?.isDirectory()) continue;
      if (code === 'ENOENT') throw new P2PError('BAD_PATH', `${path.dirname(dir)} does not accept new folders, so the download folder ${folder} cannot be created`, err);
      throw fsError(err, `creating the download folder ${folder}`);
    }
  }
}

/** toP2PError for file system failures: ENOSPC is DISK_FULL, anything without a better code is IO. */
export function fsError(err: unknown, context: string): P2PError {
  const e = toP2PError(err, context);
  return e.code === 'UNKNOWN' ? new P2PError('IO', `${context}: ${(err as Error)?.message ?? err}`, err) : e;
}

export async function removeQuietly(file: string): Promise<void> {
  await fsp.rm(file, { force: true }).catch(() => undefined);
}

export function openFd(file: string, flags: string | number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, flags, 0o666, (err, fd) => (err ? reject(err) : resolve(fd))));
}

export function ftruncate(fd: number, len: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, len, (err) => (err ? reject(err) : resolve())));
}

export function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** dev+ino as text: the identity of one file, whatever name it sits under (bigint so huge inode numbers compare exactly). */
export type FileId = string;

export function idOf(st: fs.BigIntStats): FileId {
  return `${st.dev}:${st.ino}`;
}

export async function idAtPath(file: string): Promise<FileId | undefined> {
  try {
    return idOf(await fsp.lstat(file, { bigint: true }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function fstatBig(fd: number): Promise<fs.BigIntStats> {
  return new Promise((resolve, reject) => fs.fstat(fd, { bigint: true }, (err, st) => (err ? reject(err) : resolve(st))));
}
