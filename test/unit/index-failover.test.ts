// A peer that knows several index servers: the first is killed, and its shares are found at the next one, on one Redis and on independent servers.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { PeerOptions } from '../../src/peer/api';
import { MAX_INDEX_SERVERS, formatAddress, formatAddressList, parseAddressList } from '../../src/peer/address';
import { Peer } from '../../src/peer/peer';
import { parseInvocation } from '../../src/cli/options';
import { P2PError } from '../../src/protocol/errors';
import { CliPeer, IndexServerProcess } from '../support/cli';
import { makeTempDir, removeDir } from '../support/peers';
import { isP2P } from '../support/p2p-error';
import { RedisServer } from '../support/redis';

/**
 * The documented bound with the default settings (docs/cli.md): the 10 s check, 3 s of silence before
 * the next is tried, its answer and the R of every share.
 */
const FAILOVER_BOUND_MS = 15_000;

/** How often the sharer asks the index in use whether it still answers, in these engine tests. */
const CHECK_MS = 300;

/** Resolves with [address, previous] at the peer's next change of index server. */
function nextIndexChange(peer: Peer): Promise<[string, string]> {
  return new Promise((resolve) => peer.once('index-changed', (address, previous) => resolve([address, previous])));
}

/** Resolves at the next 'state' event announcing `state`. */
function nextState(peer: Peer, state: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (s: string) => {
      if (s !== state) return;
      peer.off('state', on);
      resolve();
    };
    peer.on('state', on);
  });
}

/** Resolves with the next background refusal of one share ('share-error'). */
function nextShareError(peer: Peer): Promise<[string, P2PError]> {
  return new Promise((resolve) => peer.once('share-error', (name, err) => resolve([name, err])));
}

