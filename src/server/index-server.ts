// The UDP index server's transport: socket, rate limit, cookies, reply cache and size caps around one execute().
import { hkdfSync } from 'node:crypto';
import * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import {
  classifyDatagram, decodeIndexRequest, encodeErrorWithin, encodeIndexReply, isIndexReply, peekRequestId, peekType,
} from '../protocol/udp';
import { decodeClassicRequest, encodeClassicReply, isClassicReply } from '../protocol/classic';
import { ErrorCodes, P2PError } from '../protocol/errors';
import { CLASSIC_SIZE, ClassicReply, ClassicRequest, HEADER_BYTES, IndexRequest, MAX_DATAGRAM } from '../protocol/messages';
import { ExchangeKeyPair, MAC_END, exchangeKeyPair } from '../protocol/proof';
import { classicCommand, classicReply, describeClassicRequest } from './classic-form';
import { CookieJar } from './cookies';
import { execute, executeShared } from './execute';
import { LogLevel, logs } from '../common/log-level';
import { isWholeNumberIn } from '../common/numbers';
import { formatHostPort } from '../protocol/address-text';
import { LogFn } from './log';
import { describeIndexRequest, indexCommand, indexReply } from './new-form';
import { ExpiredEntry, Registry } from './registry';
import { RateLimiter } from './rate-limiter';
import { ReplyCache, requestFingerprint } from './reply-cache';
import { ID_WINDOW, ReplayGuard } from './replay-guard';
import { MemoryStore, RegistryStore } from './store';
import { OwnerBook } from './owner-book';
import { SharedStore } from './shared-store';
import { DurationBuckets, RequestCounts } from './traffic-counts';

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

/** Entries a single sweep removes before yielding to the event loop; the rest follow right after. */
const SWEEP_BATCH = 50_000;

/**
 * Events: 'listening' ({host, port}), 'request' (type, source "ip:port", outcome), 'expired'
 * (ExpiredEntry[]), 'error' is never emitted: socket errors are logged, never fatal.
 */
