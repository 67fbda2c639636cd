// The p2p-index-server command as a real child process: flags, environment, logging, exit codes, signals.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { ErrorCodes, decodeClassicReply, encodeClassicRequest } from '../../src/protocol';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, main, parseCli } from '../../src/server/main';
import { IndexServer } from '../../src/server/index-server';
import { UdpProbe } from '../support/index-server';
import { ServerProcess } from '../support/server-process';

/** What parseCli adds for --data none and no --owner-ttl. */
const MEMORY = { storage: { kind: 'memory' }, ownerTtlSeconds: 30 * 24 * 3600 };
const VERSION = (require('../../../package.json') as { version: string }).version;

describe('p2p-index-server command', function () {
  this.timeout(30_000);
  let procs: ServerProcess[];
  let probes: UdpProbe[];

  function run(args: string[], env?: NodeJS.ProcessEnv): ServerProcess {
    const p = ServerProcess.run(args, env);
    procs.push(p);
    return p;
  }

  beforeEach(function () {
    procs = [];
    probes = [];
  });

  afterEach(async function () {
    await Promise.all(probes.map((p) => p.close()));
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exited));
  });

  it('logs "listening on udp HOST:PORT" with --port 0, answers requests, and exits 0 on SIGTERM', async function () {
    const proc = run(['--port', '0', '--log-level', 'info']);
    const port = await proc.port();
    assert.ok(port > 0);
    const probe = await UdpProbe.open({ host: '127.0.0.1', port });
    probes.push(probe);
    const cookie = await probe.handshake();
    const reply = await probe.ask({
      type: 'R', requestId: probe.id(), cookie, secret: Buffer.alloc(32, 7), tcpPort: 4000, size: 3, sha256: Buffer.alloc(32, 1), peerName: 'sam', contentName: 'Text.txt',
    });
    assert.equal(reply.type, 'A');
    await proc.waitFor(new RegExp(`info {2}R sam Text\\.txt from 127\\.0\\.0\\.1:${probe.localPort} -> A \\(registered; 1 held\\)\\n`));
    proc.child.kill('SIGTERM');
    assert.deepEqual(await proc.exited, { code: EXIT_OK, signal: null });
    assert.match(proc.stderr, /SIGTERM: shutting down/);
    assert.match(proc.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info {2}listening on udp/m);
  });

  it('exits 0 on SIGINT too', async function () {
    const proc = run(['--port', '0']);
    await proc.port();
    proc.child.kill('SIGINT');
    assert.deepEqual(await proc.exited, { code: EXIT_OK, signal: null });
  });

  it('prints usage for --help and the package version for -V/--version, as p2p-peer does', async function () {
    const help = run(['--help']);
    assert.deepEqual(await help.exited, { code: EXIT_OK, signal: null });
    assert.match(help.stdout, /^Usage: p2p-index-server/);
    for (const flag of ['--host', '--port', '--ttl', '--classic', '--classic-ttl', '--max-entries', '--max-per-peer', '--max-per-address', '--max-per-secret', '--rate-limit', '--log-level', '-v, --verbose', '-V, --version']) {
      assert.ok(help.stdout.includes(flag), `help mentions ${flag}`);
    }
    for (const flag of ['-V', '--version']) {
      const version = run([flag]);
      assert.deepEqual(await version.exited, { code: EXIT_OK, signal: null });
      assert.equal(version.stdout, `p2p-index-server ${VERSION}\n`);
    }
  });

  it('-v means verbose: it logs at debug level and keeps running', async function () {
    assert.deepEqual(parseCli(['-v', '--data', 'none'], {}), { kind: 'run', logLevel: 'debug', options: { port: 7870 }, ...MEMORY });
    assert.deepEqual(parseCli(['--verbose'], { P2P_INDEX_LOG_LEVEL: 'error', P2P_INDEX_DATA: 'none' }), { kind: 'run', logLevel: 'debug', options: { port: 7870 }, ...MEMORY });
    const proc = run(['-v', '--port', '0']);
    const port = await proc.port();
    const probe = await UdpProbe.open({ host: '127.0.0.1', port });
    probes.push(probe);
    await probe.handshake();
    await proc.waitFor(/debug H from 127\.0\.0\.1:\d+ -> H\n/);
  });

  it('exits 2 with one clear line for a bad flag or value', async function () {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--bogus'], {}, /Unknown option '--bogus'/],
      [['--port', 'seventy'], {}, /--port must be a whole number 0\.\.65535, got "seventy"/],
      [['--ttl', '0'], {}, /--ttl must be a whole number/],
      [['--classic-ttl', '0'], {}, /--classic-ttl must be a whole number 1\.\./],
      [['--classic', '--no-classic'], {}, /--classic and --no-classic contradict each other/],
      [['--log-level', 'loud'], {}, /--log-level: log level must be one of error, warn, info, debug/],
      [['--host', 'example.com'], {}, /--host must be an IP address/],
      [[], { P2P_INDEX_PORT: '-1' }, /P2P_INDEX_PORT must be a whole number/],
      [[], { P2P_INDEX_CLASSIC: 'yes' }, /P2P_INDEX_CLASSIC must be 0 or 1/],
      [['extra'], {}, /Unexpected argument 'extra'/],
    ];
    await Promise.all(
      cases.map(async ([args, env, why]) => {
        const proc = run(args, env);
        const { code } = await proc.exited;
        assert.equal(code, EXIT_USAGE, `${args.join(' ')} ${JSON.stringify(env)}: ${proc.stderr}`);
        assert.match(proc.stderr.split('\n')[0], why);
        assert.match(proc.stderr.split('\n')[0], /^p2p-index-server: /);
      }),
    );
  });

  it('exits 1 with a clear error when the port is in use', async function () {
    const first = run(['--port', '0']);
    const port = await first.port();
    const second = run(['--port', String(port)]);
    assert.equal((await second.exited).code, EXIT_FAILED);
    assert.match(second.stderr, new RegExp(`error Another program is already using that address and port: udp 127\\.0\\.0\\.1:${port}`));
  });

  it('takes settings from P2P_INDEX_* variables, and flags win over them; P2P_INDEX_CLASSIC=1 turns classic on', async function () {
    const proc = run(['--port', '0', '--log-level', 'debug'], { P2P_INDEX_PORT: '1', P2P_INDEX_CLASSIC: '1', P2P_INDEX_LOG_LEVEL: 'error' });
    const port = await proc.port(); // --port 0 won over P2P_INDEX_PORT=1; the info line shows --log-level won too
    await proc.waitFor(/info {2}classic 101-byte PDUs are answered \(--classic\): they carry no proof of address/);
    const probe = await UdpProbe.open({ host: '127.0.0.1', port });
    probes.push(probe);
    const raw = await probe.roundTrip(encodeClassicRequest({ type: 'O', offset: 0 }));
    const reply = decodeClassicReply(raw);
    assert.equal(reply.type === 'E' && reply.message, 'No peer shares that content: nothing is registered', 'P2P_INDEX_CLASSIC=1 turned classic on');
    await proc.waitFor(/debug classic O offset 0 from 127\.0\.0\.1:\d+ -> E NOT_FOUND/);
  });

  it('leaves classic off by default: a classic PDU gets no reply, and the log says how to turn it on', async function () {
    const proc = run(['--port', '0'], { P2P_INDEX_CLASSIC: '0' });
    const port = await proc.port();
    const probe = await UdpProbe.open({ host: '127.0.0.1', port });
    probes.push(probe);
    await probe.send(encodeClassicRequest({ type: 'R', peerName: 'sam', contentName: 'Text.txt', address: '5000' }));
    await probe.expectSilence();
    await proc.waitFor(/info {2}classic 101-byte PDUs arrive \(first from 127\.0\.0\.1:\d+\) but are not answered: start with --classic/);
    assert.doesNotMatch(proc.stderr, /are answered/);
  });

  it('--classic, --classic-ttl and --rate-limit 0 reach the server', async function () {
    const cmd = parseCli(['--classic', '--classic-ttl', '3600', '--rate-limit', '0', '--ttl', '30', '--max-entries', '5', '--max-per-peer', '2', '--host', '::1', '--data', 'none'], {});
    assert.deepEqual(cmd, {
      kind: 'run',
      logLevel: 'info',
      options: { host: '::1', port: 7870, ttlSeconds: 30, classic: true, classicTtlSeconds: 3600, maxEntries: 5, maxPerPeer: 2, rateLimit: false },
      ...MEMORY,
    });
    assert.deepEqual(parseCli([], { P2P_INDEX_CLASSIC_TTL: '60', P2P_INDEX_DATA: 'none' }), { kind: 'run', logLevel: 'info', options: { port: 7870, classicTtlSeconds: 60 }, ...MEMORY });
    assert.deepEqual(parseCli(['--no-classic', '--data', 'none'], { P2P_INDEX_CLASSIC: '1' }), { kind: 'run', logLevel: 'info', options: { port: 7870, classic: false }, ...MEMORY });
    const limited = parseCli(['--rate-limit', '50'], { P2P_INDEX_HOST: '0.0.0.0', P2P_INDEX_TTL: '60' });
    assert.deepEqual(limited.kind === 'run' && limited.options, { host: '0.0.0.0', port: 7870, ttlSeconds: 60, rateLimit: { perSecond: 50, burst: 100 } });
  });

  it('--max-per-address and --max-per-secret reach the server, from flags or the environment (flags win), and refuse nonsense', async function () {
    const cmd = parseCli(['--max-per-address', '7', '--max-per-secret', '3'], { P2P_INDEX_MAX_PER_ADDRESS: '9' });
    assert.deepEqual(cmd.kind === 'run' && cmd.options, { port: 7870, maxPerAddress: 7, maxPerSecret: 3 });
    const fromEnv = parseCli([], { P2P_INDEX_MAX_PER_ADDRESS: '9', P2P_INDEX_MAX_PER_SECRET: '4' });
    assert.deepEqual(fromEnv.kind === 'run' && fromEnv.options, { port: 7870, maxPerAddress: 9, maxPerSecret: 4 });
    assert.throws(() => parseCli(['--max-per-address', '0'], {}), /--max-per-address must be a whole number 1\.\./);
    assert.throws(() => parseCli([], { P2P_INDEX_MAX_PER_SECRET: 'lots' }), /P2P_INDEX_MAX_PER_SECRET must be a whole number/);
    const lines: string[] = [];
    const stop = new AbortController();
    let listening!: (server: IndexServer) => void;
    const started = new Promise<IndexServer>((resolve) => (listening = resolve));
    const exitCode = main(['--port', '0', '--max-per-address', '1'], { env: { P2P_INDEX_DATA: 'none' }, stdout: () => undefined, stderr: (l) => lines.push(l), signal: stop.signal, onListening: listening });
    const server = await started;
    const probe = await UdpProbe.open({ host: '127.0.0.1', port: server.address!.port });
    probes.push(probe);
    const cookie = await probe.handshake();
    const ask = (peerName: string) =>
      probe.ask({ type: 'R', requestId: probe.id(), cookie, secret: randomBytes(32), tcpPort: 1, size: 0, sha256: Buffer.alloc(32), peerName, contentName: 'a' });
    assert.equal((await ask('p1')).type, 'A');
    const second = await ask('p2');
    assert.equal(second.type === 'E' && second.code, ErrorCodes.ADDRESS_LIMIT, '--max-per-address reached the server');
    stop.abort('test over');
    assert.equal(await exitCode, EXIT_OK);
  });

  it('main() runs in-process until its signal aborts, resolving with the exit code', async function () {
    const lines: string[] = [];
    const stop = new AbortController();
    let listening!: (server: IndexServer) => void;
    const started = new Promise<IndexServer>((resolve) => (listening = resolve));
    const exitCode = main(['--port', '0', '--max-per-peer', '1'], {
      env: { P2P_INDEX_DATA: 'none' },
      stdout: () => undefined,
      stderr: (l) => lines.push(l),
      signal: stop.signal,
      onListening: listening,
    });
    const server = await started;
    const probe = await UdpProbe.open({ host: '127.0.0.1', port: server.address!.port });
    probes.push(probe);
    const cookie = await probe.handshake();
    const ask = (content: string) =>
      probe.ask({ type: 'R', requestId: probe.id(), cookie, secret: Buffer.alloc(32), tcpPort: 1, size: 0, sha256: Buffer.alloc(32), peerName: 'p', contentName: content });
    assert.equal((await ask('a')).type, 'A');
    const second = await ask('b');
    assert.equal(second.type === 'E' && second.code, ErrorCodes.PEER_LIMIT, '--max-per-peer reached the server');
    stop.abort('test over');
    assert.equal(await exitCode, EXIT_OK);
    assert.ok(lines.some((l) => l.includes('test over: shutting down')), lines.join(''));
    assert.ok(lines.some((l) => l.includes('stopped listening')), lines.join(''));
  });
});
