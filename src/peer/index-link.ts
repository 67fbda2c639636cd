// A peer's link to its index server: the current client and address, the connection state it drives, and the R and T calls.
import { P2PError, toP2PError } from '../protocol/errors';
import type { SourceClaims } from '../protocol/claims';
import { Source } from '../protocol/messages';
import { HostPort, formatAddress } from './address';
import type { ConnectionState, LogLevel, Share } from './api';
import { IndexClient, NO_ANSWER_MS, RequestOptions } from './index-client';
import type { PeerSettings } from './peer-options';

/** A T of everything (quit, rename, move) waits at most this long for the index to acknowledge it. */
const QUIT_BUDGET_MS = 2000;
/**
 * The handshake that decides a move to another index: three tries whose doubled waits (1 + 2 + 4 parts)
 * add up to NO_ANSWER_MS, so a dead index is known within that, not after every R's full retry schedule.
 */
export const MOVE_PROBE: RequestOptions = { tries: 3, timeoutMs: Math.floor(NO_ANSWER_MS / 7) };

/** What an R says about one share. */
type Registration = Pick<Share, 'contentName' | 'size' | 'sha256' | 'pieceRoot'>;

/** One share's outcome in an R of many. */
export interface RegisterResult {
  contentName: string;
  lease?: number;
  error?: P2PError;
}

export function isNetworkFailure(err: P2PError): boolean {
  return err.code === 'TIMEOUT' || err.code === 'UNREACHABLE';
}

/** True when the index itself answered (an E reply), which proves it is reachable. */
function isIndexAnswer(err: P2PError): boolean {
  return err.wireCode < 100;
}

/** The settings the link reads; a specific listenHost is also the UDP socket's source address. */
export type IndexSettings = Readonly<Pick<PeerSettings, 'indexes' | 'listenHost' | 'requestTimeoutMs' | 'requestTries' | 'secret'>>;

/** What the link needs from its owner, each as a narrow value or callback. */
export interface IndexLinkHooks {
  /** Aborted when the peer quits: every request stops. */
  lifetime: AbortSignal;
  /** The content server's TCP port, which every R announces. */
  listenPort: () => number;
  /** The content server's TLS pin, which every R claims (none: a plain TCP content server). */
  tlsPin?: Buffer;
  /** Once quitting, a failed request no longer changes the state. */
  isQuitting: () => boolean;
  /** Turns an error cut short by quitting into the owner's CLOSED. */
  closedOr: (err: unknown) => P2PError;
  log: (level: LogLevel, message: string) => void;
  /** The index in use is now another one: its address text and the one before. */
  onSwitched: (address: string, previous: string) => void;
  /** Called after the state changed (or was announced), with the state before. */
  onState: (state: ConnectionState, detail: string | undefined, before: ConnectionState) => void;
}

export class IndexLink {
  private at: HostPort;
  private current: IndexClient;
  private state: ConnectionState = 'connecting';
  private detail: string | undefined;
  private reason: P2PError | undefined;

  constructor(
    private readonly settings: IndexSettings,
    private readonly hooks: IndexLinkHooks,
  ) {
    this.at = settings.indexes[0];
    this.current = this.newClient(this.at);
  }

  /** The client of the index in use. */
  get client(): IndexClient {
    return this.current;
  }

  get address(): HostPort {
    return this.at;
  }

