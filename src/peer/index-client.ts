// The peer's UDP conversation with one index server: handshake cookie, proofs of R and T, request ids, retries with backoff.
import * as dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { SourceClaims } from '../protocol/claims';
import { P2PError, codeFromWire, toP2PError } from '../protocol/errors';
import { COOKIE_BYTES, IndexReply, NameHit, OnlineEntry, Source } from '../protocol/messages';
import { Claim, ExchangeKeyPair, UnprovenRequest, claimFor, encodeProven, exchangeKeyPair, indexKeyOf } from '../protocol/proof';
import { decodeIndexReply, encodeIndexRequest } from '../protocol/udp';
import { ipToBytes } from '../protocol/wire';
import { HostPort, formatAddress } from './address';
import { RequestSlots, raceSignal } from './request-slots';
import type { LogLevel } from './api';

export interface IndexClientOptions {
  /** The index server; a host name is resolved once, on the first request. */
  address: HostPort;
  /** Wait for the first try of a request; doubled on each retry, up to MAX_BACKOFF_FACTOR times this. Default 500 ms. */
  requestTimeoutMs?: number;
  /** Sends of one request before it fails with TIMEOUT. Default 5. */
  requestTries?: number;
  /** Requests waiting for a reply at once; more queue up. Default 16. */
  maxInFlight?: number;
  /**
   * A cookie older than this is renewed before use. The server accepts a cookie for at least 120 s
   * (docs/protocol.md, H); renewing a little earlier saves a BAD_COOKIE round trip. Default 100 000 ms.
   */
  cookieMaxAgeMs?: number;
  /**
   * Local IP to send from. The index registers the R datagram's source IP as this peer's address, so a
   * peer whose content server listens on one specific IP must also send from it. Ignored when its family
   * differs from the index server's.
   */
  localAddress?: string;
  log?: (level: LogLevel, message: string) => void;
  /**
   * Told, while the request still retries, that the index server looks gone: a request unanswered for
   * NO_ANSWER_MS (TIMEOUT), or a refusal over ICMP (UNREACHABLE, which also ends the requests in flight).
   * A user must hear within seconds, not after the whole retry schedule.
   */
  onNoAnswer?: (err: P2PError) => void;
}

export interface RequestOptions {
  /** Aborting rejects the request with CANCELLED and stops its retries. */
  signal?: AbortSignal;
  /** Overrides requestTries for this request. */
  tries?: number;
  /** Overrides requestTimeoutMs for this request. */
  timeoutMs?: number;
}

/**
 * A retry waits at most this many times the first wait (four doublings: the default 500 ms becomes
 * 8 s at the fifth try, as before). Without a cap, more tries would mean minutes of silence per try,
 * and a retry span beyond the server's 30 s reply cache would carry a request out twice.
 */
const MAX_BACKOFF_FACTOR = 16;
/** A request unanswered this long makes the index look gone (onNoAnswer), though it keeps retrying. */
export const NO_ANSWER_MS = 3000;

interface Pending {
  expect: string;
  resolve(reply: IndexReply): void;
  fail(err: P2PError): void;
}

interface Target {
  ip: string;
  bytes: Buffer;
  port: number;
  family: 4 | 6;
}

/** What an H gave: the cookie, and the index's exchange key for this run. */
interface Session {
  cookie: Buffer;
  exchangeKey: Buffer;
}

type Build = (requestId: number, session: Session) => Buffer;

export class IndexClient {
  readonly address: string;
  private readonly server: HostPort;
  private readonly timeoutMs: number;
  private readonly tries: number;
  private readonly cookieMaxAgeMs: number;
  private readonly localAddress?: string;
  private readonly log: (level: LogLevel, message: string) => void;
  private readonly onNoAnswer: (err: P2PError) => void;

