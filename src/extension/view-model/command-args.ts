// Reads the arguments commands receive from menus, tree rows, keybindings and tests, without vscode.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { P2PError } from '../../protocol/errors';
import { validateContentName, validatePeerName } from '../../protocol/names';
import { isClassicHash } from '../../protocol/classic';
import type { ContentRow, ShareRow, SourceRow } from './tree-model';

export interface DownloadTarget {
  contentName: string;
  fromPeer?: string;
  sha256?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function optionalText(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new P2PError('BAD_COMMAND', `${what} must be text`);
  return v;
}

function checkHash(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const hex = v.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new P2PError('BAD_COMMAND', `sha256 must be 64 hex digits, got "${v}"`);
  return hex;
}

/**
 * p2p.download accepts a content row, a source row, a content name or {contentName, fromPeer?, sha256?}.
 * Undefined means "ask the user". Classic rows are refused here: they carry no hash to check against.
 */
export function downloadTargetFrom(arg: unknown): DownloadTarget | undefined {
  if (arg === undefined || arg === null) return undefined;
  if (typeof arg === 'string') return { contentName: validateContentName(arg) };
  if (!isObject(arg)) throw new P2PError('BAD_COMMAND', 'p2p.download expects a content name, a tree row or {contentName, fromPeer?, sha256?}');
  if (arg.kind === 'content') {
    const row = arg as unknown as ContentRow;
    if (!row.downloadable) throw classicError(row.contentName);
    // Peers disagree: no version is taken for the user; the download asks which one.
    return { contentName: row.contentName, sha256: row.versions > 1 ? undefined : row.sha256 };
  }
  if (arg.kind === 'source') {
    const row = arg as unknown as SourceRow;
    if (row.classic || isClassicHash(row.sha256)) throw classicError(row.contentName, row.peerName);
    return { contentName: row.contentName, fromPeer: row.peerName, sha256: row.sha256 };
  }
  const contentName = validateContentName(optionalText(arg.contentName, 'contentName') ?? '');
  const fromPeer = optionalText(arg.fromPeer, 'fromPeer');
  const sha256 = checkHash(optionalText(arg.sha256, 'sha256'));
  if (sha256 !== undefined && isClassicHash(sha256)) throw classicError(contentName, fromPeer);
  return { contentName, fromPeer: fromPeer === undefined ? undefined : validatePeerName(fromPeer), sha256 };
}

function classicError(contentName: string, peerName?: string): P2PError {
  const who = peerName ? ` from ${peerName}` : '';
  return new P2PError(
    'NO_SOURCES',
    `"${contentName}"${who} is a classic registration without a SHA-256, so it cannot be downloaded or checked`,
  );
}

/** p2p.deregisterFile accepts a share row or a content name; undefined means "ask the user". */
export function contentNameFrom(arg: unknown): string | undefined {
  if (arg === undefined || arg === null) return undefined;
  if (typeof arg === 'string') return validateContentName(arg);
  if (isObject(arg) && (arg.kind === 'share' || arg.kind === 'content') && typeof arg.contentName === 'string') {
    return (arg as unknown as ShareRow).contentName;
  }
  if (isObject(arg) && typeof arg.contentName === 'string') return validateContentName(arg.contentName);
  throw new P2PError('BAD_COMMAND', 'p2p.deregisterFile expects a content name or a row of My Shares');
}

/** The part of vscode.Uri this module needs, so it stays testable without vscode. */
export interface UriLike {
  scheme: string;
  fsPath: string;
  toString(): string;
}

function isUriLike(v: unknown): v is UriLike {
  return isObject(v) && typeof v.scheme === 'string' && typeof v.fsPath === 'string';
}

function pathOf(v: unknown): string {
  if (typeof v === 'string') {
    if (v.trim() === '') throw new P2PError('BAD_PATH', 'the path is empty');
    if (v.startsWith('file://')) return fileUrlToPath(v);
    if (!path.isAbsolute(v)) throw new P2PError('BAD_PATH', `"${v}" is not an absolute path`);
    return path.normalize(v);
  }
  if (isUriLike(v)) {
    if (v.scheme !== 'file') {
      throw new P2PError('BAD_PATH', `${v.toString()} is not a file on this machine's disk; only local files can be shared`);
    }
    return v.fsPath;
  }
  throw new P2PError('BAD_COMMAND', 'p2p.registerFile expects a file Uri or an absolute path');
}

function fileUrlToPath(url: string): string {
  try {
    return fileURLToPath(url);
  } catch (e) {
    throw new P2PError('BAD_PATH', `"${url}" is not a valid file URL`, e);
  }
}

/**
 * p2p.registerFile gets (uri) from the editor tab menu, (uri, selectedUris) from the explorer, a path
 * from tests. Returns the files to register in order, without repeats; undefined means "ask the user".
 */
export function registerPathsFrom(args: readonly unknown[]): string[] | undefined {
  const [first, second] = args;
  const candidates: unknown[] = Array.isArray(second) && second.length > 0 ? second : Array.isArray(first) ? first : first === undefined || first === null ? [] : [first];
  if (candidates.length === 0) return undefined;
  const paths: string[] = [];
  for (const c of candidates) {
    const p = pathOf(c);
    if (!paths.includes(p)) paths.push(p);
  }
  return paths;
}
