// The engine's options checked once, up front, so a bad setting fails Peer.start with a message naming it.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { isNonNegativeNumber, isPositiveNumber, isWholeNumberIn } from '../common/numbers';
import { P2PError } from '../protocol/errors';
import { SECRET_BYTES } from '../protocol/messages';
import { validatePeerName } from '../protocol/names';
import { HostPort, parseAddressList } from './address';
import type { LogLevel, PeerOptions } from './api';
import { DEFAULT_PROGRESS_RULE, ProgressRule } from './progress-watch';

/**
 * With several index servers, the one in use is asked this often whether it still answers (one H). Idle
 * peers would otherwise notice a dead index only at their next lease refresh, 40 s later.
 */
export const DEFAULT_INDEX_CHECK_MS = 10_000;

export interface PeerSettings {
  peerName: string;
  /** The index servers in order of preference; never empty. */
  indexes: HostPort[];
  indexCheckMs: number;
  listenPort: number;
  listenHost?: string;
  downloadFolder: string;
  shareDownloads: boolean;
  secret: Buffer;
  requestTimeoutMs: number;
  requestTries: number;
  uploadRateLimit: number;
  stallTimeoutMs?: number;
  /** Both ends of every transfer; undefined = the engine's default. */
  minTransferRate?: ProgressRule;
  maxConnectionsPerAddress?: number;
  maxDownloadBytes?: number;
  watchShares: boolean;
  requireEncryption: boolean;
  log?: (level: LogLevel, message: string) => void;
}

export function badSetting(detail: string): P2PError {
  return new P2PError('BAD_SETTING', detail);
}

/** Checks every option up front, so a bad setting fails start() with a message naming it. */
export function readOptions(opts: PeerOptions): PeerSettings {
  if (!opts || typeof opts !== 'object') throw badSetting('Peer.start needs an options object');
  const peerName = validatePeerName(opts.peerName);
  const indexes = parseAddressList(opts.index as string | HostPort | HostPort[]);
  const listenPort = opts.listenPort ?? 0;
  if (!isWholeNumberIn(listenPort, 0, 65535)) {
    throw badSetting(`listen port must be a whole number from 0 to 65535, got ${String(opts.listenPort)}`);
  }
  if (opts.listenHost !== undefined && (typeof opts.listenHost !== 'string' || opts.listenHost.trim() === '')) {
    throw badSetting('listen host must be an IP address or host name');
  }
  if (typeof opts.downloadFolder !== 'string' || opts.downloadFolder.trim() === '') throw badSetting('download folder is not set');
  if (opts.secret !== undefined && (!Buffer.isBuffer(opts.secret) || opts.secret.length !== SECRET_BYTES)) {
    throw badSetting(`secret must be ${SECRET_BYTES} bytes`);
  }
  const positive = (v: number | undefined, name: string, whole = false): void => {
    if (v === undefined) return;
    if (!isPositiveNumber(v) || (whole && !Number.isInteger(v))) {
      throw badSetting(`${name} must be a positive ${whole ? 'whole ' : ''}number, got ${String(v)}`);
    }
  };
  positive(opts.requestTimeoutMs, 'request timeout');
  positive(opts.indexCheckMs, 'index check interval');
  positive(opts.requestTries, 'request tries', true);
  positive(opts.stallTimeoutMs, 'stall timeout');
  positive(opts.maxDownloadBytes, 'largest download', true);
  positive(opts.maxConnectionsPerAddress, 'connections per address', true);
  if (opts.minTransferRate !== undefined && !isNonNegativeNumber(opts.minTransferRate)) {
    throw badSetting(`minimum transfer rate must be 0 (off) or a positive number, got ${String(opts.minTransferRate)}`);
  }
  const uploadRateLimit = opts.uploadRateLimit ?? 0;
  if (!isNonNegativeNumber(uploadRateLimit)) {
    throw badSetting(`upload rate limit must be 0 (unlimited) or a positive number, got ${String(opts.uploadRateLimit)}`);
  }
  return {
    peerName,
    indexes,
    indexCheckMs: opts.indexCheckMs ?? DEFAULT_INDEX_CHECK_MS,
    listenPort,
    listenHost: opts.listenHost?.trim(),
    downloadFolder: path.resolve(opts.downloadFolder),
    shareDownloads: opts.shareDownloads ?? true,
    secret: opts.secret ? Buffer.from(opts.secret) : randomBytes(SECRET_BYTES),
    requestTimeoutMs: opts.requestTimeoutMs ?? 500,
    requestTries: opts.requestTries ?? 5,
    uploadRateLimit,
    stallTimeoutMs: opts.stallTimeoutMs,
    minTransferRate:
      opts.minTransferRate === undefined ? undefined : { minBytesPerSecond: opts.minTransferRate, windowMs: DEFAULT_PROGRESS_RULE.windowMs },
    maxConnectionsPerAddress: opts.maxConnectionsPerAddress,
    maxDownloadBytes: opts.maxDownloadBytes,
    watchShares: opts.watchShares ?? true,
    requireEncryption: opts.requireEncryption ?? false,
    log: opts.log,
  };
}
