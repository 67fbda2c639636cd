// p2p-peer's identity across restarts: the peer's 32-byte secret in a state file only this user can read.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { P2PError, toP2PError } from '../protocol/errors';
import { SECRET_BYTES } from '../protocol/messages';

/** Bump when the shape changes; a file of another version is refused, never rewritten (that would lose an identity). */
export const STATE_VERSION = 1;
export const STATE_FOLDER = 'p2p-share';
export const STATE_FILE = 'p2p-peer.json';
/** A state file is a few dozen bytes; anything past this is not ours and is not read into memory. */
const MAX_STATE_BYTES = 4096;
/** O_NOFOLLOW where the platform has it: a link planted under the state file's name is refused, not followed. */
const OPEN_NO_FOLLOW = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0);
/** Owner, group and others bits; a state file keeps only the owner's. */
const GROUP_OTHER_BITS = 0o077;
const GROUP_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

/**
 * The default state file: $XDG_STATE_HOME/p2p-share/p2p-peer.json, else ~/.local/state/p2p-share/p2p-peer.json
 * (on Windows %LOCALAPPDATA%\p2p-share\p2p-peer.json). An XDG_STATE_HOME that is not absolute is ignored, as the spec says.
 */
export function defaultStatePath(env: Record<string, string | undefined>, homeDir: string = os.homedir(), platform = process.platform): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, STATE_FOLDER, STATE_FILE);
  if (platform === 'win32' && env.LOCALAPPDATA && path.isAbsolute(env.LOCALAPPDATA)) return path.join(env.LOCALAPPDATA, STATE_FOLDER, STATE_FILE);
  return path.join(homeDir, '.local', 'state', STATE_FOLDER, STATE_FILE);
}

function refuse(detail: string, cause?: unknown): P2PError {
  return new P2PError('BAD_SETTING', detail, cause);
}

function mode(n: number): string {
  return (n & 0o7777).toString(8).padStart(4, '0');
}

/** Unix only: Windows has neither owners by uid nor these mode bits, and a per-user profile folder stands in for them. */
const checksOwners = typeof process.getuid === 'function';

/**
 * The folder must be the user's (or root's) and not let others replace the file in it: writable by
 * group or others only with the sticky bit (as /tmp).
 */
function checkFolder(folder: string): void {
  if (!checksOwners) return;
  const st = fs.statSync(folder);
  if (!st.isDirectory()) throw refuse(`the folder of the state file, ${folder}, is not a folder`);
  const uid = process.getuid!();
  if (st.uid !== uid && st.uid !== 0) throw refuse(`the folder of the state file, ${folder}, belongs to another user (uid ${st.uid})`);
  if ((st.mode & GROUP_OTHER_WRITE) !== 0 && (st.mode & STICKY) === 0) {
    throw refuse(`other users can replace files in ${folder} (mode ${mode(st.mode)}); run: chmod go-w ${folder}`);
  }
}

/** The opened file's own stats (fstat), so what is checked is what is read, whatever happens to the name meanwhile. */
function checkFile(file: string, st: fs.Stats): void {
  if (!st.isFile()) throw refuse(`the state file ${file} is not a regular file`);
  if (!checksOwners) return;
  const uid = process.getuid!();
  if (st.uid !== uid) throw refuse(`the state file ${file} belongs to another user (uid ${st.uid}); only your own state file is used`);
  if ((st.mode & GROUP_OTHER_BITS) !== 0) {
    throw refuse(
      `the state file ${file} can be read or changed by other users (mode ${mode(st.mode)}), so the peer's secret may be known to them; ` +
        `run: chmod 600 ${file}, or use --state none`,
    );
  }
}

/** Never overwritten: it may be an identity a newer p2p-peer wrote, or the user's own file given by mistake. */
function notAStateFile(file: string, why: string): P2PError {
  return refuse(
    `the state file ${file} is not a p2p-peer state file (${why}); move it away to start with a new identity ` +
      '(the index server then refuses your peer name until its lease ends), or use --state none',
  );
}

function parseState(file: string, text: string): Buffer {
  const corrupt = (why: string) => notAStateFile(file, why);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt('not an object');
  const v = value as { version?: unknown; secret?: unknown };
  if (v.version !== STATE_VERSION) throw corrupt(`version ${String(v.version)}, this p2p-peer reads version ${STATE_VERSION}`);
  if (typeof v.secret !== 'string' || !new RegExp(`^[0-9a-f]{${SECRET_BYTES * 2}}$`, 'u').test(v.secret)) {
    throw corrupt(`the secret is not ${SECRET_BYTES * 2} lower-case hex digits`);
  }
  return Buffer.from(v.secret, 'hex');
}

/** Reads the secret; undefined when the file does not exist. */
function readSecret(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_NO_FOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw refuse(`the state file ${file} is a symbolic link; give the real file with --state`);
    throw toP2PError(err, `reading the state file ${file}`);
  }
  try {
    const st = fs.fstatSync(fd);
    checkFile(file, st);
    if (st.size > MAX_STATE_BYTES) throw notAStateFile(file, `${st.size} bytes, more than ${MAX_STATE_BYTES}`);
    const buf = Buffer.alloc(MAX_STATE_BYTES + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_STATE_BYTES) throw notAStateFile(file, `more than ${MAX_STATE_BYTES} bytes`);
    return parseState(file, buf.subarray(0, n).toString('utf8'));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes a new state file whole or not at all: the bytes go to a private temporary file (0600, created
 * exclusively), are flushed, then linked under the final name, which fails if the name exists. Two
 * peers starting at once thus never overwrite each other: the one that loses reads the winner's secret.
 */
function createState(file: string, secret: Buffer): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify({ version: STATE_VERSION, secret: secret.toString('hex') }, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw toP2PError(err, `saving the state file ${file}`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

export interface PeerIdentity {
  /** The peer's 32-byte secret: proves at the index that a peer name is this peer's. */
  secret: Buffer;
  /** True when this start made it (first start, or a state file that did not exist yet). */
  created: boolean;
}

/**
 * The peer's secret from `file`, created (with its folder, 0700) on first use. Refuses (BAD_SETTING, a
 * sentence saying what to do) a file or folder others could read or replace, one owned by someone else,
 * a link, and a file that is not a state file of this version: such a file is never overwritten.
 */
export function loadPeerIdentity(file: string): PeerIdentity {
  const folder = path.dirname(file);
  try {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw toP2PError(err, `creating the folder of the state file ${folder}`);
  }
  checkFolder(folder);
  const existing = readSecret(file);
  if (existing) return { secret: existing, created: false };
  const secret = randomBytes(SECRET_BYTES);
  if (createState(file, secret)) return { secret, created: true };
  // Another p2p-peer created it first: use that one, so both are the same peer.
  const theirs = readSecret(file);
  if (!theirs) throw refuse(`the state file ${file} vanished while it was created`);
  return { secret: theirs, created: false };
}
