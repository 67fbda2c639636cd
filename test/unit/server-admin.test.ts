// The index server's admin endpoint as an operator and an attacker see it: a real process, real UDP traffic, real HTTP on 127.0.0.1.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import { UdpProbe } from '../support/index-server';
import { RedisServer } from '../support/redis';
import { ServerProcess } from '../support/server-process';

const ADMIN_LINE = /info {2}admin http on (\S+):(\d+) /;

interface Page { status: number; type?: string; body: string }

function get(port: number, path: string, method = 'GET'): Promise<Page> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Prometheus text → "name{labels}" → value, checking every sample line is well formed. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    samples.set(m[1], Number(m[2]));
  }
  return samples;
}

describe('index server admin endpoint (--admin)', function () {
  this.timeout(30_000);
  let procs: ServerProcess[];
  let probes: UdpProbe[];
  let redis: RedisServer | undefined;

  beforeEach(function () {
    procs = [];
    probes = [];
    redis = undefined;
  });

  afterEach(async function () {
    for (const p of probes) await p.close();
    for (const p of procs) p.kill();
    await redis?.stop();
  });

  async function start(args: string[], env?: NodeJS.ProcessEnv): Promise<{ proc: ServerProcess; udp: number; admin: { host: string; port: number } }> {
    const proc = ServerProcess.run(['--port', '0', ...args], env);
    procs.push(proc);
    const udp = await proc.port();
    const m = await proc.waitFor(ADMIN_LINE);
    return { proc, udp, admin: { host: m[1], port: Number(m[2]) } };
  }

  it('counts a known mix of H, R, S, O, a forged cookie and junk exactly, and reading the counts changes nothing', async function () {
    const { udp, admin } = await start(['--admin', '127.0.0.1:0']);
    const probe = await UdpProbe.open({ host: '127.0.0.1', port: udp });
    probes.push(probe);
    const cookie = await probe.handshake();
    const secret = Buffer.alloc(32, 7);
    for (const contentName of ['a.txt', 'b.txt']) {
      const r = await probe.ask({ type: 'R', requestId: probe.id(), cookie, secret, tcpPort: 4000, size: 3, sha256: Buffer.alloc(32, 1), peerName: 'sam', contentName });
      assert.equal(r.type, 'A');
    }
    const forged = await probe.ask({ type: 'R', requestId: probe.id(), cookie: Buffer.alloc(cookie.length, 0), secret, tcpPort: 4000, size: 3, sha256: Buffer.alloc(32, 1), peerName: 'sam', contentName: 'c.txt' });
    assert.equal(forged.type, 'E');
    assert.equal((await probe.ask({ type: 'S', requestId: probe.id(), cookie, contentName: 'a.txt' })).type, 'S');
    assert.equal((await probe.ask({ type: 'O', requestId: probe.id(), cookie, cursor: 0 })).type, 'O');
    for (const junk of ['GET / HTTP/1.1\r\n\r\n', 'x', '\u0000\u0000\u0000']) await probe.send(Buffer.from(junk, 'latin1'));
    await probe.expectSilence(); // one more H; its reply proves the junk was handled (and dropped) first

    const page = await get(admin.port, '/metrics');
    assert.equal(page.status, 200);
    assert.match(page.type!, /^text\/plain; version=0\.0\.4/);
    const m = parseMetrics(page.body);
    assert.equal(m.get('p2p_index_requests_total{type="H",result="H"}'), 2);
    assert.equal(m.get('p2p_index_requests_total{type="R",result="A"}'), 2);
    assert.equal(m.get('p2p_index_requests_total{type="R",result="E BAD_COOKIE"}'), 1);
    assert.equal(m.get('p2p_index_requests_total{type="S",result="S"}'), 1);
    assert.equal(m.get('p2p_index_requests_total{type="O",result="O"}'), 1);
    assert.equal(m.get('p2p_index_requests_total{type="?",result="dropped"}'), 3);
    assert.equal(m.get('p2p_index_entries'), 2);
    assert.equal(m.get('p2p_index_peers'), 1);
    assert.equal(m.get('p2p_index_contents'), 2);
    assert.equal(m.get('p2p_index_cookie_failures_total'), 1);
    assert.equal(m.get('p2p_index_dropped_total'), 3);
    assert.equal(m.get('p2p_index_rate_limited_total'), 0);
    assert.equal(m.get('p2p_index_expired_total'), 0);
    assert.equal(m.get('p2p_index_datagrams_total'), 10);
    assert.equal(m.get('p2p_index_received_bytes_total'), probe.bytesSent);
    assert.equal(m.get('p2p_index_sent_bytes_total'), probe.bytesReceived);
    assert.equal(m.get('p2p_index_request_duration_seconds_count'), 10);
    assert.equal(m.get('p2p_index_request_duration_seconds_bucket{le="+Inf"}'), 10);
    assert.equal(m.has('p2p_index_store_errors_total'), false, 'no shared store, no store metrics');

    const stats = JSON.parse((await get(admin.port, '/stats.json')).body) as Record<string, unknown>;
    assert.equal(stats.entries, 2);
    assert.equal(stats.datagrams, 10);
    assert.equal(stats.storeReachable, true);
    assert.deepEqual(await get(admin.port, '/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });

    // An attacker's requests: other paths, other methods, a path that walks up. None is served, none changes anything.
    for (const path of ['/', '/metrics/', '/metrics/../stats.json', '/admin', '//metrics', '/%6detrics']) {
      assert.equal((await get(admin.port, path)).status, 404, path);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await get(admin.port, '/metrics', method)).status, 405, method);
    const head = await get(admin.port, '/metrics', 'HEAD');
    assert.deepEqual([head.status, head.body], [200, '']);
    const after = parseMetrics((await get(admin.port, '/metrics')).body);
    assert.equal(after.get('p2p_index_entries'), 2);
    assert.equal(after.get('p2p_index_datagrams_total'), 10, 'HTTP requests are not index traffic');
    const online = await probe.ask({ type: 'O', requestId: probe.id(), cookie, cursor: 0 });
    assert.ok(online.type === 'O');
    assert.deepEqual(online.entries.map((e) => e.contentName).sort(), ['a.txt', 'b.txt']);
  });

  it('listens on loopback when given only a port, and refuses another address unless --admin-public says so', async function () {
    const bare = await start(['--admin', '0']);
    assert.equal(bare.admin.host, '127.0.0.1');
    const fromEnv = await start([], { P2P_INDEX_ADMIN: '0' });
    assert.equal(fromEnv.admin.host, '127.0.0.1');

    for (const [args, env] of [[['--admin', '0.0.0.0:0'], {}], [[], { P2P_INDEX_ADMIN: '0.0.0.0:0' }], [['--admin', '[::]:0'], {}]] as [string[], NodeJS.ProcessEnv][]) {
      const refused = ServerProcess.run(['--port', '0', ...args], env);
      procs.push(refused);
      const outcome = await Promise.race([refused.exited, refused.waitFor(ADMIN_LINE).then(() => 'served the counts on a public address', () => 'exited')]);
      assert.deepEqual(outcome, { code: 2, signal: null });
      assert.match(refused.stderr, /is not a loopback address: anyone who can reach it reads the index's counts; add --admin-public to mean it/);
    }
    const open = await start(['--admin', '0.0.0.0:0', '--admin-public']);
    assert.equal(open.admin.host, '0.0.0.0');
  });

  it('cuts off a client that never finishes its request, and answers others meanwhile', async function () {
    const { admin } = await start(['--admin', '127.0.0.1:0']);
    const slow = net.connect(admin.port, '127.0.0.1');
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // and never the blank line
    const closed = new Promise<void>((resolve) => slow.once('close', () => resolve()));
    slow.on('error', () => undefined);
    slow.resume(); // read what the server sends (a 408 and its end), as a real client's socket would
    assert.equal((await get(admin.port, '/healthz')).status, 200);
    await closed;
  });

  it('reports 503 on /healthz while the shared store is unreachable', async function () {
    redis = await RedisServer.start();
    const { proc, udp, admin } = await start(['--store', redis.url, '--admin', '0']);
    assert.equal((await get(admin.port, '/healthz')).status, 200);
    await redis.kill();
    await proc.waitFor(/store redis:\/\/\S+ unreachable/);
    const probe = await UdpProbe.open({ host: '127.0.0.1', port: udp });
    probes.push(probe);
    const cookie = await probe.handshake();
    const refused = await probe.ask({ type: 'R', requestId: probe.id(), cookie, secret: Buffer.alloc(32, 7), tcpPort: 4000, size: 3, sha256: Buffer.alloc(32, 1), peerName: 'sam', contentName: 'a.txt' });
    assert.equal(refused.type, 'E');
    assert.deepEqual(await get(admin.port, '/healthz'), { status: 503, type: 'text/plain; charset=utf-8', body: 'shared store unreachable\n' });
    const m = parseMetrics((await get(admin.port, '/metrics')).body);
    assert.equal(m.get('p2p_index_store_up'), 0);
    assert.equal(m.get('p2p_index_store_errors_total'), 1);
    assert.equal(m.get('p2p_index_requests_total{type="R",result="E STORE_UNAVAILABLE"}'), 1);
  });
});
