// Peers reach the index through a relay that loses 30% of the datagrams each way: every operation still completes, exactly once.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { LogLevel, PeerOptions } from '../../src/peer/api';
import { Peer } from '../../src/peer/peer';
import { ExpiredEntry } from '../../src/server/registry';
import { RunningIndexServer, startIndexServer } from '../support/index-server';
import { makeTempDir, removeDir, sha256Hex } from '../support/peers';

const LOSS = 0.3;

/*
 * How reliable this test is. A request and its reply each get through with p = 0.7, so one try
 * succeeds with p = 0.49 and fails with 0.51. The peers below wait 10 ms for the first try, doubled
 * up to the engine's cap of 16 times (160 ms), for 24 tries:
 * - one request fails outright with p = 0.51^24 ≈ 1e-7; the test makes a few hundred (registrations,
 *   refreshes, pages, searches, de-registrations), so about 3e-5 of runs fail that way;
 * - every try of one request spans at most 10+20+40+80 + 20*160 = 3.35 s, well inside the server's
 *   30 s reply cache, so a retried T or R is answered from the cache and never carried out twice;
 * - quit() gives its T 2 s: about 15 tries at these waits, failing with p = 0.51^15 ≈ 4e-5 per quit.
 * So the whole test fails by bad luck in fewer than 1 run in 10 000.
 */
const PEER_INDEX_SETTINGS: Partial<PeerOptions> = { requestTimeoutMs: 10, requestTries: 24 };

