// The codec: round trips, and every kind of malformed input rejected with a typed P2PError.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as p from '../../src/protocol';
import { P2PError } from '../../src/protocol';

const hash = crypto.createHash('sha256').update('test').digest();
const cookie = crypto.randomBytes(16);
const proof = { mac: crypto.randomBytes(32), keyShare: crypto.randomBytes(32), wrappedKey: crypto.randomBytes(32) };

function rejects(fn: () => unknown, code: p.ErrorCode, detail?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof P2PError, `expected a P2PError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (detail) assert.match(e.message, detail);
    return true;
  });
}

const requests: p.IndexRequest[] = [
  { type: 'H', requestId: 7 },
  { type: 'R', requestId: 8, cookie, ...proof, tcpPort: 1, size: 0, sha256: hash, peerName: 'Sam', contentName: 'Text.txt', claims: { pin: hash } },
  { type: 'T', requestId: 9, cookie, ...proof, peerName: 'Sam', contentName: '' },
  { type: 'S', requestId: 10, cookie, contentName: 'Text.txt' },
  { type: 'O', requestId: 11, cookie, cursor: 0xffffffff },
];
const replies: p.IndexReply[] = [
  { type: 'H', requestId: 1, cookie, exchangeKey: crypto.randomBytes(32) },
  { type: 'A', requestId: 2, leaseSeconds: 0, message: '' },
  { type: 'E', requestId: 3, code: 65535, message: 'x'.repeat(255) },
  { type: 'S', requestId: 4, sources: [{ peerName: 'a', host: '2001:db8::8:800:200c:417a', port: 9, size: 1, sha256: hash, claims: { pieceRoot: hash } }] },
  { type: 'O', requestId: 5, next: 3, entries: [{ peerName: 'a', contentName: 'b', host: '10.0.0.1', port: 9, size: 1, sha256: hash }] },
];

describe('UDP codec', () => {
  describe('round trips', () => {
    for (const m of requests) it(`${m.type} request`, () => assert.deepEqual(p.decodeIndexRequest(p.encodeIndexRequest(m)), m));
    for (const m of replies) it(`${m.type} reply`, () => assert.deepEqual(p.decodeIndexReply(p.encodeIndexReply(m)), m));
  });

  it('rejects every truncation of every request as MALFORMED', () => {
    for (const m of requests) {
      const b = p.encodeIndexRequest(m);
      for (let n = 0; n < b.length; n++) rejects(() => p.decodeIndexRequest(b.subarray(0, n)), 'MALFORMED', /truncated/);
    }
  });

  it('rejects trailing bytes', () => {
    const b = Buffer.concat([p.encodeIndexRequest(requests[3]), Buffer.of(0)]);
    rejects(() => p.decodeIndexRequest(b), 'MALFORMED', /trailing/);
  });

  it('rejects an unknown type letter', () => {
    const b = p.encodeIndexRequest(requests[0]);
    b[0] = 'Z'.charCodeAt(0);
    rejects(() => p.decodeIndexRequest(b), 'UNKNOWN_TYPE');
  });

  it('rejects a reply letter sent as a request', () => {
    const b = p.encodeIndexReply({ type: 'A', requestId: 1, leaseSeconds: 1, message: 'hi' });
    rejects(() => p.decodeIndexRequest(b), 'UNKNOWN_TYPE');
  });

  it('rejects a wrong version byte', () => {
    const b = p.encodeIndexRequest(requests[0]);
    b[1] = 0x82;
    rejects(() => p.decodeIndexRequest(b), 'MALFORMED', /version/);
  });

  it('rejects bad UTF-8 in a name', () => {
    const b = p.encodeIndexRequest({ type: 'S', requestId: 1, cookie, contentName: 'ab' });
    b[b.length - 1] = 0xff;
    rejects(() => p.decodeIndexRequest(b), 'MALFORMED', /UTF-8/);
  });

  it('rejects a length byte that claims more than the datagram holds', () => {
    const b = p.encodeIndexRequest({ type: 'S', requestId: 1, cookie, contentName: 'ab' });
    b[b.length - 3] = 200;
    rejects(() => p.decodeIndexRequest(b), 'MALFORMED', /truncated/);
  });

  it('rejects an oversize datagram', () => {
    rejects(() => p.decodeIndexRequest(Buffer.alloc(p.MAX_DATAGRAM + 1)), 'TOO_LARGE');
  });

  it('rejects a u64 beyond 2^53-1', () => {
    const b = p.encodeIndexRequest(requests[1]);
    b.writeBigUInt64BE(2n ** 60n, 6 + 16 + 3 * 32 + 2);
    rejects(() => p.decodeIndexRequest(b), 'MALFORMED', /2\^53/);
  });

  it('refuses to encode a name over 255 bytes (field overflow)', () => {
    rejects(() => p.encodeIndexRequest({ type: 'S', requestId: 1, cookie, contentName: 'é'.repeat(128) }), 'TOO_LARGE', /256 bytes/);
  });

  it('refuses to encode a cookie of the wrong size', () => {
    rejects(() => p.encodeIndexRequest({ type: 'S', requestId: 1, cookie: Buffer.alloc(3), contentName: 'a' }), 'MALFORMED', /cookie/);
  });

  it('refuses to encode a reply larger than a datagram', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ peerName: `peer-${i}`, host: '127.0.0.1', port: 1, size: 1, sha256: hash }));
    rejects(() => p.encodeIndexReply({ type: 'S', requestId: 1, sources: many }), 'TOO_LARGE');
  });

  it('sizes sources and entries exactly as they encode', () => {
    const s = { peerName: 'Zoë', host: '::1', port: 1, size: 1, sha256: hash };
    const one = p.encodeIndexReply({ type: 'S', requestId: 1, sources: [s] }).length;
    assert.equal(one, p.SOURCES_OVERHEAD + p.sourceBytes(s));
    const e = { ...s, host: '::ffff:127.0.0.1', contentName: 'naïve' };
    assert.equal(p.encodeIndexReply({ type: 'O', requestId: 1, next: 0, entries: [e] }).length, p.PAGE_OVERHEAD + p.entryBytes(e));
  });

  it('stores an IPv4-mapped IPv6 address as IPv4', () => {
    const m = p.decodeIndexReply(p.encodeIndexReply({ type: 'S', requestId: 1, sources: [{ peerName: 'a', host: '::ffff:127.0.0.1', port: 1, size: 0, sha256: hash }] }));
    assert.equal((m as p.SearchReply).sources[0].host, '127.0.0.1');
  });

  it('writes IPv6 text in its canonical short form', () => {
    for (const [given, canonical] of [['0:0:0:0:0:0:0:1', '::1'], ['fe80:0:0:0:1:0:0:0', 'fe80::1:0:0:0'], ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1']]) {
      const m = p.decodeIndexReply(p.encodeIndexReply({ type: 'S', requestId: 1, sources: [{ peerName: 'a', host: given, port: 1, size: 0, sha256: hash }] }));
      assert.equal((m as p.SearchReply).sources[0].host, canonical);
    }
  });

  it('refuses to encode a host that is not an IP address', () => {
    rejects(() => p.encodeIndexReply({ type: 'S', requestId: 1, sources: [{ peerName: 'a', host: 'example', port: 1, size: 0, sha256: hash }] }), 'BAD_ADDRESS');
  });

  describe('telling classic from new-form datagrams', () => {
    it('a 101-byte classic R is classic', () => {
      assert.equal(p.classifyDatagram(p.encodeClassicRequest({ type: 'R', peerName: 'Sam', contentName: 'a', address: '1' })), 'classic');
    });
    it('a classic O with an empty data field is classic', () => assert.equal(p.classifyDatagram(p.encodeClassicRequest({ type: 'O', offset: 0 })), 'classic'));
    it('a 101-byte new-form PDU is new', () => {
      const b = p.encodeIndexRequest({ type: 'S', requestId: 1, cookie, contentName: 'x'.repeat(101 - 6 - 16 - 1) });
      assert.equal(b.length, 101);
      assert.equal(p.classifyDatagram(b), 'new');
    });
    it('anything over 1200 bytes is oversize', () => assert.equal(p.classifyDatagram(Buffer.alloc(1201)), 'oversize'));
    it('anything else whose byte 1 is not the version is junk: neither form', () => {
      assert.equal(p.classifyDatagram(Buffer.from('HELLO server\n')), 'junk');
      assert.equal(p.classifyDatagram(Buffer.alloc(0)), 'junk');
      assert.equal(p.classifyDatagram(Buffer.from([0x48])), 'junk');
      const wrongVersion = Buffer.alloc(101);
      wrongVersion.set([0x53, 0x80]);
      assert.equal(p.classifyDatagram(wrongVersion), 'junk', 'a continuation byte at 1 is not classic, and not version 0x81');
      assert.equal(p.classifyDatagram(Buffer.from([0x48, 0x81])), 'new', 'a truncated new-form PDU is still new-form, answered MALFORMED');
    });
  });

  describe('an E that must fit in the request it answers', () => {
    it('cuts the message to the limit', () => {
      const b = p.encodeErrorWithin(5, 9, 'a long explanation of what went wrong', 20);
      assert.ok(b && b.length <= 20);
      assert.deepEqual(p.decodeIndexReply(b!), { type: 'E', requestId: 5, code: 9, message: 'a long expla'.slice(0, 20 - 9) });
    });
    it('never splits a UTF-8 character', () => {
      const b = p.encodeErrorWithin(5, 9, 'ééééé', 12)!;
      assert.equal((p.decodeIndexReply(b) as p.ErrorReply).message, 'é');
    });
    it('stays silent when even an empty E would not fit', () => assert.equal(p.encodeErrorWithin(1, 1, 'x', 8), undefined));
  });

  it('peeks the request id of a new-form datagram that fails to decode', () => {
    const b = p.encodeIndexRequest({ type: 'S', requestId: 0xabcdef, cookie, contentName: 'a' }).subarray(0, 9);
    assert.equal(p.peekRequestId(b), 0xabcdef);
    assert.equal(p.peekRequestId(Buffer.from('R')), undefined);
  });
});

describe('classic 101-byte codec', () => {
  it('round-trips every request', () => {
    const all: p.ClassicRequest[] = [
      { type: 'R', peerName: 'x'.repeat(20), contentName: 'y'.repeat(20), address: '127.0.0.1:65535' },
      { type: 'S', peerName: '', contentName: 'Text.txt' },
      { type: 'T', peerName: 'Jo', contentName: 'Text.txt' },
      { type: 'O', offset: 12 },
    ];
    for (const m of all) assert.deepEqual(p.decodeClassicRequest(p.encodeClassicRequest(m)), m);
  });

  it('refuses a name longer than its 20-byte field', () => {
    rejects(() => p.encodeClassicRequest({ type: 'T', peerName: 'x'.repeat(21), contentName: 'a' }), 'TOO_LARGE', /20/);
  });

  it('rejects a PDU of the wrong size, an unknown type and bad UTF-8', () => {
    rejects(() => p.decodeClassicRequest(Buffer.alloc(100)), 'MALFORMED', /101/);
    const b = p.encodeClassicRequest({ type: 'S', peerName: 'a', contentName: 'b' });
    rejects(() => p.decodeClassicRequest(Buffer.concat([Buffer.from('Z'), b.subarray(1)])), 'UNKNOWN_TYPE');
    b[1] = 0xc3; // a lead byte with no continuation
    b[2] = 0x28;
    rejects(() => p.decodeClassicRequest(b), 'MALFORMED', /UTF-8/);
  });

  it('rejects an O offset that is not a number', () => {
    const b = p.encodeClassicRequest({ type: 'O', offset: 0 });
    b.write('1e9', 1);
    rejects(() => p.decodeClassicRequest(b), 'MALFORMED', /decimal/);
  });

  it('cuts a long A/E message to the PDU instead of failing', () => {
    const b = p.encodeClassicReply({ type: 'E', message: 'z'.repeat(300) });
    assert.equal(b.length, 101);
    assert.equal((p.decodeClassicReply(b) as p.ClassicText).message, 'z'.repeat(100));
  });

  describe('paging the online list', () => {
    const all = Array.from({ length: 30 }, (_, i) => ({ peerName: `peer${i}`, contentName: `file-${i}.txt` }));

    it('fills each page with whole lines and points at the rest', () => {
      const seen: string[] = [];
      let offset = 0;
      let pages = 0;
      do {
        const page = p.classicOnlinePage(all, offset);
        const bytes = p.encodeClassicReply(page);
        assert.equal(bytes.length, 101);
        const back = p.decodeClassicReply(bytes) as p.ClassicOnlineReply;
        assert.deepEqual(back, page);
        seen.push(...back.lines.map((l) => l.contentName));
        offset = back.nextOffset;
        pages++;
      } while (offset !== 0 && pages < 100);
      assert.deepEqual(seen, all.map((a) => a.contentName));
      assert.ok(pages > 1, 'thirty entries cannot fit in one page');
    });

    it('skips an entry too long for any page rather than stalling', () => {
      const long = [{ peerName: 'p'.repeat(20), contentName: 'c'.repeat(20) }, ...all.slice(0, 1)];
      const tooLong = [{ peerName: 'x'.repeat(60), contentName: 'y'.repeat(60) }, ...all.slice(0, 1)];
      assert.equal(p.classicOnlinePage(long, 0).lines.length, 2);
      const page = p.classicOnlinePage(tooLong, 0);
      assert.equal(page.lines.length, 0);
      assert.equal(page.nextOffset, 1);
    });
  });
});

describe('TCP codec', () => {
  const d: p.DownloadRequest = { type: 'D', contentName: 'Text1.txt', sha256: hash, offset: 5, length: 0 };

  it('reports an incomplete D as null for every prefix, then decodes it', () => {
    const b = p.encodeDownloadRequest(d);
    for (let n = 0; n < b.length; n++) assert.equal(p.tryDecodeDownloadRequest(b.subarray(0, n)), null);
    assert.deepEqual(p.tryDecodeDownloadRequest(Buffer.concat([b, Buffer.from('next')])), { msg: d, bytes: b.length });
  });

  it('never needs more than MAX_D_BYTES to complete a D', () => {
    const longest = p.encodeDownloadRequest({ ...d, contentName: 'x'.repeat(255) });
    assert.equal(longest.length, p.MAX_D_BYTES);
    assert.ok(p.tryDecodeDownloadRequest(longest));
  });

  it('rejects a non-D on the content server side', () => {
    rejects(() => p.tryDecodeDownloadRequest(Buffer.from('GET / HTTP/1.1\r\n')), 'UNKNOWN_TYPE');
  });

  it('decodes a C header and leaves the content bytes after it', () => {
    const h = p.encodeContentHeader({ size: 10, offset: 2, length: 3 });
    const r = p.tryDecodeContentResponse(Buffer.concat([h, Buffer.from('abc')]));
    assert.deepEqual(r, { msg: { type: 'C', size: 10, offset: 2, length: 3 }, bytes: p.C_HEADER_BYTES });
  });

  it('refuses a C range beyond the size, both ways', () => {
    rejects(() => p.encodeContentHeader({ size: 10, offset: 8, length: 3 }), 'BAD_RANGE');
    const h = p.encodeContentHeader({ size: 10, offset: 7, length: 3 });
    h.writeBigUInt64BE(9n, 2);
    rejects(() => p.tryDecodeContentResponse(h), 'MALFORMED', /exceeds/);
  });

  it('cuts a long TCP error message on a character boundary', () => {
    const b = p.encodeTcpError(14, 'é'.repeat(200));
    const r = p.tryDecodeContentResponse(b)!;
    assert.equal((r.msg as p.TcpError).message, 'é'.repeat(127));
  });
});

describe('name rules', () => {
  const good = ['Text.txt', 'naïve résumé.md', '日本語.txt', 'a', 'x'.repeat(255), '.hidden', 'cone.d', 'COM10'];
  const bad: [unknown, RegExp][] = [
    ['', /empty/],
    ['x'.repeat(256), /256 bytes/],
    ['a/b', /separator/],
    ['a\\b', /separator/],
    ['..', /directory/],
    ['.', /directory/],
    ['a\u0000b', /control/],
    ['tab\there', /control/],
    ['bell\u0007', /control/],
    ['c1\u0085', /control/],
    ['what?.txt', /< > :/],
    ['a:b', /< > :/],
    ['trailing.', /dot/],
    [' lead', /white space/],
    ['trail ', /white space/],
    ['CON', /device/],
    ['nul.txt', /device/],
    ['Lpt1.log', /device/],
    ['\ud800x', /Unicode/],
    [42, /text/],
  ];
  for (const n of good) it(`accepts ${JSON.stringify(n.length > 20 ? n.slice(0, 8) + '…' : n)}`, () => assert.equal(p.validateContentName(n), n));
  for (const [n, why] of bad) it(`refuses ${JSON.stringify(n)}`, () => rejects(() => p.validateContentName(n), 'BAD_NAME', why));

  it('allows in peer names what only file names forbid', () => {
    assert.equal(p.validatePeerName('Sam/laptop: CON?'), 'Sam/laptop: CON?');
    rejects(() => p.validatePeerName('Sam\n'), 'BAD_NAME', /control/);
    rejects(() => p.validatePeerName(''), 'BAD_NAME', /empty/);
  });
});

describe('the error type', () => {
  it('maps wire numbers back to codes and words', () => {
    const e = new P2PError(p.codeFromWire(7), 'Text.txt');
    assert.equal(e.code, 'NOT_FOUND');
    assert.equal(e.wireCode, 7);
    assert.equal(e.message, 'No peer shares that content: Text.txt');
    assert.equal(p.codeFromWire(9999), 'UNKNOWN');
  });

  it('turns Node system errors into codes', () => {
    const sys = (code: string) => Object.assign(new Error(code), { code });
    assert.equal(p.toP2PError(sys('ENOSPC')).code, 'DISK_FULL');
    assert.equal(p.toP2PError(sys('ECONNREFUSED')).code, 'UNREACHABLE');
    assert.equal(p.toP2PError(sys('ENOENT')).code, 'FILE_NOT_FOUND');
    assert.equal(p.toP2PError(new DOMException('x', 'AbortError')).code, 'CANCELLED');
    assert.equal(p.toP2PError('weird').code, 'UNKNOWN');
  });

  it('gives every code words of its own', () => {
    const words = (Object.keys(p.ErrorCodes) as p.ErrorCode[]).map(p.describeCode);
    assert.equal(new Set(words).size, words.length);
  });
});