describe('a peer with several index servers', function () {
  this.timeout(60_000);
  let dir: string;
  let redis: RedisServer | undefined;
  const servers: IndexServerProcess[] = [];
  const peers: Peer[] = [];

  async function indexServer(...flags: string[]): Promise<IndexServerProcess> {
    const s = await IndexServerProcess.start(['--rate-limit', '0', ...flags]);
    servers.push(s);
    return s;
  }

  async function startPeer(peerName: string, index: PeerOptions['index'], opts: Partial<PeerOptions> = {}): Promise<Peer> {
    const peer = await Peer.start({
      peerName,
      index,
      listenHost: '127.0.0.1',
      downloadFolder: path.join(dir, `${peerName}-downloads`),
      requestTimeoutMs: 200,
      requestTries: 3,
      indexCheckMs: CHECK_MS,
      ...opts,
    });
    peers.push(peer);
    return peer;
  }

  async function sharedFile(name: string, bytes: Buffer): Promise<string> {
    await fsp.mkdir(path.join(dir, 'shared'), { recursive: true });
    const p = path.join(dir, 'shared', name);
    await fsp.writeFile(p, bytes);
    return p;
  }

  /**
   * The scenario of both set-ups: sam shares a file through A (first of [A, B]); A is SIGKILLed; sam
   * moves to B by itself; a finder that knows only B finds sam's file there and downloads it whole.
   */
  async function killFirstAndFindAtSecond(a: IndexServerProcess, b: IndexServerProcess): Promise<number> {
    const secret = randomBytes(32);
    const sam = await startPeer('sam', [a.address, b.address], { secret });
    assert.equal(sam.indexAddress, a.address, 'the first of the list answers, so it is used');
    const bytes = randomBytes(300_000);
    const share = await sam.register(await sharedFile('notes.bin', bytes));

    // The move is over when the new index's answer is announced, after the change of server.
    const moved = nextIndexChange(sam);
    const answered = nextState(sam, 'connected');
    const killedAt = Date.now();
    await a.kill('SIGKILL');
    const [now, before] = await moved;
    await answered;
    const tookMs = Date.now() - killedAt;
    assert.deepEqual([now, before], [b.address, a.address]);
    assert.equal(sam.indexAddress, b.address, 'the peer names the server in use');
    assert.equal(sam.state, 'connected');

    const finder = await startPeer('finder', b.address);
    const found = await finder.search('notes.bin');
    assert.deepEqual(found.map((s) => [s.peerName, s.sha256]), [['sam', share.sha256]], 'B lists sam\'s file right after the move');
    const got = await finder.download('notes.bin', { share: false });
    assert.deepEqual(await fsp.readFile(got.path), bytes, 'the download through B is whole');
    // The same secret went to B: on one store the name stays sam's; elsewhere B learnt it was sam's.
    const squatter = await startPeer('squat', b.address);
    await assert.rejects(squatter.setPeerName('sam').then(() => squatter.register(path.join(dir, 'shared', 'notes.bin'))), isP2P('NAME_TAKEN'));
    return tookMs;
  }

  beforeEach(async function () {
    dir = await makeTempDir('failover');
  });

  afterEach(async function () {
    await Promise.all(peers.splice(0).map((p) => p.quit().catch(() => undefined)));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await redis?.stop();
    redis = undefined;
    await removeDir(dir);
  });

  it('two index servers on one Redis: the first is killed, the shares are found at the second and a download works', async function () {
    redis = await RedisServer.start();
    const a = await indexServer('--store', redis.url);
    const b = await indexServer('--store', redis.url);
    const ms = await killFirstAndFindAtSecond(a, b);
    this.test!.title += ` (moved ${ms} ms after the kill)`;
  });

  it('two independent in-memory index servers: the same, the shares registered again at the second', async function () {
    const a = await indexServer();
    const b = await indexServer();
    const ms = await killFirstAndFindAtSecond(a, b);
    this.test!.title += ` (moved ${ms} ms after the kill)`;
  });

  it('starts with the first that answers when the first of the list is dead', async function () {
    const dead = await indexServer();
    const deadAddress = dead.address;
    await dead.kill('SIGKILL');
    const b = await indexServer();
    const sam = await startPeer('sam', `${deadAddress},${b.address}`);
    assert.equal(sam.indexAddress, b.address);
    assert.equal(sam.state, 'connected');
    assert.equal(sam.indexList, `${deadAddress},${b.address}`);
  });

  it('independent servers where the name is someone else\'s at the next: NAME_TAKEN is reported for the share, and the move still happens', async function () {
    const a = await indexServer();
    const b = await indexServer();
    const other = await startPeer('other', b.address);
    await other.register(await sharedFile('theirs.txt', Buffer.from('theirs')));
    await other.setPeerName('sam'); // "sam" is now owned at B by another secret
    const sam = await startPeer('sam', [a.address, b.address]);
    await sam.register(await sharedFile('mine.txt', Buffer.from('mine')));
    const refused = nextShareError(sam);
    const moved = nextIndexChange(sam);
    await a.kill('SIGKILL');
    const [name, err] = await refused;
    assert.equal(name, 'mine.txt');
    assert.equal(err.code, 'NAME_TAKEN');
    await moved;
    assert.equal(sam.indexAddress, b.address, 'B answers, so it is used for searches even though it refused the name');
    assert.deepEqual((await sam.search('mine.txt')).length, 0);
  });

  it('a server that comes back is used at the next failure (sticky: no move while the one in use answers)', async function () {
    const a = await indexServer();
    const aPort = a.port;
    const b = await indexServer();
    const sam = await startPeer('sam', [a.address, b.address]);
    await sam.register(await sharedFile('song.txt', Buffer.from('la la')));
    const toB = nextIndexChange(sam);
    await a.kill('SIGKILL');
    await toB;
    // A comes back on its port; sam stays at B while B answers.
    const aAgain = await indexServer('--port', String(aPort));
    assert.equal(aAgain.address, a.address);
    const finderAtA = await startPeer('finder', aAgain.address);
    assert.equal(sam.indexAddress, b.address, 'still at B: it answers');
    const backToA = nextIndexChange(sam);
    await b.kill('SIGKILL');
    assert.deepEqual(await backToA, [a.address, b.address]);
    assert.deepEqual((await finderAtA.search('song.txt')).map((s) => s.peerName), ['sam']);
  });
});