  private nextId = Math.floor(Math.random() * 0x1_0000_0000);
  private readonly pending = new Map<number, Pending>();
  private readonly slots: RequestSlots;
  private target?: Promise<Target>;
  private socket?: Promise<dgram.Socket>;
  private cookie?: { value: Session; at: number };
  private cookieRequest?: Promise<Session>;
  /** This client's X25519 key share, made on the first R or T. */
  private share?: ExchangeKeyPair;
  /** The claim last made: the same index key to the same exchange key wraps the same way. */
  private lastClaim?: { key: Buffer; exchangeKey: Buffer; claim: Claim };
  private closed = false;
  private closing?: Promise<void>;

  constructor(options: IndexClientOptions) {
    this.server = { host: options.address.host, port: options.address.port };
    this.address = formatAddress(this.server);
    this.timeoutMs = options.requestTimeoutMs ?? 500;
    this.tries = options.requestTries ?? 5;
    this.cookieMaxAgeMs = options.cookieMaxAgeMs ?? 100_000;
    this.localAddress = options.localAddress;
    this.log = options.log ?? (() => undefined);
    this.onNoAnswer = options.onNoAnswer ?? (() => undefined);
    if (!(this.timeoutMs > 0)) throw new P2PError('BAD_SETTING', `request timeout must be positive, got ${this.timeoutMs}`);
    if (!Number.isInteger(this.tries) || this.tries < 1) throw new P2PError('BAD_SETTING', `request tries must be a whole number of at least 1, got ${this.tries}`);
    const maxInFlight = options.maxInFlight ?? 16;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new P2PError('BAD_SETTING', `maxInFlight must be at least 1, got ${maxInFlight}`);
    this.slots = new RequestSlots(maxInFlight, () => new P2PError('CANCELLED', `request to index server ${this.address}`));
  }

  /** Gets a fresh cookie: proves the index server answers (Peer uses it as a reachability probe). */
  async handshake(options: RequestOptions = {}): Promise<void> {
    this.cookie = undefined;
    await this.getCookie(options);
  }

  /** R: registers (or refreshes) one content; resolves with the lease in seconds. */
  async register(
    peerName: string,
    secret: Buffer,
    tcpPort: number,
    contentName: string,
    size: number,
    sha256: Buffer,
    options: RequestOptions = {},
    claims: SourceClaims = {},
  ): Promise<number> {
    const reply = await this.request(
      'R',
      (requestId, s) => this.prove({ type: 'R', requestId, cookie: s.cookie, tcpPort, size, sha256, peerName, contentName, claims }, secret, s),
      'A',
      options,
    );
    return reply.type === 'A' ? reply.leaseSeconds : 0;
  }

  /** T: removes one content of this peer, or every one when contentName is ''. */
  async deregister(peerName: string, secret: Buffer, contentName: string, options: RequestOptions = {}): Promise<void> {
    await this.request('T', (requestId, s) => this.prove({ type: 'T', requestId, cookie: s.cookie, peerName, contentName }, secret, s), 'A', options);
  }

  /**
   * An R or T with its proof (docs/protocol.md, "Proof of ownership"): the secret stays here; the
   * datagram carries a MAC under the index key derived from it, and that key wrapped to the index's
   * exchange key for a first claim.
   */
  private prove(req: UnprovenRequest, secret: Buffer, session: Session): Buffer {
    const key = indexKeyOf(secret);
    const last = this.lastClaim;
    let claim = last && last.key.equals(key) && last.exchangeKey.equals(session.exchangeKey) ? last.claim : undefined;
    if (!claim) {
      this.share ??= exchangeKeyPair();
      claim = claimFor(key, session.exchangeKey, this.share);
      this.lastClaim = { key, exchangeKey: session.exchangeKey, claim };
    }
    return encodeProven(req, key, claim);
  }

  /** S: every live source of one content; E NOT_FOUND when nobody shares it. */
  async search(contentName: string, options: RequestOptions = {}): Promise<Source[]> {
    const reply = await this.request('S', (requestId, s) => encodeIndexRequest({ type: 'S', requestId, cookie: s.cookie, contentName }), 'S', options);
    return reply.type === 'S' ? reply.sources : [];
  }

