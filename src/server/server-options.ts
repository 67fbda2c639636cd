// What an IndexServer is given (its options) and what it reports (stats, traffic counts).
import { LogLevel } from '../common/log-level';
import { LogFn } from './log';
import { OwnerBook } from './owner-book';
import { SharedStore } from './shared-store';
import { RegistryStore } from './store';
import { DurationBuckets } from './traffic-counts';

export interface IndexServerOptions {
  /** Address to bind: '127.0.0.1' (default), '0.0.0.0', '::1' or '::' (dual-stack). */
  host?: string;
  /** UDP port; 0 = any free port. Default 7870. */
  port?: number;
  /** Lease of a registration after its last R. Default 120. */
  ttlSeconds?: number;
  /**
   * Answer classic 101-byte PDUs. Default false: they carry no proof of address, so anyone can
   * forge one with another host's IP. Off, they are dropped and counted, never answered.
   */
  classic?: boolean;
  /** Lifetime of a classic registration. Default none: it stands until its T (see Registry). */
  classicTtlSeconds?: number;
  maxEntries?: number;
  maxPerPeer?: number;
  /** Registrations from one IPv4 address or IPv6 /64 (Registry). Default 2 000. */
  maxPerAddress?: number;
  /** Registrations under one secret, all its peer names together (Registry). Default 1 000. */
  maxPerSecret?: number;
  /** Sources (ip, port) whose R/T ids are remembered against replay at once (ReplayGuard). Default 131 072. */
  replaySources?: number;
  /** Per source IP (IPv6: per /64); false turns limiting off. Default { perSecond: 2000, burst: 4000 }. */
  rateLimit?: { perSecond: number; burst: number } | false;
  /** How often expired leases, cached replies and idle rate buckets are swept. Default min(1000, ttl/4). */
  sweepIntervalMs?: number;
  /** Memory bound of the reply cache in bytes. Default 32 MiB. */
  replyCacheBytes?: number;
  /** Where registrations live. Default a fresh MemoryStore. */
  store?: RegistryStore;
  /** Keeps name ownership past the last registration (LmdbOwnerBook keeps it on disk). Default none: memory only. */
  owners?: OwnerBook;
  /**
   * A registry several servers share (RedisStore): R and T are carried out there, S and O answered
   * from its local copy. Takes the place of `store`; classic PDUs are not answered with it.
   */
  shared?: SharedStore;
  /**
   * Key of the handshake cookies; servers that share it accept each other's cookies, and derive the
   * same exchange key pair, so a proof of ownership wrapped for one opens at the others. Default random.
   */
  cookieKey?: Buffer;
  /** Clock in ms, for leases, cookie windows, the reply cache and rate buckets. Default Date.now. */
  now?: () => number;
  /** Receives every log line. Default: silent. */
  log?: LogFn;
  /** The most detailed level `log` keeps, so the server can skip building lines it would drop. Default 'debug'. */
  logLevel?: LogLevel;
}

export interface IndexServerStats {
  datagrams: number;
  bytesIn: number;
  replies: number;
  bytesOut: number;
  /** Oversize datagrams and anything else dropped without a reply. */
  dropped: number;
  /** Of `dropped`: datagrams of neither form (byte 1 is not the version), which no client could read a reply to. */
  junk: number;
  /** Of `dropped`: classic PDUs that arrived while classic mode was off. */
  classicIgnored: number;
  rateLimited: number;
  retries: number;
  internalErrors: number;
  /** Requests refused with BAD_COOKIE (no, stale or forged handshake cookie). */
  badCookies: number;
  /** Registrations whose lease ended. */
  expired: number;
  /** Writes the shared store could not carry out (STORE_UNAVAILABLE). */
  storeErrors: number;
}

/** What the admin endpoint publishes: counts kept on the hot path, read at scrape time. */
export interface IndexServerTraffic {
  requests: Array<{ type: string; result: string; n: number }>;
  /** Time spent handling one datagram (a shared store's round trip excluded). */
  duration: DurationBuckets;
  /** Round trips of writes to the shared store, when there is one. */
  storeLatency: DurationBuckets;
}
