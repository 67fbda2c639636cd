// The p2p-index-server command: flags and environment into IndexServer options, logging, clean shutdown on signals.
import { isIP, isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { digitsValue } from '../common/numbers';
import { packageVersion } from '../common/package-version';
import { formatHostPort } from '../protocol/address-text';
import { P2PError } from '../protocol/errors';
import { IndexServer, IndexServerOptions } from './index-server';
import { LogLevel, logs } from '../common/log-level';
import { createLogger, LogFn, parseLogLevel } from './log';
import { DEFAULT_OWNER_TTL_SECONDS, OwnerBook } from './owner-book';
import { SharedStore } from './shared-store';

export const EXIT_OK = 0;
/** Could not run: the port is taken, the address cannot be bound. */
export const EXIT_FAILED = 1;
/** Bad flag or value: the command line (or environment) must be fixed. */
export const EXIT_USAGE = 2;

const USAGE = `Usage: p2p-index-server [options]

The P2P Share index server: keeps, over UDP, the directory of which peer shares what.

Options:
  --host ADDRESS        address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every interface)
  --port N              UDP port, 0 = any free port (default 7870)
  --ttl SECONDS         lease of a registration after its last refresh (default 120)
  --classic             answer the original report's 101-byte PDUs (off by default: they carry no
                        proof of address, so anyone can forge one with another host's IP)
  --no-classic          leave them off even when P2P_INDEX_CLASSIC=1 (the default is off)
  --classic-ttl SECONDS lifetime of a classic registration (default none: it stands until its T)
  --max-entries N       registrations in total (default 1000000)
  --max-per-peer N      registrations under one peer name (default 10000)
  --max-per-address N   registrations from one IPv4 address or IPv6 /64, whatever their names
                        (default 2000)
  --max-per-secret N    registrations under one secret, all its peer names together (default 1000)
  --rate-limit N        requests a second per source address, 0 = no limit (default 2000)
  --data DIR            where name ownership is kept across restarts (an LMDB file); "none" keeps
                        it in memory only (default $XDG_DATA_HOME/p2p-share/index, else
                        ~/.local/share/p2p-share/index)
  --owner-ttl SECONDS   how long a peer name stays its owner's after its last use (default 2592000,
                        30 days)
  --store URL           redis://HOST:PORT[/DB]: keep the registry in Redis or Valkey, so several
                        index servers on one store act as one index (ownership is kept there too,
                        and --data is not used; classic PDUs are not answered)
  --cookie-secret HEX   64 hex digits: the handshake cookie key, so a peer may switch between
                        servers sharing it (default: kept in the --store, else random per start)
  --admin [HOST:]PORT   serve /metrics (Prometheus), /stats.json and /healthz over HTTP there;
                        a bare port listens on 127.0.0.1, 0 = any free port (default: off)
  --admin-public        allow --admin on an address other than loopback (127.0.0.0/8, ::1): the
                        counts tell anyone who can reach them how busy the index is; without this
                        flag such an address is refused
  --log-level LEVEL     error, warn, info or debug (default info)
  -v, --verbose         log at debug level (same as --log-level debug)
  -h, --help            show this help
  -V, --version         show the version

Environment (flags win): P2P_INDEX_HOST, P2P_INDEX_PORT, P2P_INDEX_TTL, P2P_INDEX_CLASSIC (0 or 1),
P2P_INDEX_CLASSIC_TTL, P2P_INDEX_MAX_PER_ADDRESS, P2P_INDEX_MAX_PER_SECRET, P2P_INDEX_LOG_LEVEL,
P2P_INDEX_DATA, P2P_INDEX_OWNER_TTL, P2P_INDEX_STORE, P2P_INDEX_COOKIE_SECRET, P2P_INDEX_ADMIN,
P2P_INDEX_ADMIN_PUBLIC (0 or 1).
`;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborting stops a running server cleanly (the entry module wires SIGINT and SIGTERM to it). */
  signal?: AbortSignal;
  /** Called once the server listens, for callers that embed the CLI. */
  onListening?: (server: IndexServer) => void;
}

/** Where the registry and name ownership live. */
export type Storage =
  | { kind: 'memory' }
  | { kind: 'lmdb'; dir: string }
  | { kind: 'redis'; url: string };

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; logLevel: LogLevel; options: IndexServerOptions; storage: Storage; ownerTtlSeconds: number; admin?: { host: string; port: number } };

