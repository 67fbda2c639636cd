// The download folder's thin layer over Node's fs: fd-level calls as promises, quiet removal, file identity (dev+ino), and fs failures as P2PError.
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { P2PError, toP2PError } from '../../protocol/errors';

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
