// The UDP index server's transport: socket, rate limit and size caps around the answers, plus the sweep of expired state.
import { hkdfSync } from 'node:crypto';
import * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { classifyDatagram, encodeErrorWithin, peekRequestId, peekType } from '../protocol/udp';
import { encodeClassicReply } from '../protocol/classic';
import { P2PError } from '../protocol/errors';
import { CLASSIC_SIZE, MAX_DATAGRAM } from '../protocol/messages';
import { ExchangeKeyPair, exchangeKeyPair } from '../protocol/proof';
import { LogLevel, logs } from '../common/log-level';
import { isWholeNumberIn } from '../common/numbers';
import { formatHostPort } from '../protocol/address-text';
import { Answers } from './answers';
import { CookieJar } from './cookies';
import { LogFn } from './log';
import { ExpiredEntry, Registry } from './registry';
import { RateLimiter } from './rate-limiter';
import { ReplyCache } from './reply-cache';
import { ReplayGuard } from './replay-guard';
import { MemoryStore } from './store';
import { IndexServerOptions, IndexServerStats, IndexServerTraffic } from './server-options';
import { DurationBuckets, RequestCounts } from './traffic-counts';

export type { IndexServerOptions, IndexServerStats, IndexServerTraffic } from './server-options';

/** Receive and send buffer asked of the kernel for the server's socket. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

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
  private readonly answers: Answers;
  /**
   * Replies not yet sent, as reply, rinfo, reply, rinfo...: libuv hands over up to 32 datagrams per
   * socket wake-up, each answered in turn, and their replies leave together once all are (setImmediate
   * runs right after that I/O). One flat array, so holding a reply allocates nothing.
   */
  private readonly outbox: (Buffer | dgram.RemoteInfo)[] = [];
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
    this.answers = new Answers(
      { registry: this.registry, cookies: this.cookies, exchange: this.exchange, replies: this.replies, replayGuard: this.replayGuard, counters: this.counters, storeLatency: this.storeLatency },
      {
        send: (reply, rinfo) => this.send(reply, rinfo),
        sendError: (request, rinfo, err) => this.sendError(request, rinfo, err),
        ignoreReply: (buf, ip, rinfo) => this.ignoreReply(buf, ip, rinfo),
        done: (type, ip, rinfo, level, what, outcome, note) => this.done(type, ip, rinfo, level, what, outcome, note),
        log: (level, message) => this.log(level, message),
      },
    );
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
        // Larger buffers ride out bursts (256 requests in flight from one client arrive at once, and
        // their replies leave at once); the kernel may cap either, which is fine.
        setBuffer(() => socket.setRecvBufferSize(SOCKET_BUFFER_BYTES));
        setBuffer(() => socket.setSendBufferSize(SOCKET_BUFFER_BYTES));
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
      // Replies already worked out still leave: they answer requests that arrived before the close.
      // dgram sends to an address on the next tick, and closing the socket first would drop them.
      if (this.outbox.length > 0) {
        this.flushOutbox();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
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
    if (kind === 'classic') this.answers.classic(buf, ip, rinfo);
    else this.answers.newForm(buf, ip, rinfo);
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
    // Held until the datagrams that arrived together are all answered, then sent back to back: on
    // loopback a send runs the receiver's side too and wakes it, and a peer woken once for a burst of
    // replies costs less than one woken per reply (measured in bench/RESULTS.md, section 1).
    if (this.outbox.length === 0) setImmediate(this.flushOutbox);
    this.outbox.push(reply, rinfo);
  }

  /** Sends what `send` held. No completion callback: it costs a request wrap per datagram, and a failed send already reaches the socket's 'error' listener, which logs it. */
  private readonly flushOutbox = (): void => {
    const socket = this.socket;
    const box = this.outbox;
    if (socket) {
      for (let i = 0; i < box.length; i += 2) {
        const rinfo = box[i + 1] as dgram.RemoteInfo;
        socket.send(box[i] as Buffer, rinfo.port, rinfo.address);
      }
    }
    box.length = 0;
  };

  private done(type: string, ip: string, rinfo: dgram.RemoteInfo, level: LogLevel, what: string, outcome: string, note = ''): void {
    this.requestCounts.add(type, outcome);
    // Most requests are logged at debug: at 30k requests a second, building lines nobody reads shows.
    if (!logs(this.logLevel, level) && this.listenerCount('request') === 0) return;
    const source = formatHostPort(ip, rinfo.port);
    this.log(level, `${type}${what ? ' ' + what : ''} from ${source} -> ${outcome}${note ? ` (${note})` : ''}`);
    this.emit('request', type, source, outcome);
  }
}

function setBuffer(set: () => void): void {
  try {
    set();
  } catch {
    /* the default buffer still works */
  }
}

/** IPv4-mapped IPv6 sources (on a dual-stack socket) are IPv4 peers: store and compare them as such. */
export function normalizeIp(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1] : address;
}
