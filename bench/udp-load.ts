// UDP load generator for the index-server benchmark: a few sockets, N requests in flight matched by request id, or paced sending.
import { createHash, randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { decodeIndexReply, encodeIndexRequest } from '../src/protocol/udp';
import { COOKIE_BYTES, EXCHANGE_KEY_BYTES, HEADER_BYTES } from '../src/protocol/messages';
import { Claim, MAC_END, MAC_OFFSET, claimFor, encodeProven, indexKeyOf, requestMac } from '../src/protocol/proof';
import { percentile, procCpuSeconds, serveIpc } from './lib';

/** Request-id slots per socket: must exceed the ids sent while the oldest one may still be unanswered. */
const RING = 1 << 17;
const MASK = RING - 1;
/** A request unanswered this long counts as lost and frees its place in the window. */
const LOST_AFTER_MS = 1000;
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
const ZERO_COOKIE = Buffer.alloc(COOKIE_BYTES);
const TYPE_E = 0x45;
const TYPE_A = 0x41;
const HELLO = encodeIndexRequest({ type: 'H', requestId: 0 });

/** The share of each request type in the mix (the rest is O). */
const MIX_S = 0.8;
const MIX_R = 0.15;

/** Every request the generator can send, encoded once by the codec with a zero cookie; id and cookie are patched per send. */
interface Templates {
  register: Buffer[];
  /** Which peer each R template is from, and each peer's index key, to prove the R as it is sent. */
  peerOf: Map<Buffer, number>;
  keys: Buffer[];
  search: Buffer[];
  online: Buffer[];
}

let templates: Templates | undefined;

class Lane {
  readonly sentAt = new Float64Array(RING);
  readonly idAt = new Uint32Array(RING);
  readonly live = new Uint8Array(RING);
  /** What each in-flight request was for (an entry to retry while loading; -1 otherwise). */
  readonly tagAt = new Int32Array(RING);
  nextId = randomInt(0, 0x7fff_ffff);
  oldest = this.nextId;
  inFlight = 0;
  cookie: Buffer = ZERO_COOKIE;
  /** The target's exchange key from its H reply (an echo server's is all zero: no claim can be made to it). */
  exchangeKey: Buffer = Buffer.alloc(EXCHANGE_KEY_BYTES);
  /** Each peer's claim to this lane's exchange key, made once. */
  readonly claims = new Map<number, Claim | null>();

  constructor(readonly socket: dgram.Socket) {}
}

class Target {
  constructor(
    readonly name: string,
    readonly lanes: Lane[],
  ) {}
}

const targets = new Map<string, Target>();

/** The run in progress; replies and losses are reported to it. */
interface Run {
  onReply(lane: Lane, slot: number, buf: Buffer, now: number): void;
  onLost(lane: Lane, slot: number): void;
}
let current: Run | undefined;

function bindSocket(host: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => {
      socket.off('error', reject);
      socket.on('error', (err) => process.stderr.write(`udp load: ${err.message}\n`));
      resolve(socket);
    });
  });
}

function send(lane: Lane, template: Buffer, tag: number): void {
  const id = lane.nextId;
  lane.nextId = (lane.nextId + 1) >>> 0;
  const slot = id & MASK;
  if (lane.live[slot]) expire(lane, slot); // the ring wrapped over an old unanswered request
  const buf = Buffer.allocUnsafe(template.length);
  template.copy(buf);
  buf.writeUInt32BE(id, 2);
  if (buf[0] !== 0x48) lane.cookie.copy(buf, HEADER_BYTES);
  // An R proves its peer name as a peer's does: its claim to this target, then a MAC over the patched bytes.
  const peer = buf[0] === 0x52 ? templates?.peerOf.get(template) : undefined;
  if (peer !== undefined) {
    const key = templates!.keys[peer];
    let claim = lane.claims.get(peer);
    if (claim === undefined) {
      try {
        claim = claimFor(key, lane.exchangeKey);
      } catch {
        claim = null;
      }
      lane.claims.set(peer, claim);
    }
    if (claim) {
      claim.keyShare.copy(buf, MAC_END);
      claim.wrappedKey.copy(buf, MAC_END + EXCHANGE_KEY_BYTES);
    }
    requestMac(key, buf).copy(buf, MAC_OFFSET);
  }
  lane.idAt[slot] = id;
  lane.tagAt[slot] = tag;
  lane.live[slot] = 1;
  lane.inFlight++;
  lane.sentAt[slot] = performance.now();
  lane.socket.send(buf);
}

