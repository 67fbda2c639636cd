// Rewrites a failed command's P2PError detail in the user's terms: the subject once, what to do next, no repeat of the code's words.
import * as path from 'node:path';
import { formatBytes } from '../common/byte-units';
import { P2PError } from '../protocol/errors';
import { quoteWord } from './tokenize';

/** What the menu knows about the failure that the engine's (or a stranger's) detail does not say well. */
export interface FailureContext {
  indexText: string;
  /** Tries and first wait of one index request, to say how long it was given. */
  indexTries: number;
  indexTimeoutMs: number;
}

/** Total time one index request waits before TIMEOUT: the first wait, doubled on each further try. */
export function indexWaitMs(ctx: FailureContext): number {
  let total = 0;
  for (let i = 0, wait = ctx.indexTimeoutMs; i < ctx.indexTries; i++, wait *= 2) total += wait;
  return total;
}

/** The one line that says the index server does not answer: its address and the time it was given. */
export function indexSilentDetail(ctx: FailureContext): string {
  const seconds = (indexWaitMs(ctx) / 1000).toFixed(1);
  return `${ctx.indexText} gave no answer within ${seconds} s; check that it runs there (--index sets the address)`;
}

/**
 * The index's own words for a refusal are a stranger's text and tend to repeat the code's words;
 * the menu knows the subject, so it names that instead. (NOT_FOUND is the engine's own, already
 * without the words: an empty search answer.)
 */
export function indexRefusal(err: P2PError, subject: string, ctx: FailureContext): P2PError {
  switch (err.code) {
    case 'NAME_TAKEN':
    case 'NOT_REGISTERED':
      return new P2PError(err.code, subject, err);
    case 'TIMEOUT':
      return new P2PError('TIMEOUT', indexSilentDetail(ctx), err);
    default:
      return err;
  }
}

/** R of a path that does not exist; a path cut at a space (an unquoted name) gets the quoted line to type. */
export function missingFile(typedPath: string, resolved: string, restOfLine: string | undefined, cause: P2PError): P2PError {
  if (restOfLine === undefined) return cause;
  return new P2PError(
    'FILE_NOT_FOUND',
    `${resolved}; for a name with spaces, quote it: R ${quoteWord(`${typedPath} ${restOfLine}`)}`,
    cause,
  );
}

/** Codes after which a download's .part may hold bytes worth resuming. */
const RESUMABLE = new Set(['SOURCE_GONE', 'STALLED', 'NO_SOURCES', 'UNREACHABLE', 'CANCELLED', 'TIMEOUT', 'PROTOCOL', 'DISK_FULL', 'IO']);

/**
 * A failed D after some bytes arrived: how far it got in file sizes (the engine speaks of its internal
 * ranges), that the partial file is kept, and the line that resumes it. Before any byte arrived there
 * is nothing to keep, and the engine's own detail (who refused, why) says it best.
 */
export function downloadFailure(err: P2PError, contentName: string, progress: { received: number; total: number } | undefined): P2PError {
  if (!RESUMABLE.has(err.code) || !progress || progress.total <= 0 || progress.received <= 0) return err;
  const got = `"${contentName}" stopped after ${formatBytes(progress.received)} of ${formatBytes(progress.total)}`;
  return new P2PError(err.code, `${got}; the partial file is kept; D ${quoteWord(contentName)} again resumes it`, err);
}

/**
 * R under a content name you already share from another file: refused, since registering again would
 * silently swap the file others download under that name. `resolved` is the new file's absolute path.
 */
export function nameAlreadyShared(
  name: string,
  resolved: string,
  typed: string,
  shares: readonly { contentName: string; path: string }[],
): P2PError | undefined {
  const shared = shares.find((s) => s.contentName === name);
  if (!shared || path.resolve(shared.path) === resolved) return undefined;
  return new P2PError(
    'BAD_NAME',
    `you already share "${name}" from ${shared.path}; to replace it type T ${quoteWord(name)} first, ` +
      `or choose another content name: R ${quoteWord(typed)} <other name>`,
  );
}

/** Why a finished download is not a share: the user's own choice, or a share of theirs that holds the name. */
export function whyNotShared(
  result: { contentName: string; path: string },
  shareDownloads: boolean,
  shares: readonly { contentName: string; path: string }[],
): string {
  if (!shareDownloads) return 'downloads are not registered (--no-share-downloads)';
  const other = shares.find((s) => s.contentName === result.contentName);
  if (other && path.resolve(other.path) !== path.resolve(result.path)) {
    return `you already share another file as "${result.contentName}" (${other.path}); T it, then R ${quoteWord(result.path)} to share this one`;
  }
  return 'it could not be registered at the index server; R it to try again';
}
