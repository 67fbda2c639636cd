// Leases with real processes: a crashed peer's entries expire within one lease, and live peers re-register after an index restart.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliPeer, IndexServerProcess, makeTempDir, removeTempDir, type CliJsonEvent } from '../support/cli';

/** The time stamp every index server log line starts with ("2027-01-15T08:00:00.000Z info  ..."). */
function loggedAt(line: string): number {
  const at = Date.parse(line.slice(0, 24));
  assert.ok(Number.isFinite(at), `no time stamp on ${JSON.stringify(line)}`);
  return at;
}

function registrations(ev: CliJsonEvent): string[] {
  assert.equal(ev.event, 'online', `expected the online list, got ${JSON.stringify(ev)}`);
  return (ev.items as { peerName: string; contentName: string }[]).map((i) => `${i.peerName}/${i.contentName}`).sort();
}

/** The first log line of `server` that matches, whether it was written already or is still to come. */
async function logLine(server: IndexServerProcess, match: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
  return server.stderrLines.find(match) ?? server.nextStderrLine(match, { timeoutMs });
}

/** "R <peer> <content> from 127.0.0.1:<port> -> A (...)": the server accepted a registration or (at debug) its refresh. */
function acceptedR(peer: string, content: string): (line: string) => boolean {
  return (line) => line.includes(` R ${peer} ${content} from `) && /-> A \((?:registered|refreshed); \d+ held\)$/.test(line);
}

describe('hardening: leases with real processes', function () {
  this.timeout(90_000);

  let root: string;
  const servers: IndexServerProcess[] = [];
  const peers: CliPeer[] = [];

  async function indexServer(args: string[]): Promise<IndexServerProcess> {
    // -v: lease refreshes, which these tests wait for, are logged at debug only.
    const s = await IndexServerProcess.start(['-v', ...args]);
    servers.push(s);
    return s;
  }

  async function peer(server: IndexServerProcess, name: string): Promise<CliPeer> {
    const p = await CliPeer.start({ index: server.address, name, cwd: root });
    peers.push(p);
    return p;
  }

  beforeEach(() => {
    root = makeTempDir('hardening-leases');
    for (const f of ['a.txt', 'b.txt', 'c.txt']) fs.writeFileSync(path.join(root, f), `content of ${f}\n`);
  });

  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.stop()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    removeTempDir(root);
  });

  it("drops a SIGKILLed peer's entries within one lease of its last refresh, without any T", async () => {
    const ttlSeconds = 3;
    // The sweep runs every min(1 s, ttl / 4): 750 ms here.
    const sweepMs = Math.min(1000, ttlSeconds * 250);
    // Debug level: the sweep logs each expired entry by name.
    const server = await indexServer(['--ttl', String(ttlSeconds), '--log-level', 'debug']);
    const crash = await peer(server, 'Crash');
    const watcher = await peer(server, 'Watcher');
    assert.equal((await crash.run('R a.txt')).event, 'registered');
    assert.equal((await crash.run('R b.txt')).event, 'registered');
    assert.deepEqual(registrations(await watcher.run('O')), ['Crash/a.txt', 'Crash/b.txt']);

    // Let a refresh go by, so the entries live on a refreshed lease rather than the first one.
    await server.nextStderrLine(acceptedR('Crash', 'a.txt'));
    await server.nextStderrLine(acceptedR('Crash', 'a.txt'));
    await crash.kill('SIGKILL');
    const killedAt = Date.now();

    const figures: string[] = [];
    for (const content of ['a.txt', 'b.txt']) {
      const expired = await logLine(server, (l) => l.includes(` expired Crash ${content} at `), 20_000);
      // Each entry lives one lease after its own last R, refreshed on its own timer.
      const lastR = Math.max(...server.stderrLines.filter(acceptedR('Crash', content)).map(loggedAt));
      const sinceLastR = loggedAt(expired) - lastR;
      figures.push(`${content} ${sinceLastR} ms after its last refresh`);
      assert.ok(sinceLastR >= ttlSeconds * 1000 - 50, `${content} expired ${sinceLastR} ms after its last R, before its lease ended`);
      assert.ok(sinceLastR <= ttlSeconds * 1000 + sweepMs + 1500, `${content} expired ${sinceLastR} ms after its last R: more than a lease and a sweep`);
    }
    const sinceKill = Date.now() - killedAt;
    console.log(`      crashed peer: entries gone ${sinceKill} ms after SIGKILL; ${figures.join(', ')} (lease ${ttlSeconds} s, sweep ${sweepMs} ms)`);
    assert.ok(sinceKill <= ttlSeconds * 1000 + sweepMs + 3000, `entries stayed ${sinceKill} ms after the crash`);
    assert.deepEqual(registrations(await watcher.run('O')), [], 'the crashed peer left nothing behind');
    assert.ok(!server.stderrLines.some((l) => / T Crash /.test(l)), 'a SIGKILLed peer sends no T: the lease alone removed its entries');
  });

  it("has every live peer's registrations back within one refresh interval of an index server restart", async () => {
    const ttlSeconds = 9;
    // Refreshes come every third of the lease, ±10%.
    const intervalMs = (ttlSeconds * 1000) / 3;
    const first = await indexServer(['--ttl', String(ttlSeconds)]);
    const ann = await peer(first, 'Ann');
    const ben = await peer(first, 'Ben');
    assert.equal((await ann.run('R a.txt')).event, 'registered');
    assert.equal((await ann.run('R b.txt')).event, 'registered');
    assert.equal((await ben.run('R c.txt')).event, 'registered');
    assert.equal((await ben.run('R a.txt')).event, 'registered');
    const expected = ['Ann/a.txt', 'Ann/b.txt', 'Ben/a.txt', 'Ben/c.txt'];
    assert.deepEqual(registrations(await ann.run('O')), expected);

    // A restart on the same port: a new cookie key and an empty registry.
    assert.equal((await first.stop()).code, 0);
    const second = await indexServer(['--ttl', String(ttlSeconds), '--port', String(first.port)]);
    assert.equal(second.port, first.port);
    const listening = loggedAt(second.stderrLines.find((l) => l.includes('listening on udp'))!);

    const backAfter: number[] = [];
    for (const [who, content] of [['Ann', 'a.txt'], ['Ann', 'b.txt'], ['Ben', 'c.txt'], ['Ben', 'a.txt']]) {
      backAfter.push(loggedAt(await logLine(second, acceptedR(who, content))) - listening);
    }
    console.log(`      index restart: registrations back after ${backAfter.join(', ')} ms (refresh interval ${intervalMs} ms ±10%)`);
    // At the next refresh: one interval at most, plus room for the BAD_COOKIE round trip and a busy machine,
    // and well inside the lease, so no live peer is ever missing for long.
    for (const ms of backAfter) {
      assert.ok(ms <= intervalMs * 1.1 + 2000, `a registration came back only ${ms} ms after the restart`);
    }
    assert.deepEqual(registrations(await ben.run('O')), expected, 'each registration back exactly once');
  });
});