  /**
   * O: one page of the online list from `cursor` (0 = the first), and the index's next cursor (0 = the
   * end). One datagram: walking further is the caller's choice (list-pages.ts bounds it).
   */
  async onlinePage(cursor: number, options: RequestOptions = {}): Promise<{ entries: OnlineEntry[]; next: number }> {
    const reply = await this.request('O', (requestId, s) => encodeIndexRequest({ type: 'O', requestId, cookie: s.cookie, cursor }), 'O', options);
    return reply.type === 'O' ? { entries: reply.entries, next: reply.next } : { entries: [], next: 0 };
  }

  /** F: one page of content names that contain `query`, from name cursor `cursor` (0 = the first). */
  async namePage(query: string, cursor: number, options: RequestOptions = {}): Promise<{ hits: NameHit[]; next: number }> {
    const reply = await this.request('F', (requestId, s) => encodeIndexRequest({ type: 'F', requestId, cookie: s.cookie, cursor, query }), 'F', options);
    return reply.type === 'F' ? { hits: reply.hits, next: reply.next } : { hits: [], next: 0 };
  }

  /** Stops every request in progress (CLOSED) and closes the socket. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    const closed = new P2PError('CLOSED', `the connection to index server ${this.address} was closed`);
    for (const waiting of [...this.pending.values()]) waiting.fail(closed);
    this.slots.failWaiting(closed);
    const socket = this.socket;
    this.socket = undefined;
    this.closing = (async () => {
      const s = await socket?.catch(() => undefined);
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    })();
    return this.closing;
  }

  // ---- requests ----

  /** One request that needs a cookie: handshakes first, and once more when the server says BAD_COOKIE. */
  private async request(type: string, build: Build, expect: string, options: RequestOptions): Promise<IndexReply> {
    this.checkOpen();
    let session = await this.getCookie(options);
    let reply = await this.exchange(type, (id) => build(id, session), expect, options);
    if (reply.type === 'E' && codeFromWire(reply.code) === 'BAD_COOKIE') {
      // The server restarted (new key) or the cookie aged out: handshake again and retry once, with a
      // new request id, since the server would answer the old id from its reply cache.
      this.log('debug', `index server ${this.address} refused the cookie; handshaking again`);
      if (this.cookie?.value === session) this.cookie = undefined;
      session = await this.getCookie(options);
      reply = await this.exchange(type, (id) => build(id, session), expect, options);
    }
    if (reply.type === 'E') throw new P2PError(codeFromWire(reply.code), reply.message || undefined);
    return reply;
  }

  /** The current cookie (and exchange key), or a new one; concurrent callers share one H. */
  private getCookie(options: RequestOptions): Promise<Session> {
    if (this.cookie && Date.now() - this.cookie.at < this.cookieMaxAgeMs) return Promise.resolve(this.cookie.value);
    if (!this.cookieRequest) {
      // The shared H must not die with the first caller's signal; each caller races its own signal below.
      const shared = { tries: options.tries, timeoutMs: options.timeoutMs };
      this.cookieRequest = this.exchange('H', (requestId) => encodeIndexRequest({ type: 'H', requestId }), 'H', shared)
        .then((reply) => {
          if (reply.type === 'E') throw new P2PError(codeFromWire(reply.code), reply.message || undefined);
          if (reply.type !== 'H' || reply.cookie.length !== COOKIE_BYTES) throw new P2PError('PROTOCOL', 'H reply without a cookie');
          const session = { cookie: reply.cookie, exchangeKey: reply.exchangeKey };
          this.cookie = { value: session, at: Date.now() };
          return session;
        })
        .finally(() => {
          this.cookieRequest = undefined;
        });
      this.cookieRequest.catch(() => undefined); // every caller handles it; none may be left when it fails
    }
    return raceSignal(this.cookieRequest, options.signal, `handshake with index server ${this.address}`);
  }

