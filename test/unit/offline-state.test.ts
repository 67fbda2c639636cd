// An index that is gone is known within seconds, with the real reason: a closed port, a missing host, or silence.
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ConnectionState } from '../../src/peer/api';
import { NO_ANSWER_MS } from '../../src/peer/index-client';
import { Peer } from '../../src/peer/peer';
import { COOKIE_BYTES } from '../../src/protocol/messages';
import { FAKE_EXCHANGE_KEY, FakeIndex } from '../support/fake-index';
import { startIndexServer, RunningIndexServer } from '../support/index-server';
import { makeTempDir, removeDir } from '../support/peers';

/** Head room over a bound for a busy 2-core machine. */
const SLACK_MS = 700;

/** Resolves with the detail and the time taken when the peer next reports `state`. */
function nextState(peer: Peer, state: ConnectionState): Promise<{ detail: string | undefined; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const onState = (s: ConnectionState, detail?: string) => {
      if (s !== state) return;
      peer.off('state', onState);
      resolve({ detail, ms: Date.now() - started });
    };
    peer.on('state', onState);
  });
}

/** A loopback UDP port nobody listens on: bound, read, closed. */
async function deadPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('offline state: a gone index is named within seconds, with its reason', function () {
  this.timeout(30_000);
  let index: RunningIndexServer | undefined;
  let dir: string;
  const peers: Peer[] = [];
  const fakes: FakeIndex[] = [];

  beforeEach(async () => {
    index = await startIndexServer();
    dir = await makeTempDir('offline');
  });

  afterEach(async () => {
    for (const p of peers.splice(0)) await p.quit().catch(() => undefined);
    for (const f of fakes.splice(0)) await f.close();
    await index?.close();
    await removeDir(dir);
  });

  /** A connected peer sharing one file, with the default retry schedule (the one a user has). */
  async function sharingPeer(at: string): Promise<Peer> {
    const peer = await Peer.start({ peerName: 'sam', index: at, listenHost: '127.0.0.1', downloadFolder: path.join(dir, 'dl') });
    peers.push(peer);
    const file = path.join(dir, 'notes.txt');
    await fsp.writeFile(file, 'hello');
    await peer.register(file);
    assert.equal(peer.state, 'connected');
    return peer;
  }

  it('moving to a closed loopback port says offline at once, because nothing listens there (ECONNREFUSED)', async () => {
    const peer = await sharingPeer(index!.address);
    const dead = `127.0.0.1:${await deadPort()}`;
    const offline = nextState(peer, 'unreachable');
    await peer.setIndex(dead);
    const { detail, ms } = await offline;
    assert.ok(ms < NO_ANSWER_MS, `offline after ${ms} ms`);
    assert.match(detail ?? '', /ECONNREFUSED/);
    assert.equal(peer.stateError?.code, 'UNREACHABLE');
    assert.equal(peer.indexAddress, dead, 'the peer moved there and keeps trying');
  });

  it('moving to an index that never answers says offline within 3 s, not after the 16 s retry schedule', async () => {
    const peer = await sharingPeer(index!.address);
    const silent = await FakeIndex.start(() => undefined);
    fakes.push(silent);
    const offline = nextState(peer, 'unreachable');
    const moved = peer.setIndex(silent.address);
    const { detail, ms } = await offline;
    await moved;
    assert.ok(ms < NO_ANSWER_MS + SLACK_MS, `offline after ${ms} ms`);
    assert.match(detail ?? '', /did not answer/);
    assert.equal(peer.stateError?.code, 'TIMEOUT');
  });

  it('a connected index that falls silent shows offline 3 s into the next request, while it still retries', async () => {
    let answering = true;
    const fake = await FakeIndex.start((req) => {
      if (!answering) return undefined;
      if (req.type === 'H') return { type: 'H', requestId: req.requestId, cookie: Buffer.alloc(COOKIE_BYTES, 7), exchangeKey: FAKE_EXCHANGE_KEY };
      if (req.type === 'O') return { type: 'O', requestId: req.requestId, next: 0, entries: [] };
      return { type: 'A', requestId: req.requestId, leaseSeconds: 120, message: '' };
    });
    fakes.push(fake);
    const peer = await sharingPeer(fake.address);
    answering = false;
    const offline = nextState(peer, 'unreachable');
    const listing = peer.listOnline();
    listing.catch(() => undefined);
    const { detail, ms } = await offline;
    assert.ok(ms >= NO_ANSWER_MS - 50 && ms < NO_ANSWER_MS + SLACK_MS, `offline after ${ms} ms`);
    assert.match(detail ?? '', /still trying/);

    // It answers the retry: connected again, and the list arrives.
    const back = nextState(peer, 'connected');
    answering = true;
    assert.deepEqual((await listing).items, []);
    await back;
  });

  it('a host name that does not resolve says so (ENOTFOUND), not that the index did not answer', async () => {
    const peer = await sharingPeer(index!.address);
    const offline = nextState(peer, 'unreachable');
    await peer.setIndex('nonexistent.invalid:7870');
    const { detail } = await offline;
    assert.match(detail ?? '', /cannot resolve the index server host "nonexistent\.invalid".*(ENOTFOUND|EAI_AGAIN)/);
    assert.equal(peer.stateError?.code, 'UNREACHABLE');
  });
});
