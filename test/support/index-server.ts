// Test helpers for the index: a real in-process IndexServer on 127.0.0.1 port 0, and a raw UDP client speaking through the codec.
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { IndexClient } from '../../src/peer/index-client';
import {
  ClassicReply, ClassicRequest, DeregisterRequest, EXCHANGE_KEY_BYTES, INDEX_KEY_BYTES, IndexReply, IndexRequest, OnlineEntry, RegisterRequest,
} from '../../src/protocol/messages';
import { Claim, Unproven, claimFor, encodeProven, indexKeyOf } from '../../src/protocol/proof';
import { decodeClassicReply, encodeClassicRequest } from '../../src/protocol/classic';
import { decodeIndexReply, encodeIndexRequest } from '../../src/protocol/udp';
import { IndexServer, IndexServerOptions } from '../../src/server/index-server';

export interface RunningIndexServer {
  server: IndexServer;
  host: string;
  port: number;
  /** "host:port", ready for Peer/IndexClient options. */
  address: string;
  close(): Promise<void>;
}

/**
 * Host defaults to 127.0.0.1 and port to 0 (a free port), so suites can run side by side.
 * Logging is silent unless `log` is given; every other option passes through to IndexServer.
 */
export async function startIndexServer(opts: IndexServerOptions = {}): Promise<RunningIndexServer> {
  // `??`, not a spread of defaults: an explicit `port: undefined` must still mean "any free port", not 7870.
  const server = new IndexServer({ ...opts, host: opts.host ?? '127.0.0.1', port: opts.port ?? 0, log: opts.log ?? (() => undefined) });
  const { host, port } = await server.start();
  return {
    server,
    host,
    port,
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    close: () => server.close(),
  };
}

/** An R or T as a test writes it: with the peer's secret in place of the proof fields, which encodeRequest fills. */
export type WithSecret<T> = Unproven<T> & { secret: Buffer };
export type TestRequest = IndexRequest | WithSecret<RegisterRequest> | WithSecret<DeregisterRequest>;

/**
 * Encodes a request as a peer would: an R or T written with a secret is proved as IndexClient proves it
 * (a MAC under the secret's index key, the key wrapped to `exchangeKey`). Without an exchange key (no H
 * yet) the claim is left zero and only the MAC is made.
 */
export function encodeRequest(req: TestRequest, exchangeKey?: Buffer): Buffer {
  if (!('secret' in req)) return encodeIndexRequest(req);
  const { secret, ...rest } = req;
  const key = indexKeyOf(secret);
  return encodeProven(rest, key, exchangeKey ? claimOnce(key, exchangeKey) : NO_CLAIM);
}

const NO_CLAIM = { keyShare: Buffer.alloc(EXCHANGE_KEY_BYTES), wrappedKey: Buffer.alloc(INDEX_KEY_BYTES) };
const claims = new Map<string, Claim>();

/** One claim per key and exchange key, as IndexClient keeps it: a retry is the same bytes but for cookie and MAC. */
function claimOnce(key: Buffer, exchangeKey: Buffer): Claim {
  const k = key.toString('hex') + exchangeKey.toString('hex');
  let claim = claims.get(k);
  if (!claim) claims.set(k, (claim = claimFor(key, exchangeKey)));
  return claim;
}

/**
 * A raw UDP client that speaks to the index through the codec only, for tests that need to send
 * exactly the bytes they choose (malformed, cookieless, classic) and see exactly what comes back.
 */
export class UdpProbe {
  private readonly queue: { buf: Buffer; from: dgram.RemoteInfo }[] = [];
  private waiter?: () => void;
  private nextId = 1 + Math.floor(Math.random() * 1_000_000);
  bytesSent = 0;
  bytesReceived = 0;
  /** The index's exchange key from the last H reply, to which R and T written with a secret are claimed. */
  exchangeKey?: Buffer;

  private constructor(
    readonly socket: dgram.Socket,
    public target: { host: string; port: number },
  ) {
    socket.on('message', (buf, from) => {
      this.bytesReceived += buf.length;
      this.queue.push({ buf, from });
      this.waiter?.();
    });
  }

