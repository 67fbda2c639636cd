// The download folder's thin layer over Node's fs: fd-level calls as promises, quiet removal, and fs failures as P2PError.
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