function expire(lane: Lane, slot: number): void {
  lane.live[slot] = 0;
  lane.inFlight--;
  current?.onLost(lane, slot);
}

function onMessage(lane: Lane, buf: Buffer): void {
  const now = performance.now();
  if (buf.length < HEADER_BYTES) return;
  const id = buf.readUInt32BE(2);
  const slot = id & MASK;
  if (!lane.live[slot] || lane.idAt[slot] !== id) return; // late reply to a request already counted lost
  lane.live[slot] = 0;
  lane.inFlight--;
  current?.onReply(lane, slot, buf, now);
}

/** Declares the oldest unanswered requests lost once they pass LOST_AFTER_MS. */
function sweepLost(target: Target): void {
  const now = performance.now();
  for (const lane of target.lanes) {
    while (lane.oldest !== lane.nextId) {
      const slot = lane.oldest & MASK;
      if (lane.live[slot] && lane.idAt[slot] === lane.oldest) {
        if (now - lane.sentAt[slot] < LOST_AFTER_MS) break;
        expire(lane, slot);
      }
      lane.oldest = (lane.oldest + 1) >>> 0;
    }
  }
}

/** Waits until every lane has no request in flight (answered or lost). */
async function drain(target: Target): Promise<void> {
  const deadline = performance.now() + LOST_AFTER_MS * 3;
  while (target.lanes.some((l) => l.inFlight > 0) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    sweepLost(target);
  }
}

function peerName(p: number): string {
  return `bench-peer-${p}`;
}

function secretOf(p: number): Buffer {
  return createHash('sha256').update(`bench secret ${p}`).digest();
}

function buildTemplates(peers: number, perPeer: number, onlineCursors: number): Templates {
  const register: Buffer[] = [];
  const search: Buffer[] = [];
  const keys = Array.from({ length: peers }, (_, p) => indexKeyOf(secretOf(p)));
  const peerOf = new Map<Buffer, number>();
  const noClaim = { keyShare: Buffer.alloc(EXCHANGE_KEY_BYTES), wrappedKey: Buffer.alloc(32) };
  const sha256 = createHash('sha256').update('bench content').digest();
  for (let p = 0; p < peers; p++) {
    for (let j = 0; j < perPeer; j++) {
      const contentName = `bench-${p}-${j}.dat`;
      const r = encodeProven(
        { type: 'R', requestId: 0, cookie: ZERO_COOKIE, tcpPort: 40000 + p, size: 1 << 20, sha256, peerName: peerName(p), contentName },
        keys[p],
        noClaim,
      );
      register.push(r);
      peerOf.set(r, p);
      search.push(encodeIndexRequest({ type: 'S', requestId: 0, cookie: ZERO_COOKIE, contentName }));
    }
  }
  const total = peers * perPeer;
  // Cursors are registration sequence numbers; the index was empty before the load, so they run 1..total.
  const online = Array.from({ length: onlineCursors }, () =>
    encodeIndexRequest({ type: 'O', requestId: 0, cookie: ZERO_COOKIE, cursor: 1 + randomInt(total) }),
  );
  return { register, peerOf, keys, search, online };
}

/** H tries before giving up: a server stalled for seconds (a long sweep, a GC) still gets its chance. */
const HELLO_TRIES = 20;

/** Gets this lane's cookie with an H (sent again every 500 ms when no reply comes). */
function handshakeLane(lane: Lane, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    const attempt = (): void => {
      if (++tries > HELLO_TRIES) {
        current = undefined;
        reject(new Error(`${name}: no H reply after ${HELLO_TRIES} tries, ${HELLO_TRIES / 2} s`));
        return;
      }
      send(lane, HELLO, -1);
      timer = setTimeout(attempt, 500);
    };
    current = {
      onReply: (l, _slot, buf) => {
        if (l !== lane) return;
        clearTimeout(timer);
        current = undefined;
        const reply = decodeIndexReply(buf);
        if (reply.type !== 'H') reject(new Error(`${name}: H answered with ${reply.type}`));
        else {
          lane.cookie = Buffer.from(reply.cookie);
          if (!lane.exchangeKey.equals(reply.exchangeKey)) lane.claims.clear();
          lane.exchangeKey = Buffer.from(reply.exchangeKey);
          resolve();
        }
      },
      onLost: () => undefined,
    };
    attempt();
  });
}