/** Reads flags over environment variables; throws BAD_SETTING naming the flag or variable at fault. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv): CliCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        ttl: { type: 'string' },
        classic: { type: 'boolean' },
        'no-classic': { type: 'boolean' },
        'classic-ttl': { type: 'string' },
        'max-entries': { type: 'string' },
        'max-per-peer': { type: 'string' },
        'max-per-address': { type: 'string' },
        'max-per-secret': { type: 'string' },
        'rate-limit': { type: 'string' },
        'log-level': { type: 'string' },
        data: { type: 'string' },
        'owner-ttl': { type: 'string' },
        store: { type: 'string' },
        'cookie-secret': { type: 'string' },
        admin: { type: 'string' },
        'admin-public': { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    }));
  } catch (err) {
    throw new P2PError('BAD_SETTING', (err as Error).message, err);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };

  const pick = (flag: string | undefined, name: string, envName: string): [string, string] | undefined => {
    if (flag !== undefined) return [flag, `--${name}`];
    const fromEnv = env[envName];
    return fromEnv !== undefined && fromEnv !== '' ? [fromEnv, envName] : undefined;
  };
  const options: IndexServerOptions = {};

  const host = pick(values.host, 'host', 'P2P_INDEX_HOST');
  if (host) options.host = parseHost(...host);
  const port = pick(values.port, 'port', 'P2P_INDEX_PORT');
  options.port = port ? parseWhole(...port, 0, 0xffff) : 7870;
  const ttl = pick(values.ttl, 'ttl', 'P2P_INDEX_TTL');
  if (ttl) options.ttlSeconds = parseWhole(...ttl, 1, 0xffff_ffff);
  if (values.classic && values['no-classic']) throw new P2PError('BAD_SETTING', '--classic and --no-classic contradict each other');
  if (values.classic) options.classic = true;
  else if (values['no-classic']) options.classic = false;
  else if (env.P2P_INDEX_CLASSIC !== undefined && env.P2P_INDEX_CLASSIC !== '') {
    if (!/^[01]$/.test(env.P2P_INDEX_CLASSIC.trim())) {
      throw new P2PError('BAD_SETTING', `P2P_INDEX_CLASSIC must be 0 or 1, got "${env.P2P_INDEX_CLASSIC}"`);
    }
    if (env.P2P_INDEX_CLASSIC.trim() === '1') options.classic = true;
  }
  const classicTtl = pick(values['classic-ttl'], 'classic-ttl', 'P2P_INDEX_CLASSIC_TTL');
  if (classicTtl) options.classicTtlSeconds = parseWhole(...classicTtl, 1, 0xffff_ffff);
  if (values['max-entries'] !== undefined) options.maxEntries = parseWhole(values['max-entries'], '--max-entries', 1, Number.MAX_SAFE_INTEGER);
  if (values['max-per-peer'] !== undefined) options.maxPerPeer = parseWhole(values['max-per-peer'], '--max-per-peer', 1, Number.MAX_SAFE_INTEGER);
  const perAddress = pick(values['max-per-address'], 'max-per-address', 'P2P_INDEX_MAX_PER_ADDRESS');
  if (perAddress) options.maxPerAddress = parseWhole(...perAddress, 1, Number.MAX_SAFE_INTEGER);
  const perSecret = pick(values['max-per-secret'], 'max-per-secret', 'P2P_INDEX_MAX_PER_SECRET');
  if (perSecret) options.maxPerSecret = parseWhole(...perSecret, 1, Number.MAX_SAFE_INTEGER);
  if (values['rate-limit'] !== undefined) {
    const perSecond = parseWhole(values['rate-limit'], '--rate-limit', 0, 1e9);
    options.rateLimit = perSecond === 0 ? false : { perSecond, burst: perSecond * 2 };
  }
  const level = pick(values['log-level'], 'log-level', 'P2P_INDEX_LOG_LEVEL');
  let logLevel: LogLevel = 'info';
  if (values.verbose) logLevel = 'debug';
  else if (level) {
    try {
      logLevel = parseLogLevel(level[0]);
    } catch (err) {
      throw new P2PError('BAD_SETTING', `${level[1]}: ${(err as P2PError).detail}`);
    }
  }
  const ownerTtl = pick(values['owner-ttl'], 'owner-ttl', 'P2P_INDEX_OWNER_TTL');
  const ownerTtlSeconds = ownerTtl ? parseWhole(...ownerTtl, 1, 0xffff_ffff) : DEFAULT_OWNER_TTL_SECONDS;
  const cookie = pick(values['cookie-secret'], 'cookie-secret', 'P2P_INDEX_COOKIE_SECRET');
  if (cookie) {
    if (!/^[0-9a-fA-F]{64}$/.test(cookie[0].trim())) throw new P2PError('BAD_SETTING', `${cookie[1]} must be 64 hex digits (32 bytes)`);
    options.cookieKey = Buffer.from(cookie[0].trim(), 'hex');
  }
  const store = pick(values.store, 'store', 'P2P_INDEX_STORE');
  const data = pick(values.data, 'data', 'P2P_INDEX_DATA');
  let storage: Storage;
  if (store) {
    if (!/^rediss?:\/\/[^\s]+$/.test(store[0].trim())) {
      throw new P2PError('BAD_SETTING', `${store[1]} must be a redis://HOST:PORT[/DB] URL, got "${store[0]}"`);
    }
    if (options.classic) throw new P2PError('BAD_SETTING', `--classic cannot be used with ${store[1]}: a classic owner is an IP address, which another server cannot check`);
    storage = { kind: 'redis', url: store[0].trim() };
  } else if (data && data[0].trim() === 'none') storage = { kind: 'memory' };
  else storage = { kind: 'lmdb', dir: data ? path.resolve(data[0].trim()) : defaultDataDir(env) };
  const adminAt = pick(values.admin, 'admin', 'P2P_INDEX_ADMIN');
  const envPublic = env.P2P_INDEX_ADMIN_PUBLIC?.trim();
  if (envPublic && !/^[01]$/.test(envPublic)) throw new P2PError('BAD_SETTING', `P2P_INDEX_ADMIN_PUBLIC must be 0 or 1, got "${env.P2P_INDEX_ADMIN_PUBLIC}"`);
  const admin = adminAt ? parseAdmin(...adminAt, values['admin-public'] === true || envPublic === '1') : undefined;
  return { kind: 'run', logLevel, options, storage, ownerTtlSeconds, ...(admin ? { admin } : {}) };
}

/** "[HOST:]PORT" of the admin endpoint; loopback unless `allowPublic`, since its counts are for the operator. */
export function parseAdmin(text: string, what: string, allowPublic: boolean): { host: string; port: number } {
  const t = text.trim();
  const bare = /^\d+$/.test(t);
  const split = bare ? undefined : /^(.*):(\d+)$/.exec(t);
  if (!bare && !split) throw new P2PError('BAD_SETTING', `${what} must be PORT or HOST:PORT (IPv6 in brackets), got "${text}"`);
  const port = parseWhole(bare ? t : split![2], what, 0, 0xffff);
  const host = bare ? '127.0.0.1' : parseHost(split![1], what);
  if (split && !split[1].startsWith('[') && isIPv6(host)) throw new P2PError('BAD_SETTING', `${what}: put an IPv6 address in brackets, as [::1]:9100`);
  if (!allowPublic && !isLoopback(host)) {
    throw new P2PError('BAD_SETTING', `${what} ${host} is not a loopback address: anyone who can reach it reads the index's counts; add --admin-public to mean it`);
  }
  return { host, port };
}

