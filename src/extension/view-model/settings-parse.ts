// The extension's settings: keys, defaults and the pure checks that turn raw values into usable ones.
import * as path from 'node:path';
import { removeControls } from '../../common/control-escape';
import { isWholeNumberIn } from '../../common/numbers';
import { DEFAULT_INDEX_PORT, HostPort, formatAddressList, parseAddressList } from '../../peer/address';
import { DEFAULT_MAX_DOWNLOAD_BYTES } from '../../peer/download/downloader';
import { detailOrWords, P2PError } from '../../protocol/errors';
import { validatePeerName } from '../../protocol/names';

/** Setting keys under the "p2p" section; package.json's contributes.configuration declares the same. */
export const SettingKeys = {
  indexServer: 'p2p.indexServer',
  peerName: 'p2p.peerName',
  listenPort: 'p2p.listenPort',
  downloadFolder: 'p2p.downloadFolder',
  shareDownloads: 'p2p.shareDownloads',
  refreshIntervalSeconds: 'p2p.refreshIntervalSeconds',
  maxDownloadBytes: 'p2p.maxDownloadBytes',
  askContentName: 'p2p.askContentName',
  confirmDownloadAboveBytes: 'p2p.confirmDownloadAboveBytes',
  requireEncryption: 'p2p.requireEncryption',
} as const;

export type SettingName = keyof typeof SettingKeys;
export type SettingKey = (typeof SettingKeys)[SettingName];

export const SETTINGS_SECTION = 'p2p';

/** Defaults as the user sees them in settings.json (package.json repeats them; a unit test compares). */
export const SettingDefaults = {
  indexServer: `127.0.0.1:${DEFAULT_INDEX_PORT}`,
  peerName: '',
  listenPort: 0,
  downloadFolder: '',
  shareDownloads: true,
  refreshIntervalSeconds: 10,
  maxDownloadBytes: DEFAULT_MAX_DOWNLOAD_BYTES,
  askContentName: true,
  /** 100 MiB; 0 = never ask. */
  confirmDownloadAboveBytes: 100 * 1024 * 1024,
  requireEncryption: false,
} as const satisfies Record<SettingName, unknown>;

export const MIN_REFRESH_SECONDS = 2;
/** Longer than this and setInterval's 32-bit millisecond delay would overflow long before. */
export const MAX_REFRESH_SECONDS = 86_400;
/** Where downloads go when p2p.downloadFolder is empty, under the home folder. */
export const DEFAULT_DOWNLOAD_SUBFOLDER = path.join('Downloads', 'P2P Share');
/** Peer name when the OS user name is unusable. */
export const FALLBACK_PEER_NAME = 'peer';

/** Settings after checking: every value is ready to hand to the engine. */
export interface P2PSettings {
  /** The index server; `text` is its canonical "host:port". */
  indexServer: HostPort & { text: string };
  /** Resolved peer name: the setting, or the OS user name when the setting is empty. */
  peerName: string;
  listenPort: number;
  /** Absolute folder. */
  downloadFolder: string;
  shareDownloads: boolean;
  refreshIntervalSeconds: number;
  /** Largest download accepted; a larger claimed size fails at once (SIZE_LIMIT). */
  maxDownloadBytes: number;
  /** Register File from the Command Palette asks for the content name (prefilled with the file's name). */
  askContentName: boolean;
  /** A click on a content larger than this asks first; 0 = never ask. */
  confirmDownloadAboveBytes: number;
  /** Download only from sources that offer TLS; the others are refused (NOT_ENCRYPTED). */
  requireEncryption: boolean;
}

/** What the checks need to know about the machine; injected so tests need no real home folder. */
export interface SettingsEnvironment {
  homeDir: string;
  /** First workspace folder on disk, the base of a relative p2p.downloadFolder. */
  workspaceFolder?: string;
  /** The OS user name, when it can be read. */
  userName?: string;
}

export interface SettingProblem {
  name: SettingName;
  key: SettingKey;
  error: P2PError;
}