describe('a list of index servers, as a setting or --index gives it', function () {
  it('reads a comma-separated list, white space around the commas, and arrays of texts or {host, port}', function () {
    assert.deepEqual(parseAddressList(' 10.0.0.1:7870 , [::1]:7871,host.example'), [
      { host: '10.0.0.1', port: 7870 },
      { host: '::1', port: 7871 },
      { host: 'host.example', port: 7870 },
    ]);
    assert.deepEqual(parseAddressList(['10.0.0.1:1', '10.0.0.2:2,10.0.0.3:3', { host: '10.0.0.4', port: 4 }]).map(formatAddress), [
      '10.0.0.1:1', '10.0.0.2:2', '10.0.0.3:3', '10.0.0.4:4',
    ]);
    assert.equal(formatAddressList(parseAddressList('[::1]:1,10.0.0.1:2')), '[::1]:1,10.0.0.1:2', 'the text parses back to the same list');
  });

  it('refuses an empty list and an empty entry, saying which', function () {
    assert.throws(() => parseAddressList(''), isP2P('BAD_SETTING', /no index server given/));
    assert.throws(() => parseAddressList([]), isP2P('BAD_SETTING', /no index server given/));
    assert.throws(() => parseAddressList('10.0.0.1:1,,10.0.0.2:2'), isP2P('BAD_SETTING', /entry 2 of 3 is empty/));
    assert.throws(() => parseAddressList('10.0.0.1:1,'), isP2P('BAD_SETTING', /entry 2 of 2 is empty/));
  });

  it('refuses a server named twice, naming both entries', function () {
    assert.throws(() => parseAddressList('10.0.0.1:1,10.0.0.2:2,10.0.0.1:1'), isP2P('BAD_SETTING', /entry 3 "10\.0\.0\.1:1" repeats entry 1/));
    assert.throws(() => parseAddressList('Host.Example:5,host.example:5'), isP2P('BAD_SETTING', /repeats entry 1/));
  });

  it(`refuses a list of 1000 (more than ${MAX_INDEX_SERVERS}) before reading its entries, even a megabyte of commas`, function () {
    const thousand = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}:7870`).join(',');
    assert.throws(() => parseAddressList(thousand), isP2P('BAD_SETTING', new RegExp(`names 1000 index servers; at most ${MAX_INDEX_SERVERS}`)));
    const started = process.hrtime.bigint();
    assert.throws(() => parseAddressList(','.repeat(1_000_000)), isP2P('BAD_SETTING', /names 1000001 index servers/));
    assert.ok(process.hrtime.bigint() - started < 500_000_000n, 'a huge list is refused at once');
    assert.equal(parseAddressList(thousand.split(',').slice(0, MAX_INDEX_SERVERS)).length, MAX_INDEX_SERVERS, 'the cap itself is allowed');
  });

  it('refuses a bad entry among good ones, naming it (cut short when huge)', function () {
    assert.throws(() => parseAddressList('10.0.0.1:1,not an address,10.0.0.2:2'), isP2P('BAD_SETTING', /entry 2 "not an address"/));
    assert.throws(() => parseAddressList('10.0.0.1:1,10.0.0.2:99999'), isP2P('BAD_SETTING', /entry 2 "10\.0\.0\.2:99999".*port/));
    const huge = `10.0.0.1:1,${'x'.repeat(100_000)}`;
    assert.throws(() => parseAddressList(huge), (err: P2PError) => err.code === 'BAD_SETTING' && /entry 2 "x{60}…": it is 100000 characters long/.test(err.message) && err.message.length < 300);
  });

  it('p2p-peer takes --index repeated or comma-separated, the same list either way, and refuses what the list refuses', function () {
    const ctx = { env: {}, cwd: '/tmp', userName: () => 'al' };
    const run = (argv: string[]) => {
      const inv = parseInvocation(argv, ctx);
      assert.ok(inv.action === 'run');
      return inv.options;
    };
    assert.equal(run(['--index', '10.0.0.1:1', '--index', '10.0.0.2:2']).indexText, '10.0.0.1:1,10.0.0.2:2');
    assert.equal(run(['--index', '10.0.0.1:1,10.0.0.2:2']).indexText, '10.0.0.1:1,10.0.0.2:2');
    assert.equal(run([]).indexes.length, 1);
    assert.throws(() => run(['--index', '10.0.0.1:1', '--index', '10.0.0.1:1']), isP2P('BAD_SETTING', /--index: entry 2 "10\.0\.0\.1:1" repeats entry 1/));
    assert.throws(() => parseInvocation([], { ...ctx, env: { P2P_INDEX: '1.2.3.4:1,oops:x' } }), isP2P('BAD_SETTING', /P2P_INDEX, entry 2 "oops:x"/));
  });

  it('Peer.start refuses a bad list with the entry named, and setIndex keeps the list in force', async function () {
    const dir = await makeTempDir('failover-list');
    try {
      const base = { peerName: 'al', downloadFolder: dir, listenHost: '127.0.0.1', requestTimeoutMs: 100, requestTries: 1 };
      await assert.rejects(Peer.start({ ...base, index: '127.0.0.1:1,127.0.0.1:x' }), isP2P('BAD_SETTING', /entry 2 "127\.0\.0\.1:x"/));
      const peer = await Peer.start({ ...base, index: '127.0.0.1:9' });
      try {
        await assert.rejects(peer.setIndex(Array(MAX_INDEX_SERVERS + 1).fill('127.0.0.1:9')), isP2P('BAD_SETTING', /at most/));
        await assert.rejects(peer.setIndex('127.0.0.1:9,bad host'), isP2P('BAD_SETTING', /entry 2 "bad host"/));
        assert.equal(peer.indexList, '127.0.0.1:9', 'the last good list stays');
      } finally {
        await peer.quit();
      }
    } finally {
      await removeDir(dir);
    }
  });
});

describe('p2p-peer with two index servers on one Redis', function () {
  this.timeout(60_000);
  let redis: RedisServer | undefined;
  const servers: IndexServerProcess[] = [];
  const clis: CliPeer[] = [];
  let dir: string;

  afterEach(async function () {
    await Promise.all(clis.splice(0).map((c) => c.stop()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await redis?.stop();
    await removeDir(dir);
  });

  it(`with the default check, the first killed: the shares are found at the second within ${FAILOVER_BOUND_MS / 1000} s and a download works`, async function () {
    dir = await makeTempDir('failover-cli');
    redis = await RedisServer.start();
    for (let i = 0; i < 2; i++) servers.push(await IndexServerProcess.start(['--store', redis.url, '--rate-limit', '0']));
    const [a, b] = servers;
    const sam = await CliPeer.start({ index: a.address, name: 'sam', args: ['--index', b.address] });
    clis.push(sam);
    assert.equal(sam.ready!.index, a.address);
    assert.equal(sam.ready!.indexes, `${a.address},${b.address}`);
    const file = path.join(dir, 'report.txt');
    await fsp.writeFile(file, 'quarterly numbers\n'.repeat(1000));
    assert.equal((await sam.runCommand('R', file)).event, 'registered');

    const killedAt = Date.now();
    await a.kill('SIGKILL');
    const moved = await sam.nextEvent('index', { timeoutMs: FAILOVER_BOUND_MS });
    const tookMs = Date.now() - killedAt;
    assert.deepEqual([moved.index, moved.previous], [b.address, a.address]);
    assert.ok(tookMs <= FAILOVER_BOUND_MS, `moved after ${tookMs} ms`);
    const answered = await sam.next((e) => e.event === 'state' && e.state === 'connected');
    assert.equal(answered.index, b.address, 'the state event names the server in use');

    const finder = await CliPeer.start({ index: b.address, name: 'finder' });
    clis.push(finder);
    const sources = await finder.runCommand('S', 'report.txt');
    assert.equal(sources.event, 'sources');
    const got = await finder.runCommand('D', 'report.txt');
    assert.equal(got.event, 'downloaded', JSON.stringify(got));
    assert.deepEqual(await fsp.readFile(String(got.path)), await fsp.readFile(file));
    this.test!.title += ` (moved ${tookMs} ms after the kill)`;
  });
});