function isLoopback(host: string): boolean {
  return host === '::1' || /^127\./.test(host);
}

/** $XDG_DATA_HOME/p2p-share/index, else ~/.local/share/p2p-share/index (the XDG default). */
export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || homedir(), '.local', 'share');
  return path.join(base, 'p2p-share', 'index');
}

/**
 * Opens what `storage` names. The LMDB and Redis modules are loaded here, only when asked for, so
 * that nothing else that imports the server (the extension's local index server) pulls them in.
 */
async function openStorage(storage: Storage, ownerTtlSeconds: number, log: LogFn): Promise<{ owners?: OwnerBook; shared?: SharedStore; cookieKey?: Buffer }> {
  if (storage.kind === 'lmdb') {
    const { LmdbOwnerBook } = await import('./lmdb-owner-book');
    log('info', `name ownership kept in ${storage.dir} for ${ownerTtlSeconds} s after last use`);
    return { owners: new LmdbOwnerBook({ dir: storage.dir, ownerTtlSeconds }) };
  }
  if (storage.kind === 'redis') {
    const { RedisStore } = await import('./redis-store');
    const shared = await RedisStore.open({ url: storage.url, ownerTtlSeconds, log });
    log('info', `registry kept in ${shared.where} (${shared.replica.size} registrations loaded)`);
    return { shared, cookieKey: await shared.cookieKey() };
  }
  log('info', 'name ownership kept in memory only (--data none)');
  return {};
}

function parseWhole(text: string, what: string, min: number, max: number): number {
  const t = text.trim();
  const n = digitsValue(t, 16);
  if (!(n >= min && n <= max)) throw new P2PError('BAD_SETTING', `${what} must be a whole number ${min}..${max}, got "${text}"`);
  return n;
}

