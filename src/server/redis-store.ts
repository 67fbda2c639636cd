// The Redis/Valkey SharedStore: every write one Lua script, every change tailed from a capped stream into a local MemoryStore.
import { createHash, randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { P2PError } from '../protocol/errors';
import { HASH_BYTES } from '../protocol/messages';
import { LogFn } from './log';
import { SharedCaps, SharedRegistration, SharedStore, SharedVerdict } from './shared-store';
import { MemoryStore, Owner } from './store';
import { DEREGISTER, KEYS, REGISTER, SCRIPT_KEYS, SWEEP } from './redis-scripts';

export interface RedisStoreOptions {
  /** redis://HOST:PORT[/DB] (or rediss://, unix socket paths as node-redis reads them). */
  url: string;
  /** How long a name stays its owner's after its last use, in seconds. */
  ownerTtlSeconds: number;
  log?: LogFn;
  now?: () => number;
  /** Changes kept in the stream for servers catching up; one that falls further behind reloads. Default 100 000. */
  streamMax?: number;
  /** How long a write may wait for the store before it is refused. Default 2000 ms. */
  writeTimeoutMs?: number;
  /** How often this server runs the lease sweep script. Default 1000 ms. */
  sweepIntervalMs?: number;
}

type Client = ReturnType<typeof createClient>;

/** Registrations a sweep script removes at once, so one script never holds Redis for long. */
const SWEEP_LIMIT = 1000;
/** Entries read per HSCAN while loading the copy. */
const SCAN_COUNT = 1000;

interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

const SCRIPTS = { register: script(REGISTER), deregister: script(DEREGISTER), sweep: script(SWEEP) };

/**
 * One connection for scripts and reads, one for the blocking XREAD. node-redis reconnects by itself;
 * while the link is down writes are refused at once (no offline queue: an R must not run minutes
 * late) and S/O go on from the copy. On every (re)connection the copy is reloaded whole, since the
 * stream may have been trimmed past what this server saw.
 */
export class RedisStore implements SharedStore {
  readonly replica = new MemoryStore();

  get reachable(): boolean {
    return this.up;
  }
  readonly where: string;
  private readonly client: Client;
  private readonly tail: Client;
  private readonly log: LogFn;
  private readonly now: () => number;
  private readonly ownerTtlMs: number;
  private readonly streamMax: string;
  private readonly writeTimeoutMs: number;
  private up = false;
  private closed = false;
  /** Bumped at each reload; a tail read from before it is thrown away. */
  private generation = 0;
  private lastId = '0-0';
  private readonly sweepTimer: NodeJS.Timeout;
  private wake?: () => void;
  private tailing?: Promise<void>;
  /** The shared cookie key once read, put back if the store comes back empty (a restart without persistence). */
  private key?: string;

  private constructor(opts: RedisStoreOptions) {
    this.where = redactUrl(opts.url);
    this.log = opts.log ?? (() => undefined);
    this.now = opts.now ?? Date.now;
    this.ownerTtlMs = opts.ownerTtlSeconds * 1000;
    this.streamMax = String(opts.streamMax ?? 100_000);
    this.writeTimeoutMs = opts.writeTimeoutMs ?? 2000;
    const reconnectStrategy = (retries: number): number => Math.min(50 * 2 ** Math.min(retries, 5), 1000);
    this.client = createClient({ url: opts.url, RESP: 2, disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: 2000 } });
    this.tail = this.client.duplicate();
    this.client.on('error', (err: Error) => this.lost(err));
    this.tail.on('error', (err: Error) => this.lost(err));
    this.client.on('ready', () => void this.regained());
    this.sweepTimer = setInterval(() => void this.sweep(), opts.sweepIntervalMs ?? 1000);
    this.sweepTimer.unref();
  }

  /** Connects and loads the copy; rejects with STORE_UNAVAILABLE when the store cannot be reached in time. */
  static async open(opts: RedisStoreOptions): Promise<RedisStore> {
    const store = new RedisStore(opts);
    try {
      await withTimeout(Promise.all([store.client.connect(), store.tail.connect()]), 5000, store.where);
      await store.reload();
    } catch (err) {
      await store.close();
      throw err instanceof P2PError ? err : unavailable(store.where, err);
    }
    store.tailing = store.tailLoop();
    return store;
  }

  /** The key all servers on this store sign cookies with, made by the first server to ask. */
  async cookieKey(): Promise<Buffer> {
    await this.client.sendCommand(['SET', KEYS.cookieKey, randomBytes(32).toString('hex'), 'NX']);
    this.key = await this.client.sendCommand<string>(['GET', KEYS.cookieKey]);
    return Buffer.from(this.key, 'hex');
  }

  async register(r: SharedRegistration, caps: SharedCaps, now: number): Promise<SharedVerdict> {
    const f = r.fields;
    const owner = ownerText(r.owner);
    const reply = await this.run(SCRIPTS.register, [
      r.peerName, r.contentName, owner, f.host, String(f.port), String(f.size), contentText(f.hash, f.claims),
      String(f.expiresAt), r.source, String(caps.maxPerPeer), String(caps.maxPerSecret), String(caps.maxPerAddress),
      String(caps.maxEntries), String(now), String(now - this.ownerTtlMs), this.streamMax,
    ]);
    if (reply[0] !== 'OK') return refusal(reply);
    // Applied here at once as well as from the stream (both idempotent), so this server's own next S sees it.
    this.upsert(`${r.peerName}\n${r.contentName}`, reply[2]);
    return { code: 'OK', refreshed: reply[1] === '1', removed: 0 };
  }

  async deregister(peerName: string, contentName: string, owner: Owner): Promise<SharedVerdict> {
    const reply = await this.run(SCRIPTS.deregister, [peerName, contentName, ownerText(owner), this.streamMax]);
    if (reply[0] !== 'OK') return refusal(reply);
    if (contentName === '') for (const e of this.replica.entriesOf(peerName)) this.replica.remove(e);
    else this.drop(`${peerName}\n${contentName}`);
    return { code: 'OK', refreshed: false, removed: Number(reply[1]) };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.wake?.();
    for (const c of [this.tail, this.client]) {
      try {
        c.destroy();
      } catch {
        /* never connected */
      }
    }
    await this.tailing?.catch(() => undefined);
  }

  /** EVALSHA, with EVAL once when the store has not seen the script (a restarted Redis forgets them). */
  private async run(s: Script, args: string[]): Promise<string[]> {
    if (!this.up) throw unavailable(this.where);
    const keys = [String(SCRIPT_KEYS.length), ...SCRIPT_KEYS];
    const call = async (): Promise<string[]> => {
      try {
        return await this.client.sendCommand<string[]>(['EVALSHA', s.sha, ...keys, ...args]);
      } catch (err) {
        if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
        return await this.client.sendCommand<string[]>(['EVAL', s.text, ...keys, ...args]);
      }
    };
    try {
      return await withTimeout(call(), this.writeTimeoutMs, this.where);
    } catch (err) {
      if (err instanceof P2PError) throw err;
      if ((err as Error)?.constructor?.name?.endsWith('ErrorReply') || (err as Error)?.name === 'ErrorReply') {
        throw new P2PError('INTERNAL', `store script failed: ${(err as Error).message}`, err);
      }
      throw unavailable(this.where, err);
    }
  }

  private async sweep(): Promise<void> {
    if (!this.up || this.closed) return;
    const now = this.now();
    try {
      await this.run(SCRIPTS.sweep, [String(now), String(SWEEP_LIMIT), String(now - this.ownerTtlMs), this.streamMax]);
    } catch {
      /* the link's loss is logged where it is noticed; the next sweep tries again */
    }
  }

  private lost(err: Error): void {
    if (this.closed || !this.up) return;
    this.up = false;
    this.log('error', `store ${this.where} unreachable (${err.message}): S and O are answered from this server's copy, R and T refused until it is back`);
  }

  private async regained(): Promise<void> {
    if (this.closed || this.up) return;
    try {
      if (this.key) await this.client.sendCommand(['SET', KEYS.cookieKey, this.key, 'NX']);
      await this.reload();
      this.log('info', `store ${this.where} reachable again; copy reloaded (${this.replica.size} registrations)`);
      this.wake?.();
    } catch (err) {
      this.lost(err as Error);
    }
  }

  /** Replaces the copy with what the store holds, then tails the stream from the change before the load. */
  private async reload(): Promise<void> {
    this.generation++;
    const last = await this.client.sendCommand<[string, string[]][]>(['XREVRANGE', KEYS.log, '+', '-', 'COUNT', '1']);
    const rows: [string, string, number][] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.client.sendCommand<[string, string[]]>(['HSCAN', KEYS.entries, cursor, 'COUNT', String(SCAN_COUNT)]);
      for (let i = 0; i < flat.length; i += 2) rows.push([flat[i], flat[i + 1], Number(flat[i + 1].slice(flat[i + 1].lastIndexOf('\t') + 1))]);
      cursor = next;
    } while (cursor !== '0');
    // In registration order, so the copy's O order follows the index's.
    rows.sort((a, b) => a[2] - b[2]);
    this.replica.clear();
    for (const [field, value] of rows) this.upsert(field, value);
    this.lastId = last.length > 0 ? last[0][0] : '0-0';
    this.up = true;
  }

  private async tailLoop(): Promise<void> {
    while (!this.closed) {
      if (!this.up) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const generation = this.generation;
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = await this.tail.sendCommand(['XREAD', 'COUNT', '1000', 'BLOCK', '1000', 'STREAMS', KEYS.log, this.lastId]);
      } catch (err) {
        if (this.closed) return;
        this.lost(err as Error);
        continue;
      }
      if (!reply || generation !== this.generation) continue;
      for (const [id, kv] of reply[0][1]) {
        this.apply(kv);
        this.lastId = id;
      }
    }
  }

  private apply(kv: string[]): void {
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < kv.length; i += 2) m.set(kv[i], kv[i + 1]);
    const field = m.get('f');
    if (field === undefined) return;
    if (m.get('o') === 'u' && m.get('v') !== undefined) this.upsert(field, m.get('v')!);
    else if (m.get('o') === 'd') this.drop(field);
  }

  /** Makes the copy hold `value` for "peer\ncontent"; a repeat of the same change changes nothing. */
  private upsert(field: string, value: string): void {
    const cut = field.indexOf('\n');
    const [host, port, size, hashHex, expiresAt, owner] = value.split('\t');
    const peerName = field.slice(0, cut);
    const contentName = field.slice(cut + 1);
    const fields = { host, port: Number(port), size: Number(size), ...contentOfText(hashHex), expiresAt: Number(expiresAt) };
    const existing = this.replica.get(peerName, contentName);
    if (existing) this.replica.update(existing, fields);
    else {
      // A name that changed hands while this copy still held the old owner's entries: the store is right.
      const held = this.replica.ownerOf(peerName);
      const bound = ownerOfText(owner);
      if (held && (held.kind !== 'secret' || held.digest !== (bound as { digest: string }).digest)) {
        for (const e of this.replica.entriesOf(peerName)) this.replica.remove(e);
      }
      this.replica.add(peerName, contentName, bound, fields);
    }
  }

  private drop(field: string): void {
    const cut = field.indexOf('\n');
    const e = this.replica.get(field.slice(0, cut), field.slice(cut + 1));
    if (e) this.replica.remove(e);
  }
}

