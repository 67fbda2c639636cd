// Source claims (piece root, TLS pin) as a stranger would send them: the codec's limits, and what the index keeps and passes on.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import {
  ErrorCodes, IndexReply, MAX_CLAIMS, P2PError, RegisterRequest, decodeIndexReply, decodeIndexRequest, encodeIndexRequest,
  indexKeyOf, requestMac, MAC_OFFSET,
} from '../../src/protocol';
import { RunningIndexServer, UdpProbe, WithSecret, startIndexServer } from '../support/index-server';

const root = createHash('sha256').update('pieces').digest();
const pin = createHash('sha256').update('spki').digest();

const secret = randomBytes(32);

function registerRequest(over: Partial<WithSecret<RegisterRequest>> = {}): WithSecret<RegisterRequest> {
  return {
    type: 'R', requestId: 7, cookie: Buffer.alloc(16, 1), secret, tcpPort: 4000, size: 4,
    sha256: createHash('sha256').update('test').digest(), peerName: 'sam', contentName: 'a.txt', ...over,
  };
}

/**
 * An R whose claims trailer is exactly `trailer`, to say what the codec itself would never write,
 * proved by `probe` and then MAC'd again over the new trailer, as a hostile peer with its own secret can.
 */
function withTrailer(trailer: number[], probe?: UdpProbe, over: Partial<WithSecret<RegisterRequest>> = {}): Buffer {
  const req = registerRequest(over);
  const plain = probe ? probe.encode(req) : encodeIndexRequest({ ...req, mac: Buffer.alloc(32), keyShare: Buffer.alloc(32), wrappedKey: Buffer.alloc(32) } as never);
  const pdu = Buffer.concat([plain.subarray(0, plain.length - 1), Buffer.from(trailer)]);
  requestMac(indexKeyOf(req.secret), pdu).copy(pdu, MAC_OFFSET);
  return pdu;
}

function malformed(fn: () => unknown, detail: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof P2PError && e.code === 'MALFORMED' && detail.test(e.message));
}

describe('source claims: the codec refuses what a hostile peer crafts', () => {
  it('a claim of the wrong length is malformed, not truncated or padded', () => {
    malformed(() => decodeIndexRequest(withTrailer([1, 1, 31, ...Buffer.alloc(31)])), /pieceRoot must be 32 bytes/);
  });

  it('the same claim twice is malformed, so nobody can show one pin to one reader and another to the next', () => {
    malformed(() => decodeIndexRequest(withTrailer([2, 2, 32, ...pin, 2, 32, ...pin])), /pin given twice/);
  });

  it('a count above the limit is refused before any claim is read', () => {
    malformed(() => decodeIndexRequest(withTrailer([MAX_CLAIMS + 1])), /claim count is 9/);
  });

  it('an unknown claim is skipped, so a later claim does not break this reader', () => {
    const req = decodeIndexRequest(withTrailer([2, 9, 3, 0xaa, 0xbb, 0xcc, 2, 32, ...pin]));
    assert.equal(req.type, 'R');
    assert.deepEqual((req as RegisterRequest).claims, { pin });
  });

  it('a trailer cut short is malformed', () => {
    malformed(() => decodeIndexRequest(withTrailer([1, 1, 32, ...root.subarray(0, 10)])), /truncated/);
  });
});

describe('source claims: what the index passes on', () => {
  let index: RunningIndexServer;
  let probe: UdpProbe;
  let cookie: Buffer;
  beforeEach(async () => {
    index = await startIndexServer();
    probe = await UdpProbe.open(index);
    cookie = await probe.handshake();
  });
  afterEach(async () => {
    await probe.close();
    await index.close();
  });

  async function search(contentName: string): Promise<IndexReply> {
    return probe.ask({ type: 'S', requestId: probe.id(), cookie, contentName });
  }

  it('S returns the claims its source registered, and a refresh replaces them', async () => {
    assert.equal((await probe.ask(registerRequest({ requestId: probe.id(), cookie, secret, claims: { pieceRoot: root, pin } }))).type, 'A');
    let reply = await search('a.txt');
    assert.equal(reply.type, 'S');
    assert.deepEqual(reply.type === 'S' && reply.sources[0].claims, { pieceRoot: root, pin });

    assert.equal((await probe.ask(registerRequest({ requestId: probe.id(), cookie, secret, claims: {} }))).type, 'A');
    reply = await search('a.txt');
    assert.deepEqual(reply.type === 'S' && reply.sources[0].claims, {}, 'a refresh without claims drops the old ones');
  });

  it('bytes of an unknown claim are never passed on to others', async () => {
    const raw = withTrailer([2, 9, 4, 0xde, 0xad, 0xbe, 0xef, 1, 32, ...root], probe, { requestId: probe.id(), cookie });
    const ack = decodeIndexReply(await probe.roundTrip(raw));
    assert.equal(ack.type, 'A', JSON.stringify(ack));
    const replyBytes = await probe.roundTrip(encodeIndexRequest({ type: 'S', requestId: probe.id(), cookie, contentName: 'a.txt' }));
    assert.equal(replyBytes.indexOf(Buffer.from([0xde, 0xad, 0xbe, 0xef])), -1, 'the unknown claim is not in the S reply');
    const reply = decodeIndexReply(replyBytes);
    assert.deepEqual(reply.type === 'S' && reply.sources[0].claims, { pieceRoot: root });
  });

  it('a malformed claims trailer is refused with E MALFORMED and registers nothing', async () => {
    const raw = withTrailer([1, 1, 31, ...Buffer.alloc(31)], probe, { requestId: probe.id(), cookie });
    const reply = decodeIndexReply(await probe.roundTrip(raw));
    assert.equal(reply.type, 'E');
    assert.equal(reply.type === 'E' && reply.code, ErrorCodes.MALFORMED);
    const s = await search('a.txt');
    assert.equal(s.type === 'E' && s.code, ErrorCodes.NOT_FOUND);
  });
});