/** mulberry32, seeded: the same sequence of keep/drop decisions on every run, well spread from the first draw. */
function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bindUdp(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/**
 * Forwards datagrams between peers and the index both ways, dropping each with probability `loss`
 * (one seeded generator per direction). Each peer gets its own socket towards the index, as behind a
 * NAT, so the index still sees every peer at its own address (cookies, reply cache).
 */
class LossyRelay {
  readonly up = { forwarded: 0, dropped: 0 };
  readonly down = { forwarded: 0, dropped: 0 };
  private readonly backs = new Map<string, Promise<dgram.Socket>>();

  private constructor(
    private readonly front: dgram.Socket,
    server: { host: string; port: number },
    private readonly loss: number,
    private readonly upRand: () => number,
    private readonly downRand: () => number,
  ) {
    front.on('message', (buf, from) => {
      if (this.upRand() < this.loss) {
        this.up.dropped++;
        return;
      }
      this.up.forwarded++;
      void this.backFor(from).then((back) => back.send(buf, server.port, server.host));
    });
  }

  static async start(server: { host: string; port: number }, loss: number, seed: number): Promise<LossyRelay> {
    return new LossyRelay(await bindUdp(), server, loss, prng(seed), prng(seed ^ 0x9e3779b9));
  }

  get address(): string {
    return `127.0.0.1:${this.front.address().port}`;
  }

  private backFor(peer: dgram.RemoteInfo): Promise<dgram.Socket> {
    const key = `${peer.address}:${peer.port}`;
    let back = this.backs.get(key);
    if (!back) {
      back = bindUdp().then((s) => {
        s.on('message', (buf) => {
          if (this.downRand() < this.loss) {
            this.down.dropped++;
            return;
          }
          this.down.forwarded++;
          this.front.send(buf, peer.port, peer.address);
        });
        return s;
      });
      this.backs.set(key, back);
    }
    return back;
  }

  async close(): Promise<void> {
    const sockets = [this.front, ...(await Promise.all(this.backs.values()))];
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

describe('hardening: a lossy network between the peers and the index', function () {
  this.timeout(120_000);

  let index: RunningIndexServer;
  let relay: LossyRelay;
  let dir: string;
  const peers: Peer[] = [];
  const logs = new Map<string, string[]>();
  const expired: ExpiredEntry[] = [];
  /** Accepted R (registration or refresh) per "peer/content", from the server's log, and who waits for more. */
  const accepted = new Map<string, number>();
  let onAccepted = (): void => undefined;

  function serverLog(_level: string, line: string): void {
    const m = /^R (\S+) (\S+) from \S+ -> A \((?:registered|refreshed); \d+ held\)$/.exec(line);
    if (!m) return;
    const key = `${m[1]}/${m[2]}`;
    accepted.set(key, (accepted.get(key) ?? 0) + 1);
    onAccepted();
  }

  /** Resolves once the index has accepted one more R for every one of `entries`: a whole round of lease refreshes. */
  function refreshRound(entries: string[]): Promise<void> {
    const target = new Map(entries.map((e) => [e, (accepted.get(e) ?? 0) + 1]));
    return new Promise((resolve) => {
      onAccepted = () => {
        if ([...target].every(([e, n]) => (accepted.get(e) ?? 0) >= n)) resolve();
      };
    });
  }

  async function startPeer(peerName: string): Promise<Peer> {
    const lines: string[] = [];
    logs.set(peerName, lines);
    const peer = await Peer.start({
      peerName,
      index: relay.address,
      listenHost: '127.0.0.1',
      downloadFolder: path.join(dir, `${peerName}-downloads`),
      log: (level: LogLevel, m: string) => lines.push(`${level} ${m}`),
      ...PEER_INDEX_SETTINGS,
    });
    peers.push(peer);
    return peer;
  }

  /** Shares `count` files with names long enough that the online list takes several 1200-byte pages. */
  async function shareMany(peer: Peer, count: number): Promise<string[]> {
    const folder = path.join(dir, `${peer.peerName}-shared`);
    await fsp.mkdir(folder, { recursive: true });
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${peer.peerName}-shared-document-number-${String(i).padStart(2, '0')}.txt`;
      await fsp.writeFile(path.join(folder, name), `${name}\n`);
      await peer.register(path.join(folder, name));
      names.push(`${peer.peerName}/${name}`);
    }
    return names;
  }

  /** What the index holds, read straight from its registry (no network): the O pages it would send. */
  function registryPages(): string[][] {
    const pages: string[][] = [];
    let cursor = 0;
    do {
      const page = index.server.registry.page(cursor);
      pages.push(page.entries.map((e) => `${e.peerName}/${e.contentName}`));
      cursor = page.next;
    } while (cursor !== 0);
    return pages;
  }

  function registryListing(): string[] {
    return registryPages().flat().sort();
  }

  function retryLines(peerName: string): string[] {
    return logs.get(peerName)!.filter((l) => /did not answer [HRSTO] within \d+ ms; try \d+ of 24/.test(l));
  }

  before(async function () {
    dir = await makeTempDir('hardening-lossy');
    // A short lease, so refreshes also cross the lossy path while the test runs.
    index = await startIndexServer({ ttlSeconds: 9, log: serverLog });
    index.server.on('expired', (gone: ExpiredEntry[]) => expired.push(...gone));
    relay = await LossyRelay.start(index, LOSS, 0x10553);
  });

  after(async function () {
    await Promise.all(peers.splice(0).map((p) => p.quit()));
    await relay?.close();
    await index?.close();
    await removeDir(dir);
  });

  it('registers, lists every page, searches, downloads, de-registers and quits, each entry exactly once', async function () {
    const alice = await startPeer('alice');
    const bob = await startPeer('bob');

    // Register: 36 entries, each a retried R where the loss demands it.
    const [aliceNames, bobNames] = await Promise.all([shareMany(alice, 24), shareMany(bob, 12)]);
    let expected = [...aliceNames, ...bobNames].sort();
    assert.deepEqual(registryListing(), expected, 'the index holds each registration once');

    // Lease refreshes cross the lossy path too: wait for one round of them (every 3 s ±10% here).
    await refreshRound(expected);
    assert.deepEqual(registryListing(), expected, 'refreshed in place, nothing added');

    // The online list, across pages, as each peer sees it through the loss.
    for (const peer of [alice, bob]) {
      const seen = (await peer.listOnline()).items.map((i) => `${i.peerName}/${i.contentName}`).sort();
      assert.deepEqual(seen, expected, `${peer.peerName} sees every entry once`);
    }
    assert.ok(registryPages().length >= 3, `the online list is ${registryPages().length} pages`);

    // Download: its S crosses the lossy path; the bytes move over TCP. Bob then registers as a source.
    const bigBytes = randomBytes(1024 * 1024);
    await fsp.writeFile(path.join(dir, 'alice-shared', 'big.bin'), bigBytes);
    await alice.register(path.join(dir, 'alice-shared', 'big.bin'));
    const result = await bob.download('big.bin');
    assert.equal(sha256Hex(await fsp.readFile(result.path)), sha256Hex(bigBytes));
    assert.equal(result.shared, true);
    expected = [...expected, 'alice/big.bin', 'bob/big.bin'].sort();
    assert.deepEqual((await alice.search('big.bin')).map((s) => s.peerName).sort(), ['alice', 'bob']);
    assert.deepEqual(registryListing(), expected);

    // De-register: a retried T after a lost A must get that A, not "could not remove".
    const dropped = aliceNames.slice(0, 5).map((n) => n.split('/')[1]);
    for (const name of dropped) await alice.deregister(name);
    expected = expected.filter((e) => !dropped.some((d) => e === `alice/${d}`));
    assert.deepEqual(registryListing(), expected);
    assert.ok(!logs.get('alice')!.some((l) => /no longer listed/.test(l)), 'every T was carried out once and acknowledged');

    // Quit: one T for everything of bob's; alice keeps hers.
    await bob.quit();
    expected = expected.filter((e) => !e.startsWith('bob/'));
    assert.deepEqual(registryListing(), expected);
    assert.ok(logs.get('bob')!.some((l) => /^info de-registered all 13 share\(s\) of "bob"/.test(l)), logs.get('bob')!.slice(-5).join('\n'));
    assert.deepEqual((await alice.listOnline()).items.map((i) => `${i.peerName}/${i.contentName}`).sort(), expected);

    await alice.quit();
    assert.deepEqual(registryListing(), [], 'quitting left nothing behind');
    assert.deepEqual(expired, [], 'no lease ran out: every refresh got through in time');

    // The loss was real, and the engine said how it coped.
    const upRate = relay.up.dropped / (relay.up.dropped + relay.up.forwarded);
    const downRate = relay.down.dropped / (relay.down.dropped + relay.down.forwarded);
    const retries = { alice: retryLines('alice').length, bob: retryLines('bob').length };
    console.log(
      `      lossy path: to the index ${relay.up.dropped} of ${relay.up.dropped + relay.up.forwarded} datagrams lost (${(upRate * 100).toFixed(0)}%), ` +
        `back ${relay.down.dropped} of ${relay.down.dropped + relay.down.forwarded} (${(downRate * 100).toFixed(0)}%); ` +
        `retries logged: alice ${retries.alice}, bob ${retries.bob}; replies repeated from the server's cache: ${index.server.stats.retries}`,
    );
    // A few hundred datagrams each way: 30% give or take a few standard deviations.
    assert.ok(upRate > 0.15 && upRate < 0.45 && downRate > 0.15 && downRate < 0.45, `loss rates ${upRate} and ${downRate}`);
    assert.ok(retries.alice > 0 && retries.bob > 0, 'the engine logs its retries');
    assert.ok(index.server.stats.retries > 0, 'some retries were answered from the reply cache');
  });
});
