// The index server's answer to one admitted datagram of either form: cookie check, reply cache, replay guard, then execute().
import type * as dgram from 'node:dgram';
import { decodeIndexRequest, encodeErrorWithin, encodeIndexReply, isIndexReply, peekType } from '../protocol/udp';
import { decodeClassicRequest, encodeClassicReply, isClassicReply } from '../protocol/classic';
import { ErrorCodes, P2PError } from '../protocol/errors';
import { ClassicReply, ClassicRequest, HEADER_BYTES, IndexRequest, MAX_DATAGRAM } from '../protocol/messages';
import { ExchangeKeyPair, MAC_END } from '../protocol/proof';
import { formatHostPort } from '../protocol/address-text';
import { LogLevel } from '../common/log-level';
import { classicCommand, classicReply, describeClassicRequest } from './classic-form';
import { CookieJar } from './cookies';
import { execute, executeShared } from './execute';
import { LogFn } from './log';
import { describeIndexRequest, encodeIndexOutcome, indexCommand, indexReply } from './new-form';
import { Registry } from './registry';
import { ReplyCache, requestFingerprint } from './reply-cache';
import { ID_WINDOW, ReplayGuard } from './replay-guard';
import { IndexServerStats } from './server-options';
import { DurationBuckets } from './traffic-counts';

/** What the answers need of the transport around them: sending, and the one place requests are logged and counted. */
export interface AnswerHooks {
  send(reply: Buffer, rinfo: dgram.RemoteInfo): void;
  /** An E sized for a sender that has not shown a valid cookie (no amplification). */
  sendError(request: Buffer, rinfo: dgram.RemoteInfo, err: P2PError): void;
  /** Another server's reply: dropped and counted, never answered. */
  ignoreReply(buf: Buffer, ip: string, rinfo: dgram.RemoteInfo): void;
  done(type: string, ip: string, rinfo: dgram.RemoteInfo, level: LogLevel, what: string, outcome: string, note?: string): void;
  log: LogFn;
}

/** The state the answers read and keep, owned by the IndexServer. */
export interface AnswerParts {
  registry: Registry;
  cookies: CookieJar;
  exchange: ExchangeKeyPair;
  replies: ReplyCache;
  replayGuard: ReplayGuard;
  counters: Pick<IndexServerStats, 'badCookies' | 'retries' | 'storeErrors' | 'internalErrors'>;
  storeLatency: DurationBuckets;
}