/** Fresh cookies before every run, so no run outlives its cookie window (2 to 4 minutes). */
async function handshakeAll(target: Target): Promise<void> {
  for (const lane of target.lanes) await handshakeLane(lane, target.name);
  await drain(target);
}

export interface RunResult {
  sent: number;
  replies: number;
  lost: number;
  errors: Record<string, number>;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** CPU seconds this generator used during the measured part, per wall second. */
  loadgenCpu: number;
  /** Paced runs: how far behind schedule the sender fell at worst, in ms. */
  maxLagMs?: number;
  /** CPU seconds the answering server used in the measured part, per reply: its cost per request whatever share of a core it got. */
  serverCpuPerReplyUs: number;
  /** CPU seconds the answering server used in the measured part, per wall second. */
  serverCpu: number;
}

/** What a run sends: 'mix' is 80% S, 15% R refresh, 5% O; 'S' is S alone. */
export type Workload = 'mix' | 'S';

/** A random request of the workload. */
function pickMixed(t: Templates, workload: Workload): Buffer {
  if (workload === 'S') return t.search[anyIndex(t.search.length)];
  const r = Math.random();
  if (r < MIX_S) return t.search[anyIndex(t.search.length)];
  if (r < MIX_S + MIX_R) return t.register[anyIndex(t.register.length)];
  return t.online[anyIndex(t.online.length)];
}

/** Math.random is plenty for picking names and far cheaper per request than crypto.randomInt. */
function anyIndex(n: number): number {
  return Math.floor(Math.random() * n);
}

/**
 * Measures `durationMs` after `warmupMs` of the workload (the mix unless told). With `rate`, requests are paced at that
 * many a second whatever the replies do; without, `window` requests are kept in flight.
 */
async function measure(args: { target: string; window: number; durationMs: number; warmupMs: number; rate?: number; serverPid?: number; workload?: Workload }): Promise<RunResult> {
  const target = targets.get(args.target);
  if (!target || !templates) throw new Error(`unknown target ${args.target} or no templates`);
  const t = templates;
  try {
    await handshakeAll(target);
  } catch (err) {
    // A server that does not even answer H is a result (nothing answered), not a reason to stop the benchmark.
    return {
      sent: 0, replies: 0, lost: 0, errors: { [(err as Error).message]: 1 }, seconds: args.durationMs / 1000, rps: 0,
      p50: Infinity, p90: Infinity, p99: Infinity, p999: Infinity, max: Infinity, loadgenCpu: 0, serverCpuPerReplyUs: Infinity, serverCpu: NaN,
    };
  }
  const lanes = target.lanes;
  const workload = args.workload ?? 'mix';
  const samples: number[] = [];
  const errors: Record<string, number> = {};
  let recording = false;
  let stopping = false;
  let replies = 0;
  let lost = 0;
  let sent = 0;
  let rr = 0;
  const nextLane = (): Lane => lanes[rr++ % lanes.length];
  const sendOne = (lane: Lane): void => {
    send(lane, pickMixed(t, workload), -1);
    if (recording) sent++;
  };

  current = {
    onReply: (lane, slot, buf, now) => {
      if (recording) {
        replies++;
        samples.push(now - lane.sentAt[slot]);
        if (buf[0] === TYPE_E) {
          const code = buf.length >= 8 ? buf.readUInt16BE(6) : -1;
          errors[code] = (errors[code] ?? 0) + 1;
        }
      }
      if (!stopping && args.rate === undefined) sendOne(lane);
    },
    onLost: (lane) => {
      if (recording) lost++;
      if (!stopping && args.rate === undefined) sendOne(lane);
    },
  };

  const sweeper = setInterval(() => sweepLost(target), 50);
  let pacer: NodeJS.Timeout | undefined;
  let maxLagMs = 0;
  const start = performance.now();
  if (args.rate === undefined) {
    for (let i = 0; i < args.window; i++) sendOne(nextLane());
  } else {
    const rate = args.rate;
    let due = 0;
    // A 1 ms timer sends whatever is due; catching up in a burst keeps the long-run rate exact.
    pacer = setInterval(() => {
      const now = performance.now();
      const dueNow = Math.floor(((now - start) * rate) / 1000);
      const behind = dueNow - due;
      if (behind > 0 && recording) maxLagMs = Math.max(maxLagMs, (behind * 1000) / rate);
      for (; due < dueNow; due++) sendOne(nextLane());
    }, 1);
  }
  await new Promise((r) => setTimeout(r, args.warmupMs));
  const cpu0 = process.cpuUsage();
  const server0 = args.serverPid ? procCpuSeconds(args.serverPid) : NaN;
  const t0 = performance.now();
  recording = true;
  await new Promise((r) => setTimeout(r, args.durationMs));
  recording = false;
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const serverSeconds = args.serverPid ? procCpuSeconds(args.serverPid) - server0 : NaN;
  stopping = true;
  if (pacer) clearInterval(pacer);
  await drain(target);
  clearInterval(sweeper);
  current = undefined;

  const seconds = (t1 - t0) / 1000;
  const sorted = Float64Array.from(samples).sort();
  return {
    sent,
    replies,
    lost,
    errors,
    seconds,
    rps: replies / seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    loadgenCpu: (cpu.user + cpu.system) / 1e6 / seconds,
    maxLagMs: args.rate === undefined ? undefined : maxLagMs,
    serverCpuPerReplyUs: (serverSeconds * 1e6) / replies,
    serverCpu: serverSeconds / seconds,
  };
}