  /**
   * Sends one datagram and waits for the reply with the same id, re-sending the same bytes (same id:
   * the server answers a repeat from its reply cache, so nothing is done twice) with doubled waits.
   */
  private async exchange(type: string, build: (requestId: number) => Buffer, expect: string, options: RequestOptions): Promise<IndexReply> {
    const tries = options.tries ?? this.tries;
    const firstWait = options.timeoutMs ?? this.timeoutMs;
    const signal = options.signal;
    if (signal?.aborted) throw new P2PError('CANCELLED', `${type} to index server ${this.address}`);
    const target = await raceSignal(this.resolveTarget(), signal, `${type} to index server ${this.address}`);
    this.checkOpen();
    await this.slots.acquire(signal);
    const requestId = this.takeRequestId();
    const slow = setTimeout(
      () => this.onNoAnswer(new P2PError('TIMEOUT', `no answer from index server ${this.address} within ${NO_ANSWER_MS / 1000} s; still trying`)),
      NO_ANSWER_MS,
    );
    try {
      const datagram = build(requestId);
      let lastSendError: P2PError | undefined;
      let wait = firstWait;
      for (let attempt = 1; attempt <= tries; attempt++) {
        this.checkOpen();
        if (signal?.aborted) throw new P2PError('CANCELLED', `${type} to index server ${this.address}`);
        const reply = this.awaitReply(requestId, expect, wait, signal);
        reply.catch(() => undefined); // it may reject (abort, close) while the send is still pending
        try {
          await this.send(datagram, target);
        } catch (err) {
          if (this.closed) throw new P2PError('CLOSED', `the connection to index server ${this.address} was closed`);
          // A failed send (no route, interface down) is like a lost datagram: the next try may work.
          lastSendError = toP2PError(err, `sending to index server ${this.address}`);
          this.log('debug', lastSendError.message);
        }
        const got = await reply;
        if (got) return got;
        if (attempt < tries) {
          this.log(
            attempt === 1 ? 'debug' : 'warn',
            `index server ${this.address} did not answer ${type} within ${wait} ms; try ${attempt + 1} of ${tries}`,
          );
        }
        wait = Math.min(wait * 2, firstWait * MAX_BACKOFF_FACTOR);
      }
      const why = lastSendError ? ` (${lastSendError.message})` : '';
      throw new P2PError('TIMEOUT', `no answer from index server ${this.address} after ${tries} ${tries === 1 ? 'try' : 'tries'}${why}`);
    } finally {
      clearTimeout(slow);
      this.pending.delete(requestId);
      this.slots.release();
    }
  }