export class Answers {
  /** R/T sent to a shared store and not yet answered, by "ip|port|requestId". */
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly parts: AnswerParts,
    private readonly hooks: AnswerHooks,
  ) {}

  newForm(buf: Buffer, ip: string, rinfo: dgram.RemoteInfo): void {
    const { cookies, replies, registry, exchange, counters } = this.parts;
    const hooks = this.hooks;
    let req: IndexRequest;
    try {
      req = decodeIndexRequest(buf);
    } catch (err) {
      if (!(err instanceof P2PError)) throw err;
      if (err.code === 'UNKNOWN_TYPE' && isIndexReply(buf)) {
        hooks.ignoreReply(buf, ip, rinfo);
        return;
      }
      hooks.sendError(buf, rinfo, err);
      hooks.done('?', ip, rinfo, 'debug', `undecodable (${err.message})`, `E ${err.code}`);
      return;
    }
    if (req.type === 'H') {
      if (isIndexReply(buf)) {
        hooks.ignoreReply(buf, ip, rinfo);
        return;
      }
      const cookie = cookies.issue(ip, rinfo.port);
      hooks.send(encodeIndexReply({ type: 'H', requestId: req.requestId, cookie, exchangeKey: exchange.publicKey }), rinfo);
      hooks.done('H', ip, rinfo, 'debug', '', 'H');
      return;
    }
    if (!cookies.verify(req.cookie, ip, rinfo.port)) {
      counters.badCookies++;
      hooks.sendError(buf, rinfo, new P2PError('BAD_COOKIE', 'send H for a new cookie'));
      hooks.done(req.type, ip, rinfo, 'debug', describeIndexRequest(req), 'E BAD_COOKIE');
      return;
    }
    // Only R and T change state, so only their replies are remembered for retries: a retried S or O is
    // simply answered afresh, which costs less than caching every reply and is never less correct.
    // The cookie and the MAC sit at bytes 6..54 of every R/T; a retry after a re-handshake carries a new
    // cookie, and so a new MAC.
    const remembered = req.type === 'R' || req.type === 'T';
    const fingerprint = remembered ? requestFingerprint(buf, HEADER_BYTES, MAC_END) : 0;
    const cached = remembered ? replies.get(ip, rinfo.port, req.requestId, fingerprint) : undefined;
    if (cached) {
      counters.retries++;
      hooks.send(cached, rinfo);
      hooks.done(req.type, ip, rinfo, 'debug', describeIndexRequest(req), `${peekType(cached)} (repeated for a retry)`);
      return;
    }
    // Past the reply cache's 30 s a replayed R/T would run again while its cookie still passes: the
    // guard remembers each source's ids for as long as any of its cookies can.
    if (remembered && this.refuseReplay(req.requestId, ip, rinfo, describeIndexRequest(req), req.type)) return;
    if ((req.type === 'R' || req.type === 'T') && registry.shared) {
      this.runShared(req, ip, rinfo, fingerprint, buf);
      return;
    }
    let reply: Buffer;
    let outcome: string;
    let level: LogLevel = remembered ? 'info' : 'debug';
    let note = '';
    let proven = true;
    try {
      const done = execute(registry, indexCommand(req, ip, buf, exchange));
      const encoded = encodeIndexOutcome(req.requestId, done);
      reply = encoded.reply;
      outcome = encoded.type;
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
      replies.set(ip, rinfo.port, req.requestId, fingerprint, reply);
      this.parts.replayGuard.record(ip, rinfo.port, req.requestId);
    }
    hooks.send(reply, rinfo);
    hooks.done(req.type, ip, rinfo, level, describeIndexRequest(req), outcome, note);
  }

  /**
   * An R or T against a shared store: a round trip away, so it runs while other datagrams are
   * answered. A retry of the same bytes that arrives before the answer is dropped (the answer is on
   * its way, and then cached for later retries). As on the in-memory path, the id is recorded against
   * replay and the reply cached only once the store found the MAC good: a forged or damaged copy sent
   * first can neither use up the genuine request's id nor have its refusal served to it. Nor is a
   * STORE_UNAVAILABLE kept: it changed nothing, so the same request may run once the store is back.
   */
  private runShared(req: Extract<IndexRequest, { type: 'R' | 'T' }>, ip: string, rinfo: dgram.RemoteInfo, fingerprint: number, buf: Buffer): void {
    const { registry, exchange, counters, storeLatency, replies } = this.parts;
    const hooks = this.hooks;
    const key = `${ip}|${rinfo.port}|${req.requestId}|${fingerprint}`;
    if (this.inFlight.has(key)) {
      counters.retries++;
      return;
    }
    this.inFlight.add(key);
    const what = describeIndexRequest(req);
    const cmd = indexCommand(req, ip, buf, exchange) as Parameters<typeof executeShared>[1];
    const started = performance.now();
    void executeShared(registry, cmd).then(
      (done) => {
        storeLatency.observe((performance.now() - started) / 1000);
        const r = indexReply(req.requestId, done);
        return { reply: encodeIndexReply(r), outcome: r.type, note: this.changeNote(done), level: (done.kind === 'register' && done.refreshed ? 'debug' : 'info') as LogLevel, proven: true };
      },
      (err: unknown) => {
        if (!isRefusal(err)) throw err;
        if (err.code === 'STORE_UNAVAILABLE') counters.storeErrors++;
        else storeLatency.observe((performance.now() - started) / 1000);
        return { reply: encodeErrorWithin(req.requestId, err.wireCode, err.detail, MAX_DATAGRAM)!, outcome: `E ${err.code}`, note: '', level: 'info' as LogLevel, proven: err.code !== 'BAD_PROOF' && err.code !== 'STORE_UNAVAILABLE' };
      },
    ).then(
      ({ reply, outcome, note, level, proven }) => {
        this.inFlight.delete(key);
        if (proven) {
          replies.set(ip, rinfo.port, req.requestId, fingerprint, reply);
          this.parts.replayGuard.record(ip, rinfo.port, req.requestId);
        }
        hooks.send(reply, rinfo);
        hooks.done(req.type, ip, rinfo, level, what, outcome, note);
      },
      (err: unknown) => {
        this.inFlight.delete(key);
        counters.internalErrors++;
        hooks.log('error', `internal error on ${req.type} ${what} from ${formatHostPort(ip, rinfo.port)}: ${(err as Error)?.stack ?? err}`);
        hooks.send(encodeErrorWithin(req.requestId, ErrorCodes.INTERNAL, 'the failure was logged', MAX_DATAGRAM)!, rinfo);
      },
    );
  }

  /** Answers an R/T the replay guard will not let run (E REPLAYED, or BUSY when it has no room); true when it did. */
  private refuseReplay(requestId: number, ip: string, rinfo: dgram.RemoteInfo, what: string, type: string): boolean {
    const guard = this.parts.replayGuard;
    const verdict = guard.check(ip, rinfo.port, requestId);
    if (verdict === 'fresh') return false;
    const err =
      verdict === 'full'
        ? new P2PError('BUSY', `the server remembers ${guard.maxSources} sources' requests; try again in a few minutes`)
        : new P2PError('REPLAYED', `request id ${requestId} from ${formatHostPort(ip, rinfo.port)} ${verdict === 'seen' ? 'was already carried out' : `is older than the last ${ID_WINDOW} carried out`}`);
    this.hooks.send(encodeErrorWithin(requestId, err.wireCode, err.detail, MAX_DATAGRAM)!, rinfo);
    this.hooks.done(type, ip, rinfo, 'info', what, `E ${err.code}`);
    return true;
  }

  classic(buf: Buffer, ip: string, rinfo: dgram.RemoteInfo): void {
    const hooks = this.hooks;
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
          hooks.ignoreReply(buf, ip, rinfo);
          return;
        }
        throw err;
      }
      if (req.type === 'S' && isClassicReply(buf)) {
        hooks.ignoreReply(buf, ip, rinfo);
        return;
      }
      what = describeClassicRequest(req);
      const done = execute(this.parts.registry, classicCommand(req, ip));
      reply = classicReply(done);
      note = this.changeNote(done);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      hooks.sendError(buf, rinfo, err);
      hooks.done(type, ip, rinfo, type === 'classic R' || type === 'classic T' ? 'info' : 'debug', what, `E ${err.code}`);
      return;
    }
    hooks.send(encodeClassicReply(reply), rinfo);
    hooks.done(type, ip, rinfo, reply.type === 'A' ? 'info' : 'debug', what, reply.type, note);
  }

  /** What a change did to the index, with the count left, for the log line; '' for a read. */
  private changeNote(done: { kind: string; refreshed?: boolean; removed?: number }): string {
    if (done.kind === 'register') return `${done.refreshed ? 'refreshed' : 'registered'}; ${this.parts.registry.size} held`;
    if (done.kind === 'deregister') return `removed ${done.removed}; ${this.parts.registry.size} held`;
    return '';
  }
}

/** A P2PError the protocol answers with E; anything else (INTERNAL included) is a bug for onDatagram to log. */
function isRefusal(err: unknown): err is P2PError {
  return err instanceof P2PError && err.code !== 'INTERNAL' && ErrorCodes[err.code] < 100;
}