/** Registers every entry through real R requests, `window` at a time; lost ones are sent again. */
async function load(args: { target: string; window: number }): Promise<{ registered: number; errors: Record<string, number>; seconds: number; resent: number }> {
  const target = targets.get(args.target);
  if (!target || !templates) throw new Error(`unknown target ${args.target} or no templates`);
  const t = templates;
  await handshakeAll(target);
  const total = t.register.length;
  const queue = Array.from({ length: total }, (_, i) => i);
  let head = 0;
  let registered = 0;
  let resent = 0;
  let settled = 0;
  const errors: Record<string, number> = {};
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const sweeper = setInterval(() => sweepLost(target), 50);
    const end = (err?: Error): void => {
      clearInterval(sweeper);
      current = undefined;
      if (err) reject(err);
      else resolve();
    };
    const next = (lane: Lane): void => {
      if (head < queue.length) {
        const i = queue[head++];
        send(lane, t.register[i], i);
      }
    };
    current = {
      onReply: (lane, _slot, buf) => {
        settled++;
        if (buf[0] === TYPE_A) registered++;
        else {
          const code = buf[0] === TYPE_E && buf.length >= 8 ? String(buf.readUInt16BE(6)) : `type ${buf[0]}`;
          errors[code] = (errors[code] ?? 0) + 1;
        }
        if (settled === total) end();
        else next(lane);
      },
      onLost: (lane, slot) => {
        // Lost is not an answer: that entry goes round again, but a server that answers nothing must not loop forever.
        queue.push(lane.tagAt[slot]);
        if (++resent > total) end(new Error(`${target.name}: more requests lost than there are entries`));
        else next(lane);
      },
    };
    for (let i = 0; i < args.window; i++) next(target.lanes[i % target.lanes.length]);
  });
  await drain(target);
  return { registered, errors, seconds: (performance.now() - start) / 1000, resent };
}

serveIpc({
  prepare: (args: { peers: number; perPeer: number; onlineCursors?: number }) => {
    templates = buildTemplates(args.peers, args.perPeer, args.onlineCursors ?? 1024);
    const size = (list: Buffer[]): number => Math.round(list.reduce((n, b) => n + b.length, 0) / list.length);
    return { entries: templates.register.length, bytes: { S: size(templates.search), R: size(templates.register), O: size(templates.online) } };
  },
  connect: async (args: { name: string; host: string; port: number; sockets: number }) => {
    const lanes: Lane[] = [];
    for (let i = 0; i < args.sockets; i++) {
      const lane = new Lane(await bindSocket(args.host, args.port));
      lane.socket.on('message', (buf) => onMessage(lane, buf));
      lanes.push(lane);
    }
    targets.set(args.name, new Target(args.name, lanes));
    return { sockets: lanes.length };
  },
  load,
  run: measure,
}, async () => {
  for (const target of targets.values()) for (const lane of target.lanes) lane.socket.close();
});