  /** Resolves with the reply, or undefined after `waitMs`; rejects on abort or close. */
  private awaitReply(requestId: number, expect: string, waitMs: number, signal?: AbortSignal): Promise<IndexReply | undefined> {
    return new Promise<IndexReply | undefined>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(requestId);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(new P2PError('CANCELLED', `request to index server ${this.address}`));
      };
      const timer = setTimeout(() => {
        done();
        resolve(undefined);
      }, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(requestId, {
        expect,
        resolve: (r) => {
          done();
          resolve(r);
        },
        fail: (err) => {
          done();
          reject(err);
        },
      });
    });
  }

  private onDatagram(buf: Buffer, from: dgram.RemoteInfo, target: Target): void {
    // Only the index server may answer; anything else on this port is noise or an attack.
    let fromBytes: Buffer;
    try {
      fromBytes = ipToBytes(from.address);
    } catch {
      return;
    }
    if (from.port !== target.port || !fromBytes.equals(target.bytes)) {
      this.log('debug', `ignored a datagram from ${from.address}:${from.port}, which is not the index server ${this.address}`);
      return;
    }
    let reply: IndexReply;
    try {
      reply = decodeIndexReply(buf);
    } catch (err) {
      this.log('warn', `ignored a malformed reply from index server ${this.address}: ${toP2PError(err).message}`);
      return;
    }
    const waiting = this.pending.get(reply.requestId);
    if (!waiting) return; // a late answer to a try we already gave up on, or a duplicate
    if (reply.type !== waiting.expect && reply.type !== 'E') {
      this.log('warn', `ignored a ${reply.type} reply from index server ${this.address} to a request expecting ${waiting.expect}`);
      return;
    }
    waiting.resolve(reply);
  }

  // ---- socket, address, ids ----

  private resolveTarget(): Promise<Target> {
    if (!this.target) {
      this.target = this.lookupTarget();
      // A failed name lookup is retried on the next request (the network may come back).
      this.target.catch(() => (this.target = undefined));
    }
    return this.target;
  }

  private async lookupTarget(): Promise<Target> {
    const { host, port } = this.server;
    let ip = host;
    let family = isIP(host) as 0 | 4 | 6;
    if (family === 0) {
      try {
        const found = await lookup(host);
        ip = found.address;
        family = found.family as 4 | 6;
      } catch (err) {
        throw new P2PError('UNREACHABLE', `cannot resolve the index server host "${host}": ${(err as Error).message}`, err);
      }
    }
    return { ip, port, family: family as 4 | 6, bytes: ipToBytes(ip) };
  }

  private ensureSocket(target: Target): Promise<dgram.Socket> {
    this.checkOpen(); // never open a new socket once closed
    if (!this.socket) {
      this.socket = this.openSocket(target);
      // A socket that failed to open is replaced on the next send.
      this.socket.catch(() => (this.socket = undefined));
    }
    return this.socket;
  }

  private async openSocket(target: Target): Promise<dgram.Socket> {
    const socket = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
    socket.on('message', (buf, from) => this.onDatagram(buf, from, target));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') return this.refused(err);
      // A broken socket is replaced on the next send; requests in progress simply retry.
      this.log('warn', `UDP socket to index server ${this.address} failed: ${err.message}`);
      void this.socket?.then(
        (current) => current === socket && (this.socket = undefined),
        () => undefined,
      );
      try {
        socket.close();
      } catch {
        // already closed
      }
    });
    const local = this.localAddress && isIP(this.localAddress) === target.family ? this.localAddress : undefined;
    if (this.localAddress && !local) {
      this.log('debug', `not sending from ${this.localAddress}: the index server ${this.address} is IPv${target.family}`);
    }
    if (local) {
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ address: local, port: 0, exclusive: true }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        throw toP2PError(err, `binding the UDP socket to ${local}`);
      }
    }
    // Connected, so the kernel hands this socket the ICMP "port unreachable" of a closed port
    // (ECONNREFUSED) and drops datagrams from anyone but the index server.
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(target.port, target.ip, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw toP2PError(err, `opening the UDP socket to index server ${this.address}`);
    }
    return socket;
  }

  private async send(datagram: Buffer, target: Target): Promise<void> {
    const socket = await this.ensureSocket(target);
    this.checkOpen();
    await new Promise<void>((resolve, reject) => {
      try {
        socket.send(datagram, (err) => (err ? reject(err) : resolve()));
      } catch (err) {
        reject(err);
      }
    });
  }

  /**
   * Nothing listens on the index server's port (ICMP port unreachable): every request waiting now fails
   * at once, since retrying into a closed port only delays the news. The socket stays usable.
   */
  private refused(err: NodeJS.ErrnoException): void {
    const e = new P2PError('UNREACHABLE', `nothing listens on UDP port ${this.server.port} of index server ${this.address} (ICMP port unreachable, ECONNREFUSED)`, err);
    this.log('debug', e.message);
    this.onNoAnswer(e);
    for (const waiting of [...this.pending.values()]) waiting.fail(e);
  }

  private takeRequestId(): number {
    let id = this.nextId;
    while (this.pending.has(id)) id = (id + 1) >>> 0;
    this.nextId = (id + 1) >>> 0;
    return id;
  }

  private checkOpen(): void {
    if (this.closed) throw new P2PError('CLOSED', `the connection to index server ${this.address} was closed`);
  }
}