function ownerText(owner: Owner): string {
  if (owner.kind !== 'secret') throw new P2PError('INTERNAL', 'a shared store keeps secret owners only');
  return Buffer.from(owner.digest, 'latin1').toString('hex');
}

function ownerOfText(hex: string): Owner {
  return { kind: 'secret', digest: Buffer.from(hex, 'hex').toString('latin1') };
}

function refusal(reply: string[]): SharedVerdict {
  return { code: reply[0] as Exclude<SharedVerdict['code'], 'OK'>, count: Number(reply[1] ?? 0) };
}

function unavailable(where: string, cause?: unknown): P2PError {
  return new P2PError('STORE_UNAVAILABLE', `the index's store ${where} cannot be reached; try again shortly`, cause);
}

function withTimeout<T>(p: Promise<T>, ms: number, where: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(where, new Error(`no answer within ${ms} ms`))), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The URL without a password, for log lines. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** The content field of an entry: the SHA-256 then the packed claims (src/protocol/claims.ts), as hex; opaque to the scripts. */
function contentText(hash: string, claims: string): string {
  return Buffer.from(hash + claims, 'latin1').toString('hex');
}

function contentOfText(hex: string): { hash: string; claims: string } {
  const bytes = Buffer.from(hex, 'hex').toString('latin1');
  return { hash: bytes.slice(0, HASH_BYTES), claims: bytes.slice(HASH_BYTES) };
}
