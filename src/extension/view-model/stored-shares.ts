// The remembered shares of a window, as stored in VS Code's workspace state: a versioned record, checked on every read.
import * as path from 'node:path';
import { containsControl } from '../../common/control-escape';
import { isWholeNumberIn } from '../../common/numbers';
import { P2PError, detailOrWords } from '../../protocol/errors';
import { validateContentName } from '../../protocol/names';

/** Bump when the shape changes; a record of another version is reported and ignored, never guessed at. */
export const STORED_SHARES_VERSION = 1;
/**
 * More than anyone shares from one window; a stored value past it is not ours. It bounds the work a
 * hostile value (another extension, a copied profile) can cause at activation: each entry is hashed.
 */
export const MAX_STORED_SHARES = 10_000;
/** Longest path kept; longer than any file system allows. */
const MAX_PATH_CHARS = 4096;

/** What is remembered of one share: enough to check, before registering again, that the file is still the one shared. */
export interface StoredShare {
  contentName: string;
  /** Absolute path of the shared file. */
  path: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

export interface StoredSharesRecord {
  version: typeof STORED_SHARES_VERSION;
  shares: StoredShare[];
}

export interface ReadStoredShares {
  shares: StoredShare[];
  /** Why the record, or some entries of it, were ignored: one sentence for the user, or undefined when all was well. */
  problem?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The record to store for these shares (only the four fields: nothing else of a Share is kept). */
export function storedSharesRecord(shares: readonly StoredShare[]): StoredSharesRecord {
  return {
    version: STORED_SHARES_VERSION,
    shares: shares.map((s) => ({ contentName: s.contentName, path: s.path, size: s.size, sha256: s.sha256 })),
  };
}

/** One entry, checked field by field; throws BAD_SETTING naming what is wrong. */
function readEntry(v: unknown): StoredShare {
  if (!isRecord(v)) throw new P2PError('BAD_SETTING', 'an entry is not an object');
  let contentName: string;
  try {
    contentName = validateContentName(v.contentName);
  } catch (e) {
    throw new P2PError('BAD_SETTING', `an entry has a bad content name: ${detailOrWords(e as P2PError)}`);
  }
  const p = v.path;
  if (typeof p !== 'string' || p.length === 0 || p.length > MAX_PATH_CHARS || containsControl(p) || !path.isAbsolute(p)) {
    throw new P2PError('BAD_SETTING', `"${contentName}" has no usable absolute path`);
  }
  if (!isWholeNumberIn(v.size, 0, Number.MAX_SAFE_INTEGER)) throw new P2PError('BAD_SETTING', `"${contentName}" has a bad size`);
  if (typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/u.test(v.sha256)) throw new P2PError('BAD_SETTING', `"${contentName}" has a bad SHA-256`);
  return { contentName, path: path.normalize(p), size: v.size as number, sha256: v.sha256 };
}

/**
 * Reads a stored value that may be missing, from an older or newer version, corrupt or written by
 * someone hostile. Never throws: a record that cannot be read gives no shares and a problem; bad
 * entries are skipped one by one (a second entry under one content name too), the good ones kept.
 */
export function readStoredShares(value: unknown): ReadStoredShares {
  if (value === undefined || value === null) return { shares: [] };
  if (!isRecord(value)) return { shares: [], problem: 'the remembered shares are not a record; they were ignored' };
  if (value.version !== STORED_SHARES_VERSION) {
    const v = typeof value.version === 'number' ? String(value.version) : 'no';
    return { shares: [], problem: `the remembered shares have version ${v}, this extension reads version ${STORED_SHARES_VERSION}; they were ignored` };
  }
  const list = value.shares;
  if (!Array.isArray(list)) return { shares: [], problem: 'the remembered shares have no list of shares; they were ignored' };
  if (list.length > MAX_STORED_SHARES) {
    return { shares: [], problem: `the remembered shares list ${list.length} entries, more than the ${MAX_STORED_SHARES} kept; they were ignored` };
  }
  const shares: StoredShare[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const entry of list) {
    try {
      const s = readEntry(entry);
      if (seen.has(s.contentName)) throw new P2PError('BAD_SETTING', `"${s.contentName}" is listed twice`);
      seen.add(s.contentName);
      shares.push(s);
    } catch (e) {
      skipped.push(detailOrWords(e as P2PError));
    }
  }
  if (skipped.length === 0) return { shares };
  const shown = skipped.slice(0, 3).join('; ');
  const more = skipped.length > 3 ? ` and ${skipped.length - 3} more` : '';
  return { shares, problem: `${skipped.length} remembered share(s) were ignored: ${shown}${more}` };
}
