// The one mapping from an error code to the buttons its notification offers, without vscode.
import { P2PError, type ErrorCode } from '../../protocol/errors';
import { formatBytes } from '../../common/byte-units';
import { SettingKey, SettingKeys } from './settings-parse';

/** What the user was doing when it failed: the same code calls for other help in another place. */
export type Operation =
  | 'start' // starting or restarting the peer engine
  | 'register'
  | 'deregister'
  | 'download'
  | 'refresh'
  | 'connect'
  | 'peerName'
  | 'localServer'
  | 'other';

export type ErrorActionId = 'retry' | 'openSettings' | 'showLog' | 'startLocalServer' | 'setPeerName' | 'connect';

export interface ErrorAction {
  id: ErrorActionId;
  label: string;
  /** For openSettings: the setting to open. */
  setting?: SettingKey;
}

export interface ActionContext {
  /** A Retry button makes sense only when the failed call can run again as it was. */
  canRetry: boolean;
  localServerRunning: boolean;
}

const retry: ErrorAction = { id: 'retry', label: 'Retry' };
const showLog: ErrorAction = { id: 'showLog', label: 'Show Log' };
const startLocal: ErrorAction = { id: 'startLocalServer', label: 'Start Local Index Server' };
const setPeerName: ErrorAction = { id: 'setPeerName', label: 'Set Peer Name' };
const connect: ErrorAction = { id: 'connect', label: 'Connect to Index Server' };
const settings = (setting: SettingKey): ErrorAction => ({ id: 'openSettings', label: 'Open Settings', setting });

/** Codes that mean the index server did not answer or could not be reached over UDP. */
const INDEX_DOWN: ReadonlySet<ErrorCode> = new Set(['TIMEOUT', 'UNREACHABLE', 'BAD_COOKIE']);
/** Codes of a download that another attempt may well fix. */
const TRANSFER: ReadonlySet<ErrorCode> = new Set(['SOURCE_GONE', 'NO_SOURCES', 'STALLED', 'HASH_MISMATCH', 'NOT_SHARED', 'BAD_RANGE', 'PROTOCOL', 'UNREACHABLE', 'NOT_FOUND']);
const TRY_AGAIN_LATER: ReadonlySet<ErrorCode> = new Set(['BUSY', 'RATE_LIMITED', 'INTERNAL', 'CLOSED']);

/** Buttons for an error notification, most useful first; Show Log is always last. */
export function errorActions(code: ErrorCode, op: Operation, ctx: ActionContext): ErrorAction[] {
  const out: ErrorAction[] = [];
  const add = (a: ErrorAction | undefined, when = true) => {
    if (a && when && !out.some((o) => o.id === a.id)) out.push(a);
  };

  if (code === 'CANCELLED') return [];
  if (code === 'BAD_SETTING') {
    add(settings(op === 'start' ? SettingKeys.listenPort : op === 'download' ? SettingKeys.downloadFolder : SettingKeys.indexServer));
  } else if (code === 'NAME_TAKEN') {
    add(setPeerName);
  } else if (op === 'download' && (code === 'DISK_FULL' || code === 'IO' || code === 'BAD_PATH' || code === 'FILE_NOT_FOUND' || code === 'NOT_A_FILE')) {
    // The download folder (p2p.downloadFolder) is the one path a download touches that the user chose.
    add(retry, ctx.canRetry);
    add(settings(SettingKeys.downloadFolder));
  } else if (op === 'download' && TRANSFER.has(code)) {
    add(retry, ctx.canRetry);
  } else if (INDEX_DOWN.has(code)) {
    add(retry, ctx.canRetry);
    add(startLocal, !ctx.localServerRunning);
    add(op === 'connect' ? settings(SettingKeys.indexServer) : connect);
  } else if (op === 'localServer' && (code === 'ADDRESS_IN_USE' || code === 'IO' || code === 'BUSY')) {
    // Its port is taken, most likely by an index server already running there.
    add(connect);
  } else if (op === 'start' && (code === 'ADDRESS_IN_USE' || code === 'IO' || code === 'UNKNOWN' || code === 'BAD_ADDRESS')) {
    add(retry, ctx.canRetry);
    add(settings(SettingKeys.listenPort));
  } else if (op === 'peerName' && code === 'BAD_NAME') {
    add(setPeerName);
  } else if (TRY_AGAIN_LATER.has(code)) {
    add(retry, ctx.canRetry);
  } else if (code === 'PEER_LIMIT' || code === 'INDEX_FULL') {
    add(connect);
  }
  add(showLog);
  return out;
}

/** Codes after which a download's partial file may hold bytes worth resuming. */
const RESUMABLE: ReadonlySet<ErrorCode> = new Set(['SOURCE_GONE', 'STALLED', 'NO_SOURCES', 'UNREACHABLE', 'TIMEOUT', 'PROTOCOL']);

/**
 * A download that stopped after some bytes arrived, in terms of the file (the engine speaks of its
 * ranges): how much of it came, that it is kept, and that downloading again resumes it.
 */
export function downloadStopped(err: P2PError, contentName: string, progress: { received: number; total: number } | undefined): P2PError {
  if (!RESUMABLE.has(err.code) || !progress || progress.total <= 0 || progress.received <= 0) return err;
  const got = `${formatBytes(progress.received)} of ${formatBytes(progress.total)} of "${contentName}" received`;
  return new P2PError(err.code, `${err.detail || err.message}; ${got}, kept so that Download resumes it`, err);
}