export class IndexServer extends EventEmitter {
  readonly registry: Registry;
  readonly classic: boolean;
  private readonly host: string;
  private readonly port: number;
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly logLevel: LogLevel;
  private readonly cookies: CookieJar;
  /** X25519 pair for this run: every H reply hands out its public half, to which a first claim wraps its index key. */
  private readonly exchange: ExchangeKeyPair;
  private readonly replies: ReplyCache;
  private readonly replayGuard: ReplayGuard;
  private readonly limiter?: RateLimiter;
  private readonly sweepIntervalMs: number;
  private socket?: dgram.Socket;
  private bound?: { host: string; port: number };
  private sweepTimer?: NodeJS.Timeout;
  private sweepMore?: NodeJS.Immediate;
  private starting?: Promise<{ host: string; port: number }>;
  private closing?: Promise<void>;
  private readonly counters: IndexServerStats = {
    datagrams: 0, bytesIn: 0, replies: 0, bytesOut: 0, dropped: 0, junk: 0, classicIgnored: 0, rateLimited: 0, retries: 0, internalErrors: 0, badCookies: 0, expired: 0, storeErrors: 0,
  };
  private readonly requestCounts = new RequestCounts();
  private readonly duration = new DurationBuckets();
  private readonly storeLatency = new DurationBuckets();
  /** R/T sent to a shared store and not yet answered, by "ip|port|requestId". */
  private readonly inFlight = new Set<string>();
  /** The operator is told once that classic clients are knocking while classic mode is off. */
  private toldClassicOff = false;
  constructor(opts: IndexServerOptions = {}) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 7870;
    if (!isWholeNumberIn(this.port, 0, 0xffff)) {
      throw new P2PError('BAD_SETTING', `port must be 0..65535, got ${opts.port}`);
    }
    this.classic = opts.classic ?? false;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => undefined);
    this.logLevel = opts.log ? (opts.logLevel ?? 'debug') : 'error';
    if (opts.shared && opts.classic) {
      throw new P2PError('BAD_SETTING', 'classic PDUs cannot be answered with a shared store: a classic owner is an IP address, which another server cannot check');
    }
    this.registry = new Registry(opts.shared?.replica ?? opts.store ?? new MemoryStore(), {
      ttlSeconds: opts.ttlSeconds,
      classicTtlSeconds: opts.classicTtlSeconds,
      maxEntries: opts.maxEntries,
      maxPerPeer: opts.maxPerPeer,
      maxPerAddress: opts.maxPerAddress,
      maxPerSecret: opts.maxPerSecret,
      now: this.now,
      owners: opts.owners,
      shared: opts.shared,
    });
    this.cookies = new CookieJar(this.now, opts.cookieKey);
    this.exchange = exchangeKeyPair(opts.cookieKey && Buffer.from(hkdfSync('sha256', opts.cookieKey, '', 'p2p-share index exchange key', 32)));
    this.replies = new ReplyCache({ now: this.now, maxBytes: opts.replyCacheBytes });
    this.replayGuard = new ReplayGuard({ now: this.now, maxSources: opts.replaySources });
    const rate = opts.rateLimit ?? { perSecond: 2000, burst: 4000 };
    if (rate) {
      if (!(rate.perSecond > 0) || !(rate.burst >= 1)) {
        throw new P2PError('BAD_SETTING', `rate limit needs perSecond > 0 and burst >= 1, got ${rate.perSecond}/s burst ${rate.burst}`);
      }
      this.limiter = new RateLimiter({ ...rate, now: this.now });
    }
    this.sweepIntervalMs = opts.sweepIntervalMs ?? Math.max(10, Math.min(1000, this.registry.ttlSeconds * 250));
    if (!(this.sweepIntervalMs > 0)) throw new P2PError('BAD_SETTING', `sweepIntervalMs must be positive, got ${opts.sweepIntervalMs}`);
  }

  /** The bound address once started, else undefined. */
  get address(): { host: string; port: number } | undefined {
    return this.bound ? { ...this.bound } : undefined;
  }

  get stats(): IndexServerStats {
    return { ...this.counters };
  }

  /** Requests by type and result and the duration histograms; copies, read at scrape time. */
  get traffic(): IndexServerTraffic {
    const copy = (d: DurationBuckets): DurationBuckets => Object.assign(new DurationBuckets(), { sum: d.sum, total: d.total, counts: [...d.counts] });
    return { requests: this.requestCounts.entries(), duration: copy(this.duration), storeLatency: copy(this.storeLatency) };
  }

  /** Registrations, distinct peer names and distinct content names held now. */
  get population(): { entries: number; peers: number; contents: number } {
    const store = this.registry.store;
    return { entries: store.size, peers: store.peerCount, contents: store.contentCount };
  }

  /** False while the shared store cannot be reached (writes fail); true without one. */
  get storeReachable(): boolean {
    return this.registry.shared?.reachable ?? true;
  }

  /** Binds the socket. Rejects with ADDRESS_IN_USE when the port is taken, BAD_SETTING for other bind failures. */
  start(): Promise<{ host: string; port: number }> {
    if (this.closing) return Promise.reject(new P2PError('CLOSED', 'the index server was closed'));
    this.starting ??= this.bind();
    return this.starting;
  }

  private bind(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4' });
      this.socket = socket;
      const onBindError = (err: NodeJS.ErrnoException): void => {
        socket.close();
        this.socket = undefined;
        const where = `udp ${formatHostPort(this.host, this.port)}`;
        reject(
          err.code === 'EADDRINUSE'
            ? new P2PError('ADDRESS_IN_USE', where, err)
            : new P2PError('BAD_SETTING', `cannot listen on ${where}: ${err.message}`, err),
        );
      };
      socket.once('error', onBindError);
      socket.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo));
      socket.bind(this.port, this.host, () => {
        socket.off('error', onBindError);
        socket.on('error', (err) => this.log('error', `socket error: ${err.message}`));
        try {
          // A larger receive buffer rides out bursts; the kernel may cap it, which is fine.
          socket.setRecvBufferSize(4 * 1024 * 1024);
        } catch {
          /* the default buffer still works */
        }
        const a = socket.address();
        this.bound = { host: a.address, port: a.port };
        this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
        this.sweepTimer.unref();
        this.log('info', `listening on udp ${formatHostPort(a.address, a.port)}`);
        if (this.classic) {
          const ttl = this.registry.classicTtlSeconds;
          this.log(
            'info',
            'classic 101-byte PDUs are answered (--classic): they carry no proof of address, so anyone can forge one ' +
              `with another host's IP; classic registrations ${ttl === undefined ? 'stand until their T' : `end after ${ttl} s`}`,
          );
        }
        this.emit('listening', { ...this.bound });
        resolve({ ...this.bound });
      });
    });
  }

  /** Stops answering and releases the socket; safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined);
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      if (this.sweepMore) clearImmediate(this.sweepMore);
      const socket = this.socket;
      this.socket = undefined;
      if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
      this.replies.clear();
      this.replayGuard.clear();
      this.limiter?.clear();
      if (this.bound) this.log('info', `stopped listening on udp ${formatHostPort(this.bound.host, this.bound.port)}`);
    })();
    return this.closing;
  }

  /**
   * Removes registrations whose lease ended (emitting 'expired'), stale cached replies and idle
   * rate buckets. Runs on a timer; public so callers with an injected clock can force it.
   */
  sweep(): ExpiredEntry[] {
    const gone = this.registry.sweep(SWEEP_BATCH);
    if (gone.length === SWEEP_BATCH && !this.sweepMore && this.socket) {
      this.sweepMore = setImmediate(() => {
        this.sweepMore = undefined;
        this.sweep();
      });
    }
    this.replies.sweep();
    this.replayGuard.sweep();
    this.limiter?.sweep();
    if (gone.length > 0) {
      this.counters.expired += gone.length;
      for (const e of gone) this.log('debug', `expired ${e.peerName} ${e.contentName} at ${formatHostPort(e.host, e.port)}`);
      this.log('info', `lease ended for ${gone.length} registration${gone.length === 1 ? '' : 's'}; ${this.registry.size} left`);
      this.emit('expired', gone);
    }
    return gone;
  }

  private onDatagram(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const started = performance.now();
    try {
      this.counters.datagrams++;
      this.counters.bytesIn += buf.length;
      this.handle(buf, rinfo);
      this.duration.observe((performance.now() - started) / 1000);
    } catch (err) {
      // Never let one datagram take the server down: a bug becomes E INTERNAL and a log line.
      this.counters.internalErrors++;
      this.log('error', `internal error on a ${buf.length}-byte datagram from ${formatHostPort(rinfo.address, rinfo.port)}: ${(err as Error)?.stack ?? err}`);
      try {
        this.sendError(buf, rinfo, new P2PError('INTERNAL', 'the failure was logged'));
      } catch {
        /* already logged; nothing more to do for this datagram */
      }
    }
  }

  private handle(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const kind = classifyDatagram(buf);
    if (kind === 'oversize') {
      this.counters.dropped++;
      return;
    }
    const ip = normalizeIp(rinfo.address);
    // Neither form: a reply in either form would be garbage to the sender (and, read as the answer
    // to its next request, would put every later reply one step behind). Dropped before the rate
    // limit, since nothing is sent either way.
    if (kind === 'junk') {
      this.counters.dropped++;
      this.counters.junk++;
      this.done('?', ip, rinfo, 'debug', `${buf.length} bytes of neither form`, 'dropped');
      return;
    }
    if (kind === 'classic' && !this.classic) {
      this.ignoreClassic(ip, rinfo);
      return;
    }
    if (this.limiter) {
      const decision = this.limiter.take(ip);
      if (decision !== 'ok') {
        this.counters.rateLimited++;
        if (decision === 'notify') {
          this.log('info', `rate limiting ${ip}`);
          this.sendError(buf, rinfo, new P2PError('RATE_LIMITED', `more than ${this.limiter.perSecond} requests a second from ${ip}`));
        } else this.counters.dropped++;
        return;
      }
    }
    if (kind === 'classic') this.handleClassic(buf, ip, rinfo);
    else this.handleNew(buf, ip, rinfo);
  }

  private handleNew(buf: Buffer, ip: string, rinfo: dgram.RemoteInfo): void {
    let req: IndexRequest;
    try {
      req = decodeIndexRequest(buf);
    } catch (err) {
      if (!(err instanceof P2PError)) throw err;
      if (err.code === 'UNKNOWN_TYPE' && isIndexReply(buf)) {
        this.ignoreReply(buf, ip, rinfo);
        return;
      }
      this.sendError(buf, rinfo, err);
      this.done('?', ip, rinfo, 'debug', `undecodable (${err.message})`, `E ${err.code}`);
      return;
    }
    if (req.type === 'H') {
      if (isIndexReply(buf)) {
        this.ignoreReply(buf, ip, rinfo);
        return;
      }
      const cookie = this.cookies.issue(ip, rinfo.port);
      this.send(encodeIndexReply({ type: 'H', requestId: req.requestId, cookie, exchangeKey: this.exchange.publicKey }), rinfo);
      this.done('H', ip, rinfo, 'debug', '', 'H');
      return;
    }
    if (!this.cookies.verify(req.cookie, ip, rinfo.port)) {
      this.counters.badCookies++;
      this.sendError(buf, rinfo, new P2PError('BAD_COOKIE', 'send H for a new cookie'));
      this.done(req.type, ip, rinfo, 'debug', describeIndexRequest(req), 'E BAD_COOKIE');
      return;
    }
    // Only R and T change state, so only their replies are remembered for retries: a retried S or O is
    // simply answered afresh, which costs less than caching every reply and is never less correct.
    // The cookie and the MAC sit at bytes 6..54 of every R/T; a retry after a re-handshake carries a new
    // cookie, and so a new MAC.
    const remembered = req.type === 'R' || req.type === 'T';
    const fingerprint = remembered ? requestFingerprint(buf, HEADER_BYTES, MAC_END) : 0;
    const cached = remembered ? this.replies.get(ip, rinfo.port, req.requestId, fingerprint) : undefined;
    if (cached) {
      this.counters.retries++;
      this.send(cached, rinfo);
      this.done(req.type, ip, rinfo, 'debug', describeIndexRequest(req), `${peekType(cached)} (repeated for a retry)`);
      return;
    }
    // Past the reply cache's 30 s a replayed R/T would run again while its cookie still passes: the
    // guard remembers each source's ids for as long as any of its cookies can.
    if (remembered && this.refuseReplay(req.requestId, ip, rinfo, describeIndexRequest(req), req.type)) return;
    if ((req.type === 'R' || req.type === 'T') && this.registry.shared) {
      this.runShared(req, ip, rinfo, fingerprint, buf);
      return;
    }
    let reply: Buffer;
    let outcome: string;
    let level: LogLevel = remembered ? 'info' : 'debug';
    let note = '';
    let proven = true;
    try {
      const done = execute(this.registry, indexCommand(req, ip, buf, this.exchange));
      const r = indexReply(req.requestId, done);
      reply = encodeIndexReply(r);
      outcome = r.type;
      note = this.changeNote(done);
      // A lease refresh comes once a third of a lease per file: only news is worth an info line.
      if (done.kind === 'register' && done.refreshed) level = 'debug';
    } catch (err) {
      if (!isRefusal(err)) throw err;
      reply = encodeErrorWithin(req.requestId, err.wireCode, err.detail, MAX_DATAGRAM)!;
      outcome = `E ${err.code}`;
      proven = err.code !== 'BAD_PROOF';
    }
    // A request that does not prove its peer name changed nothing and is not remembered: a forged or
    // damaged copy cannot use up the id, nor have its refusal served to the genuine request.
    if (remembered && proven) {
      this.replies.set(ip, rinfo.port, req.requestId, fingerprint, reply);
      this.replayGuard.record(ip, rinfo.port, req.requestId);
    }
    this.send(reply, rinfo);
    this.done(req.type, ip, rinfo, level, describeIndexRequest(req), outcome, note);
  }

  /**
   * An R or T against a shared store: a round trip away, so it runs while other datagrams are
   * answered. Its id is recorded against replay at once; a retry that arrives before the answer is
   * dropped (the answer is on its way, and then cached for later retries).
   */
  private runShared(req: Extract<IndexRequest, { type: 'R' | 'T' }>, ip: string, rinfo: dgram.RemoteInfo, fingerprint: number, buf: Buffer): void {
    const key = `${ip}|${rinfo.port}|${req.requestId}`;
    if (this.inFlight.has(key)) {
      this.counters.retries++;
      return;
    }
    this.inFlight.add(key);
    this.replayGuard.record(ip, rinfo.port, req.requestId);
    const what = describeIndexRequest(req);
    const cmd = indexCommand(req, ip, buf, this.exchange) as Parameters<typeof executeShared>[1];
    const started = performance.now();
    void executeShared(this.registry, cmd).then(
      (done) => {
        this.storeLatency.observe((performance.now() - started) / 1000);
        const r = indexReply(req.requestId, done);
        return { reply: encodeIndexReply(r), outcome: r.type, note: this.changeNote(done), level: (done.kind === 'register' && done.refreshed ? 'debug' : 'info') as LogLevel };
      },
      (err: unknown) => {
        if (!isRefusal(err)) throw err;
        if (err.code === 'STORE_UNAVAILABLE') this.counters.storeErrors++;
        else this.storeLatency.observe((performance.now() - started) / 1000);
        return { reply: encodeErrorWithin(req.requestId, err.wireCode, err.detail, MAX_DATAGRAM)!, outcome: `E ${err.code}`, note: '', level: 'info' as LogLevel };
      },
    ).then(
      ({ reply, outcome, note, level }) => {
        this.inFlight.delete(key);
        this.replies.set(ip, rinfo.port, req.requestId, fingerprint, reply);
        this.send(reply, rinfo);
        this.done(req.type, ip, rinfo, level, what, outcome, note);
      },
      (err: unknown) => {
        this.inFlight.delete(key);
        this.counters.internalErrors++;
        this.log('error', `internal error on ${req.type} ${what} from ${formatHostPort(ip, rinfo.port)}: ${(err as Error)?.stack ?? err}`);
        this.send(encodeErrorWithin(req.requestId, ErrorCodes.INTERNAL, 'the failure was logged', MAX_DATAGRAM)!, rinfo);
      },
    );
  }

  /** Answers an R/T the replay guard will not let run (E REPLAYED, or BUSY when it has no room); true when it did. */
  private refuseReplay(requestId: number, ip: string, rinfo: dgram.RemoteInfo, what: string, type: string): boolean {
    const verdict = this.replayGuard.check(ip, rinfo.port, requestId);
    if (verdict === 'fresh') return false;
    const err =
      verdict === 'full'
        ? new P2PError('BUSY', `the server remembers ${this.replayGuard.maxSources} sources' requests; try again in a few minutes`)
        : new P2PError('REPLAYED', `request id ${requestId} from ${formatHostPort(ip, rinfo.port)} ${verdict === 'seen' ? 'was already carried out' : `is older than the last ${ID_WINDOW} carried out`}`);
    this.send(encodeErrorWithin(requestId, err.wireCode, err.detail, MAX_DATAGRAM)!, rinfo);
    this.done(type, ip, rinfo, 'info', what, `E ${err.code}`);
    return true;
  }

  private handleClassic(buf: Buffer, ip: string, rinfo: dgram.RemoteInfo): void {
    const type = `classic ${peekType(buf)}`;
    let reply: ClassicReply;
    let what = '';
    let note = '';
    try {
      let req: ClassicRequest;
      try {
        req = decodeClassicRequest(buf);
      } catch (err) {
        if (err instanceof P2PError && err.code === 'UNKNOWN_TYPE' && isClassicReply(buf)) {
          this.ignoreReply(buf, ip, rinfo);
          return;
        }
        throw err;
      }
      if (req.type === 'S' && isClassicReply(buf)) {
        this.ignoreReply(buf, ip, rinfo);
        return;
      }
      what = describeClassicRequest(req);
      const done = execute(this.registry, classicCommand(req, ip));
      reply = classicReply(done);
      note = this.changeNote(done);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      this.sendError(buf, rinfo, err);
      this.done(type, ip, rinfo, type === 'classic R' || type === 'classic T' ? 'info' : 'debug', what, `E ${err.code}`);
      return;
    }
    this.send(encodeClassicReply(reply), rinfo);
    this.done(type, ip, rinfo, reply.type === 'A' ? 'info' : 'debug', what, reply.type, note);
  }

  /** Classic mode is off: no reply (it could go to a forged address), a count, and one info line for the operator. */
  private ignoreClassic(ip: string, rinfo: dgram.RemoteInfo): void {
    this.counters.dropped++;
    this.counters.classicIgnored++;
    if (!this.toldClassicOff) {
      this.toldClassicOff = true;
      this.log('info', `classic 101-byte PDUs arrive (first from ${formatHostPort(ip, rinfo.port)}) but are not answered: start with --classic to answer them`);
    }
    this.done('classic', ip, rinfo, 'debug', '', 'ignored (classic mode is off)');
  }

  /** What a change did to the index, with the count left, for the log line; '' for a read. */
  private changeNote(done: { kind: string; refreshed?: boolean; removed?: number }): string {
    if (done.kind === 'register') return `${done.refreshed ? 'refreshed' : 'registered'}; ${this.registry.size} held`;
    if (done.kind === 'deregister') return `removed ${done.removed}; ${this.registry.size} held`;
    return '';
  }

  /**
   * An E to a sender that has not shown a valid cookie: a classic one (101 bytes) for a classic datagram,
   * otherwise a new-form one cut to the request's size (no amplification); silent when nothing fits.
   */
  private sendError(request: Buffer, rinfo: dgram.RemoteInfo, err: P2PError): void {
    if (classifyDatagram(request) === 'classic') {
      this.send(encodeClassicReply({ type: 'E', message: err.message }), rinfo);
      return;
    }
    const reply = encodeErrorWithin(peekRequestId(request) ?? 0, err.wireCode, err.detail, Math.min(request.length, MAX_DATAGRAM));
    if (reply) this.send(reply, rinfo);
    else this.counters.dropped++;
  }

  /**
   * Another server's reply (spoofed to come from it, or echoed back) is never answered: two servers
   * that answer everything would otherwise ping-pong one datagram between them forever.
   */
  private ignoreReply(buf: Buffer, ip: string, rinfo: dgram.RemoteInfo): void {
    this.counters.dropped++;
    this.done(`${buf.length === CLASSIC_SIZE ? 'classic ' : ''}${peekType(buf)} reply`, ip, rinfo, 'debug', '', 'ignored');
  }

  private send(reply: Buffer, rinfo: dgram.RemoteInfo): void {
    const socket = this.socket;
    if (!socket) return;
    this.counters.replies++;
    this.counters.bytesOut += reply.length;
    // No completion callback: it costs a request wrap per datagram, and a failed send already
    // reaches the socket's 'error' listener, which logs it.
    socket.send(reply, rinfo.port, rinfo.address);
  }

  private done(type: string, ip: string, rinfo: dgram.RemoteInfo, level: LogLevel, what: string, outcome: string, note = ''): void {
    this.requestCounts.add(type, outcome);
    // Most requests are logged at debug: at 30k requests a second, building lines nobody reads shows.
    if (!logs(this.logLevel, level) && this.listenerCount('request') === 0) return;
    const source = formatHostPort(ip, rinfo.port);
    this.log(level, `${type}${what ? ' ' + what : ''} from ${source} -> ${outcome}${note ? ` (${note})` : ''}`);
    this.emit('request', type, source, outcome);
  }
}

/** A P2PError the protocol answers with E; anything else (INTERNAL included) is a bug for onDatagram to log. */
function isRefusal(err: unknown): err is P2PError {
  return err instanceof P2PError && err.code !== 'INTERNAL' && ErrorCodes[err.code] < 100;
}

/** IPv4-mapped IPv6 sources (on a dual-stack socket) are IPv4 peers: store and compare them as such. */
export function normalizeIp(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1] : address;
}