function parseHost(text: string, what: string): string {
  const t = text.trim();
  if (t === 'localhost') return '127.0.0.1';
  const bare = t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t;
  if (!isIP(bare)) throw new P2PError('BAD_SETTING', `${what} must be an IP address such as 127.0.0.1, 0.0.0.0, ::1 or ::, got "${text}"`);
  return bare;
}

/**
 * Runs the command; resolves with the process exit code: after --help/--version at once, otherwise
 * when `io.signal` aborts and the server has closed.
 */
export async function main(argv: string[] = process.argv.slice(2), io: CliIo = processIo()): Promise<number> {
  let cmd: CliCommand;
  try {
    cmd = parseCli(argv, io.env);
  } catch (err) {
    io.stderr(`p2p-index-server: ${cliMessage(err)}\nTry "p2p-index-server --help".\n`);
    return EXIT_USAGE;
  }
  if (cmd.kind === 'help') {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  if (cmd.kind === 'version') {
    io.stdout(`p2p-index-server ${packageVersion()}\n`);
    return EXIT_OK;
  }
  const log = createLogger({ level: cmd.logLevel, write: io.stderr });
  let opened: Awaited<ReturnType<typeof openStorage>>;
  try {
    opened = await openStorage(cmd.storage, cmd.ownerTtlSeconds, log);
  } catch (err) {
    log('error', cliMessage(err));
    return EXIT_FAILED;
  }
  const closeStorage = async (): Promise<void> => {
    await opened.shared?.close();
    await opened.owners?.close();
  };
  let server: IndexServer;
  try {
    server = new IndexServer({ ...cmd.options, cookieKey: cmd.options.cookieKey ?? opened.cookieKey, owners: opened.owners, shared: opened.shared, log, logLevel: cmd.logLevel });
  } catch (err) {
    await closeStorage();
    io.stderr(`p2p-index-server: ${cliMessage(err)}\n`);
    return EXIT_USAGE;
  }
  const stopped = new Promise<string>((resolve) => {
    if (io.signal?.aborted) resolve(String(io.signal.reason ?? 'abort'));
    io.signal?.addEventListener('abort', () => resolve(String(io.signal?.reason ?? 'abort')), { once: true });
  });
  try {
    await server.start();
  } catch (err) {
    log('error', cliMessage(err));
    await server.close();
    await closeStorage();
    return EXIT_FAILED;
  }
  // Scripts started with --port 0 read the port from this line, so it is written at every log level.
  if (!logs(cmd.logLevel, 'info')) createLogger({ level: 'info', write: io.stderr })('info', `listening on udp ${formatHostPort(server.address!.host, server.address!.port)}`);
  let admin: { close(): Promise<void> } | undefined;
  if (cmd.admin) {
    try {
      // Loaded only here, so prom-client stays out of everything that does not ask for --admin.
      const { startAdmin } = await import('./admin-http');
      const endpoint = await startAdmin(server, cmd.admin.host, cmd.admin.port);
      admin = endpoint;
      // Scripts started with --admin …:0 read the port from this line, like the UDP one.
      createLogger({ level: 'info', write: io.stderr })('info', `admin http on ${formatHostPort(endpoint.address.host, endpoint.address.port)} (/metrics, /stats.json, /healthz)`);
    } catch (err) {
      log('error', `--admin: ${cliMessage(err)}`);
      await server.close();
      await closeStorage();
      return EXIT_FAILED;
    }
  }
  io.onListening?.(server);
  const why = await stopped;
  log('info', `${why}: shutting down`);
  await admin?.close();
  await server.close();
  await closeStorage();
  return EXIT_OK;
}

function cliMessage(err: unknown): string {
  if (err instanceof P2PError && err.code === 'BAD_SETTING') return err.message.replace(/^Invalid setting: /, '');
  return err instanceof Error ? err.message : String(err);
}

function processIo(): CliIo {
  return {
    env: process.env,
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
  };
}

if (require.main === module) {
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    // A second signal while closing means the user wants out now.
    if (++signals > 1) process.exit(EXIT_FAILED);
    stop.abort(name);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  main(process.argv.slice(2), { ...processIo(), signal: stop.signal }).then(
    (code) => {
      process.exitCode = code;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
    (err) => {
      process.stderr.write(`p2p-index-server: ${(err as Error)?.stack ?? err}\n`);
      process.exit(EXIT_FAILED);
    },
  );
}