  /** Opens a socket bound to `bindHost` (e.g. 127.0.0.2 to look like another machine) aimed at `target`. */
  static async open(target: { host: string; port: number }, bindHost = target.host.includes(':') ? '::1' : '127.0.0.1'): Promise<UdpProbe> {
    const socket = dgram.createSocket(bindHost.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, bindHost, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UdpProbe(socket, target);
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  /** A fresh request id (random start, counting up, as clients do). */
  id(): number {
    return this.nextId++ >>> 0;
  }

  send(buf: Buffer): Promise<void> {
    this.bytesSent += buf.length;
    return new Promise((resolve, reject) =>
      this.socket.send(buf, this.target.port, this.target.host, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** The next datagram that arrives; fails after `deadlineMs` so a lost reply fails the test instead of hanging it. */
  async next(deadlineMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + deadlineMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no datagram from ${this.target.host}:${this.target.port} within ${deadlineMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift()!.buf;
  }

  /** Datagrams received and not yet read. */
  get pending(): number {
    return this.queue.length;
  }

  async roundTrip(buf: Buffer): Promise<Buffer> {
    await this.send(buf);
    return this.next();
  }

  /** A request's bytes, an R or T with a secret proved to the last exchange key this probe was given. */
  encode(req: TestRequest): Buffer {
    return encodeRequest(req, this.exchangeKey);
  }

  /** Sends a new-form request and decodes the reply. */
  async ask(req: TestRequest): Promise<IndexReply> {
    return decodeIndexReply(await this.roundTrip(this.encode(req)));
  }

  async handshake(): Promise<Buffer> {
    const reply = await this.ask({ type: 'H', requestId: this.id() });
    if (reply.type !== 'H') throw new Error(`H answered with ${JSON.stringify(reply)}`);
    this.exchangeKey = reply.exchangeKey;
    return reply.cookie;
  }

  async askClassic(req: ClassicRequest): Promise<ClassicReply> {
    return decodeClassicReply(await this.roundTrip(encodeClassicRequest(req)));
  }

  /**
   * Proves that nothing else is on its way: sends an H and checks that its reply is the very next
   * datagram. Loopback keeps one socket's datagrams in order, so a reply to an earlier request
   * would arrive first.
   */
  async expectSilence(): Promise<void> {
    const requestId = this.id();
    const got = await this.roundTrip(encodeIndexRequest({ type: 'H', requestId }));
    const reply = decodeIndexReply(got);
    if (reply.type !== 'H' || reply.requestId !== requestId) {
      throw new Error(`expected silence, but got a ${got.length}-byte ${String.fromCharCode(got[0])} before the probe's reply`);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** True when this machine can bind `host` (e.g. '::1' on a host without IPv6). */
export async function canBind(host: string): Promise<boolean> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      socket.close();
    } catch {
      /* never bound, nothing to close */
    }
  }
}

/** A clock tests move by hand, for leases, cookie windows and rate buckets. Starts at a cookie-window boundary. */
export class ManualClock {
  /** 2027-01-15T08:00:00Z, a multiple of the 120 s cookie window. */
  ms = 15_000_000 * 120_000;
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Every entry of an index's online list, page after page (test-only: the engine never walks it all). */
export async function allOnline(client: { onlinePage(cursor: number): Promise<{ entries: OnlineEntry[]; next: number }> }): Promise<OnlineEntry[]> {
  const all: OnlineEntry[] = [];
  let cursor = 0;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await client.onlinePage(cursor);
    all.push(...page.entries);
    if (page.next === 0) return all;
    if (page.next <= cursor) throw new Error(`the O cursor went from ${cursor} to ${page.next}`);
    cursor = page.next;
  }
  throw new Error('more than 10 000 pages of online list');
}

/** Registers `count` files "file 000.txt", "file 001.txt", ... under one peer name through a real IndexClient, so a listing has pages to walk. */
export async function registerListing(srv: RunningIndexServer, count: number, peerName = 'lister'): Promise<void> {
  const c = new IndexClient({ address: { host: srv.host, port: srv.port } });
  try {
    const secret = randomBytes(32);
    for (let i = 0; i < count; i++) await c.register(peerName, secret, 4000, `file ${String(i).padStart(3, '0')}.txt`, 1, randomBytes(32));
  } finally {
    await c.close();
  }
}