function bad(name: SettingName, detail: string): P2PError {
  return new P2PError('BAD_SETTING', `${SettingKeys[name]} ${detail}`);
}

function show(v: unknown): string {
  try {
    return typeof v === 'string' ? `"${v}"` : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function parseIndexServer(raw: unknown): P2PSettings['indexServer'] {
  if (raw === undefined || raw === null) raw = SettingDefaults.indexServer;
  if (typeof raw !== 'string') throw bad('indexServer', `must be text such as "127.0.0.1:7870", got ${show(raw)}`);
  const text = raw.trim() === '' ? SettingDefaults.indexServer : raw;
  try {
    // A comma-separated list names several servers; the first is the HostPort, `text` the whole list.
    const list = parseAddressList(text, { what: SettingKeys.indexServer });
    return { ...list[0], text: formatAddressList(list) };
  } catch (e) {
    if (e instanceof P2PError) throw e;
    throw bad('indexServer', `is not a valid address: ${show(raw)}`);
  }
}

/** A usable peer name from the OS user name; names the rules refuse fall back to "peer". */
export function defaultPeerName(userName: string | undefined): string {
  const cleaned = removeControls(userName ?? '').trim();
  try {
    return validatePeerName(cleaned);
  } catch {
    return FALLBACK_PEER_NAME;
  }
}

export function parsePeerName(raw: unknown, env: Pick<SettingsEnvironment, 'userName'>): string {
  if (raw === undefined || raw === null || raw === '') return defaultPeerName(env.userName);
  if (typeof raw !== 'string') throw bad('peerName', `must be text, got ${show(raw)}`);
  try {
    return validatePeerName(raw);
  } catch (e) {
    const why = e instanceof P2PError ? detailOrWords(e) : String(e);
    throw bad('peerName', `${show(raw)} is not a valid peer name: ${why}`);
  }
}

/** The same rules as the setting, as the message an input box shows while the user types (undefined = fine). */
export function peerNameProblem(value: string): string | undefined {
  try {
    validatePeerName(value);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export function indexAddressProblem(value: string): string | undefined {
  try {
    parseAddressList(value, { what: 'address' });
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function wholeNumber(name: SettingName, raw: unknown, min: number, max: number, meaning: string): number {
  // settings.json is hand-edited; "7000" in quotes is what the user meant.
  const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (!isWholeNumberIn(n, min, max)) {
    throw bad(name, `must be a whole number from ${min} to ${max}${meaning}, got ${show(raw)}`);
  }
  return n;
}

export function parseListenPort(raw: unknown): number {
  return wholeNumber('listenPort', raw ?? 0, 0, 65535, ' (0 = any free port)');
}

export function parseRefreshInterval(raw: unknown): number {
  return wholeNumber('refreshIntervalSeconds', raw ?? SettingDefaults.refreshIntervalSeconds, MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS, ' seconds');
}

export function parseMaxDownloadBytes(raw: unknown): number {
  return wholeNumber('maxDownloadBytes', raw ?? SettingDefaults.maxDownloadBytes, 1, Number.MAX_SAFE_INTEGER, ' bytes');
}

export function parseConfirmDownloadAbove(raw: unknown): number {
  return wholeNumber('confirmDownloadAboveBytes', raw ?? SettingDefaults.confirmDownloadAboveBytes, 0, Number.MAX_SAFE_INTEGER, ' bytes (0 = never ask)');
}

export function parseShareDownloads(raw: unknown): boolean {
  return parseSwitch('shareDownloads', raw);
}

export function parseRequireEncryption(raw: unknown): boolean {
  return parseSwitch('requireEncryption', raw);
}

function parseSwitch(name: 'shareDownloads' | 'askContentName' | 'requireEncryption', raw: unknown): boolean {
  if (raw === undefined || raw === null) return SettingDefaults[name];
  if (typeof raw !== 'boolean') throw bad(name, `must be true or false, got ${show(raw)}`);
  return raw;
}

/**
 * Empty: "~/Downloads/P2P Share". "~" and "~/x" start at the home folder; a relative path starts at
 * the first workspace folder (the home folder when no folder is open). Always returns an absolute path.
 */
export function parseDownloadFolder(raw: unknown, env: SettingsEnvironment): string {
  if (raw === undefined || raw === null) raw = '';
  if (typeof raw !== 'string') throw bad('downloadFolder', `must be text (a folder path), got ${show(raw)}`);
  const text = raw.trim();
  if (text.includes('\u0000')) throw bad('downloadFolder', 'contains a NUL character');
  if (text === '') return path.join(env.homeDir, DEFAULT_DOWNLOAD_SUBFOLDER);
  if (text === '~') return path.normalize(env.homeDir);
  if (text.startsWith('~/') || text.startsWith('~\\')) return path.join(env.homeDir, text.slice(2));
  if (text.startsWith('~')) throw bad('downloadFolder', `${show(raw)}: "~user" paths are not supported; write the full path`);
  if (path.isAbsolute(text)) return path.normalize(text);
  return path.resolve(env.workspaceFolder ?? env.homeDir, text);
}

const PARSERS: { [K in SettingName]: (raw: unknown, env: SettingsEnvironment) => P2PSettings[K] } = {
  indexServer: (raw) => parseIndexServer(raw),
  peerName: (raw, env) => parsePeerName(raw, env),
  listenPort: (raw) => parseListenPort(raw),
  downloadFolder: (raw, env) => parseDownloadFolder(raw, env),
  shareDownloads: (raw) => parseShareDownloads(raw),
  refreshIntervalSeconds: (raw) => parseRefreshInterval(raw),
  maxDownloadBytes: (raw) => parseMaxDownloadBytes(raw),
  askContentName: (raw) => parseSwitch('askContentName', raw),
  confirmDownloadAboveBytes: (raw) => parseConfirmDownloadAbove(raw),
  requireEncryption: (raw) => parseRequireEncryption(raw),
};

export const SETTING_NAMES = Object.keys(SettingKeys) as SettingName[];

export function defaultSettings(env: SettingsEnvironment): P2PSettings {
  const out = {} as Record<SettingName, unknown>;
  for (const name of SETTING_NAMES) out[name] = PARSERS[name](SettingDefaults[name], env);
  return out as unknown as P2PSettings;
}

/**
 * Checks every raw value. A bad value keeps the previous good one (or the default) and is reported,
 * so one typo in settings.json never stops sharing.
 */
export function parseSettings(
  raw: Partial<Record<SettingName, unknown>>,
  env: SettingsEnvironment,
  previous: P2PSettings = defaultSettings(env),
): { settings: P2PSettings; problems: SettingProblem[] } {
  const out = { ...previous } as Record<SettingName, unknown>;
  const problems: SettingProblem[] = [];
  for (const name of SETTING_NAMES) {
    try {
      out[name] = PARSERS[name](raw[name], env);
    } catch (e) {
      const error = e instanceof P2PError ? e : bad(name, `is not valid: ${show(raw[name])}`);
      problems.push({ name, key: SettingKeys[name], error });
    }
  }
  return { settings: out as unknown as P2PSettings, problems };
}

/** True for names of this machine: where a local index server would listen. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1' || /^::ffff:127\./.test(h);
}

/** Port for "Start Local Index Server": an explicit one, else the configured one when it is local, else 7870. */
export function localServerPort(index: HostPort, explicit?: unknown): number {
  if (explicit !== undefined && explicit !== null) {
    const n = typeof explicit === 'string' && /^\d+$/.test(explicit) ? Number(explicit) : explicit;
    if (!isWholeNumberIn(n, 0, 65535)) {
      throw new P2PError('BAD_COMMAND', `the local index server port must be a whole number from 0 to 65535, got ${show(explicit)}`);
    }
    return n;
  }
  return isLoopbackHost(index.host) ? index.port : DEFAULT_INDEX_PORT;
}
