// The per-(content, hash) lock file that lets any number of processes share one download folder: O_EXCL create, owner pid, stale takeover.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import { P2PError } from '../../protocol/errors';
import { FileId, fsError, idAtPath, idOf } from './fs-calls';

/** Marks a lock file as ours; anything else at the lock name is a stranger's file and is never touched. */
const LOCK_MARK = 'p2p-share download lock';
const MAX_LOCK_BYTES = 4096;
/** Takeover races (two processes finding the same dead owner) settle within a few rounds. */
const MAX_ROUNDS = 5;

interface LockBody {
  mark: typeof LOCK_MARK;
  pid: number;
  host: string;
  startedAt: string;
}

/**
 * A held lock. Another process that wants the same (content, hash) in the same folder gets BUSY
 * naming this pid, until release() or until this process dies (then the lock is stale and taken over).
 */
export class FolderLock {
  private constructor(
    readonly path: string,
    private readonly id: FileId,
  ) {}

  /** Creates the lock, taking over one left by a dead process; BUSY while a live one holds it. */
  static async acquire(lockPath: string, what: string): Promise<FolderLock> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const mine = await tryCreate(lockPath);
      if (mine) return new FolderLock(lockPath, mine);
      const found = await readLock(lockPath);
      if (found === 'gone') continue;
      if (found === 'foreign') {
        throw new P2PError('IO', `${lockPath} exists but was not created by P2P Share; it is left alone, so ${what} cannot be downloaded here until it is moved away`);
      }
      if (isAlive(found.body)) {
        const who = found.body.pid > 0 ? `process ${found.body.pid} on ${found.body.host} (since ${found.body.startedAt})` : 'another process';
        throw new P2PError('BUSY', `${what} is already being downloaded into this folder by ${who}; try again when it has finished`);
      }
      await takeOver(lockPath, found.id);
    }
    throw new P2PError('BUSY', `${what}: other processes keep taking the download lock ${lockPath}; try again`);
  }

  /** Removes the lock file, but only while it is still the very file this process created. */
  async release(): Promise<void> {
    try {
      if ((await idAtPath(this.path)) === this.id) await fsp.unlink(this.path);
    } catch {
      // A lock left behind names a pid that is gone by then; the next download takes it over.
    }
  }
}

async function tryCreate(lockPath: string): Promise<FileId | undefined> {
  const body: LockBody = { mark: LOCK_MARK, pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw fsError(err, `creating the download lock ${lockPath}`);
  }
  try {
    await handle.writeFile(JSON.stringify(body));
    return idOf(await handle.stat({ bigint: true }));
  } catch (err) {
    // The file is ours (created by the O_EXCL open above), so removing it is safe.
    await fsp.unlink(lockPath).catch(() => undefined);
    throw fsError(err, `writing the download lock ${lockPath}`);
  } finally {
    await handle.close();
  }
}

type Found = 'gone' | 'foreign' | { body: LockBody; id: FileId };

async function readLock(lockPath: string): Promise<Found> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(lockPath, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'gone';
    if (code === 'ELOOP') return 'foreign';
    throw fsError(err, `reading the download lock ${lockPath}`);
  }
  try {
    const st = await handle.stat({ bigint: true });
    if (!st.isFile() || st.size > BigInt(MAX_LOCK_BYTES)) return 'foreign';
    const text = await handle.readFile('utf8');
    // A lock being written right now is briefly empty: its creator is alive by definition.
    if (text === '') return { body: { mark: LOCK_MARK, pid: -1, host: os.hostname(), startedAt: 'now' }, id: idOf(st) };
    const body = JSON.parse(text) as Partial<LockBody>;
    if (body?.mark !== LOCK_MARK || !Number.isSafeInteger(body.pid) || typeof body.host !== 'string' || typeof body.startedAt !== 'string') return 'foreign';
    return { body: body as LockBody, id: idOf(st) };
  } catch {
    return 'foreign';
  } finally {
    await handle.close();
  }
}

/** A lock from another host (a shared network folder) cannot be checked, so it counts as alive. */
function isAlive(body: LockBody): boolean {
  if (body.pid <= 0 || body.host !== os.hostname()) return true;
  try {
    process.kill(body.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes the dead owner's lock, and nothing else: the lock is first renamed to a name only this
 * process uses, then checked to be the very file judged stale. Had another process already replaced
 * it with a live lock, that lock is linked back (never over an existing name) before anything is removed.
 */
async function takeOver(lockPath: string, staleId: FileId): Promise<void> {
  const aside = `${lockPath}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await fsp.rename(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fsError(err, `taking over the stale download lock ${lockPath}`);
  }
  if ((await idAtPath(aside)) !== staleId) {
    await fsp.link(aside, lockPath).catch(() => undefined);
  }
  await fsp.unlink(aside).catch(() => undefined);
}