  /** "host:port" of the index in use ("[::1]:7870" for IPv6). */
  get addressText(): string {
    return formatAddress(this.at);
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Why the state is what it is (the last error when 'unreachable'). */
  get stateDetail(): string | undefined {
    return this.detail;
  }

  /** The error behind 'unreachable' (its code and cause tell a missing host from a closed port or silence). */
  get stateError(): P2PError | undefined {
    return this.reason;
  }

  newClient(address: HostPort): IndexClient {
    const host = this.settings.listenHost;
    const specific = host !== undefined && host !== '::' && host !== '0.0.0.0';
    const client: IndexClient = new IndexClient({
      address,
      requestTimeoutMs: this.settings.requestTimeoutMs,
      requestTries: this.settings.requestTries,
      localAddress: specific ? host : undefined,
      log: this.hooks.log,
      // While the request still retries: the state says offline now, and a later answer says connected again.
      onNoAnswer: (err) => {
        if (client === this.current && !this.hooks.isQuitting()) this.fail(err);
      },
    });
    return client;
  }

  /** The index looks gone: 'unreachable', with `err` as the reason. */
  fail(err: P2PError, announce = false): void {
    this.setState('unreachable', err.message, announce, err);
  }

  /** Makes `client` (at `address`) the index in use; the caller closes the old one. */
  switchTo(client: IndexClient, address: HostPort): void {
    const previous = this.addressText;
    this.current = client;
    this.at = address;
    if (this.addressText !== previous) this.hooks.onSwitched(this.addressText, previous);
  }

  close(): Promise<void> {
    return this.current.close();
  }

  /** A request to the current index: its outcome drives the connection state. */
  async call<T>(call: (client: IndexClient, options: RequestOptions) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const client = this.current;
    const lifetime = this.hooks.lifetime;
    const options: RequestOptions = { signal: signal ? AbortSignal.any([signal, lifetime]) : lifetime };
    try {
      const result = await call(client, options);
      if (client === this.current) this.setState('connected');
      return result;
    } catch (err) {
      const e = toP2PError(err);
      if (client === this.current && !this.hooks.isQuitting()) {
        if (isNetworkFailure(e)) this.fail(e);
        else if (isIndexAnswer(e)) this.setState('connected');
      }
      throw this.hooks.closedOr(e);
    }
  }

  /** One R of `share` under `peerName` at `client`; resolves to the lease in seconds. */
  registerAt(client: IndexClient, peerName: string, share: Registration, options: RequestOptions): Promise<number> {
    return client.register(peerName, this.settings.secret, this.hooks.listenPort(), share.contentName, share.size, Buffer.from(share.sha256, 'hex'), options, { ...claimsOf(share), pin: this.hooks.tlsPin });
  }

  /** R of every share under `peerName` at `client`, in parallel (the client bounds how many at once). */
  registerAll(client: IndexClient, peerName: string, shares: Share[]): Promise<RegisterResult[]> {
    const signal = this.hooks.lifetime;
    return Promise.all(
      shares.map((s) =>
        this.registerAt(client, peerName, s, { signal }).then(
          (lease) => ({ contentName: s.contentName, lease }),
          (err) => ({ contentName: s.contentName, error: toP2PError(err) }),
        ),
      ),
    );
  }

  /** S at the current index: every source of one content, empty when nobody shares it. */
  async sources(contentName: string): Promise<Source[]> {
    try {
      return await this.call((c, o) => c.search(contentName, o));
    } catch (err) {
      if (toP2PError(err).code === 'NOT_FOUND') return [];
      throw err;
    }
  }

  /** One T of one content under `peerName` at the current index, through call(). */
  deregister(peerName: string, contentName: string): Promise<void> {
    return this.call((c, o) => c.deregister(peerName, this.settings.secret, contentName, o));
  }

  /**
   * One T with an empty content name: every entry under `peerName` at `client` goes. At most QUIT_BUDGET_MS
   * (and sooner when `stop` aborts), since a failure only leaves entries to expire.
   */
  deregisterAll(client: IndexClient, peerName: string, stop?: AbortSignal): Promise<void> {
    const budget = AbortSignal.timeout(QUIT_BUDGET_MS);
    return client.deregister(peerName, this.settings.secret, '', {
      signal: stop ? AbortSignal.any([budget, stop]) : budget,
      timeoutMs: Math.min(this.settings.requestTimeoutMs, QUIT_BUDGET_MS / 4),
    });
  }

  /** For clean-ups whose failure only leaves entries to expire: a warning, not an error. */
  async bestEffort(work: Promise<unknown>, what: string): Promise<void> {
    try {
      await work;
    } catch (err) {
      const e = toP2PError(err);
      if (e.code !== 'NOT_REGISTERED') this.hooks.log('warn', `${what}: ${e.message}`);
    }
  }

  async probe(client: IndexClient, announce = false, tries?: number, timeoutMs?: number): Promise<void> {
    try {
      await client.handshake({ signal: this.hooks.lifetime, tries, timeoutMs });
      if (client === this.current) this.setState('connected', undefined, announce);
    } catch (err) {
      const e = toP2PError(err);
      if (client !== this.current || this.hooks.isQuitting()) return;
      if (isIndexAnswer(e)) this.setState('connected', undefined, announce);
      else this.fail(e, announce);
    }
  }

  /** The network failure of a handshake with `client`, or undefined when it answered (an E reply is an answer too). */
  async unanswered(client: IndexClient, options: RequestOptions): Promise<P2PError | undefined> {
    try {
      await client.handshake({ ...options, signal: this.hooks.lifetime });
      return undefined;
    } catch (err) {
      const e = toP2PError(err);
      if (isNetworkFailure(e)) return e;
      if (isIndexAnswer(e)) return undefined;
      throw this.hooks.closedOr(e);
    }
  }

  /** Tells the owner when the state changes, or always when `announce` is set. */
  setState(state: ConnectionState, detail?: string, announce = false, reason?: P2PError): void {
    const before = this.state;
    // Another kind of reason (silence became a refusal) is news as well; another wording of the same is not.
    const same = state === before && reason?.code === this.reason?.code;
    this.detail = detail;
    this.reason = reason;
    if (same && !announce) return;
    this.state = state;
    this.hooks.log(state === 'unreachable' ? 'warn' : 'info', `index server ${this.addressText}: ${state}${detail ? ` (${detail})` : ''}`);
    this.hooks.onState(state, detail, before);
  }
}

/** The claims an R of `share` carries: its piece root when it has one. */
function claimsOf(share: Registration): SourceClaims | undefined {
  return share.pieceRoot ? { pieceRoot: Buffer.from(share.pieceRoot, 'hex') } : undefined;
}
