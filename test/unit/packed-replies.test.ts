// S and O replies written from packed sources are byte for byte the codec's, and a damaged packed field is never sent.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { P2PError } from '../../src/protocol';
import { SourceClaims, packClaims } from '../../src/protocol/claims';
import { OnlineEntry, Source } from '../../src/protocol/messages';
import {
  PackedEntry, PackedSource, encodePackedPage, encodePackedSources, packedEntryBytes, packedSourceBytes,
} from '../../src/protocol/packed-replies';
import { decodeIndexReply, encodeIndexReply, entryBytes, sourceBytes } from '../../src/protocol/udp';

/** Sources of every shape a store can hold: ASCII and non-ASCII names, IPv4, IPv6 and mapped hosts, sizes past 2^32, each kind of claim. */
function sources(): Source[] {
  const claims: (SourceClaims | undefined)[] = [undefined, {}, { pieceRoot: randomBytes(32) }, { pin: randomBytes(32) }, { pieceRoot: randomBytes(32), pin: randomBytes(32) }];
  const names = ['sam', 'Zoë', '山田', 'x'.repeat(255)];
  const hosts = ['127.0.0.1', '10.1.2.3', '::1', '2001:db8::7', '::ffff:192.0.2.9'];
  const sizes = [0, 1, 0xffff_ffff, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];
  return claims.flatMap((c, i) => names.map((peerName, j) => ({
    peerName, host: hosts[(i + j) % hosts.length], port: 1 + i * 1000 + j, size: sizes[(i * 3 + j) % sizes.length], sha256: randomBytes(32), claims: c,
  })));
}

function packed(s: Source, contentName = 'file.txt'): PackedEntry {
  return { peerName: s.peerName, contentName, host: s.host, port: s.port, size: s.size, hash: s.sha256.toString('latin1'), claims: packClaims(s.claims) };
}

describe('packed S and O replies', function () {
  it('write an S reply byte for byte as the codec does, for every shape of source', function () {
    for (const s of sources()) {
      const id = 0x8000_0001;
      const viaCodec = encodeIndexReply({ type: 'S', requestId: id, sources: [s] });
      assert.deepEqual(encodePackedSources(id, [packed(s)]), viaCodec, `${s.peerName} at ${s.host}`);
      assert.equal(packedSourceBytes(packed(s)), sourceBytes(s));
    }
    const several = sources().filter((s) => s.peerName.length < 10).slice(0, 8);
    assert.deepEqual(encodePackedSources(7, several.map((s) => packed(s))), encodeIndexReply({ type: 'S', requestId: 7, sources: several }));
  });

  it('write an O page byte for byte as the codec does, claims left out as the codec leaves them', function () {
    const list = sources().filter((s) => s.peerName.length < 10).slice(0, 12);
    const entries: OnlineEntry[] = list.map((s, i) => ({ peerName: s.peerName, contentName: `Fïle ${i}.txt`, host: s.host, port: s.port, size: s.size, sha256: s.sha256 }));
    const viaCodec = encodeIndexReply({ type: 'O', requestId: 9, next: 77, entries });
    assert.deepEqual(encodePackedPage(9, 77, entries.map((e, i) => packed(list[i], e.contentName))), viaCodec);
    for (const [i, e] of entries.entries()) assert.equal(packedEntryBytes(packed(list[i], e.contentName)), entryBytes(e));
    const back = decodeIndexReply(encodePackedPage(9, 0, []));
    assert.deepEqual(back, { type: 'O', requestId: 9, next: 0, entries: [] });
  });

  it('refuses to send a kept hash that is not 32 bytes, rather than sending stale buffer bytes', function () {
    const s = packed(sources()[0]);
    for (const hash of ['', 'short', 'x'.repeat(33)]) {
      assert.throws(() => encodePackedSources(1, [{ ...s, hash }]), (err: unknown) => err instanceof P2PError && err.code === 'INTERNAL');
    }
  });

  it('refuses a reply that would not fit one datagram', function () {
    const big: PackedSource = packed({ peerName: 'y'.repeat(255), host: '::1', port: 1, size: 1, sha256: randomBytes(32) });
    assert.throws(() => encodePackedSources(1, Array(5).fill(big)), (err: unknown) => err instanceof P2PError && err.code === 'TOO_LARGE');
  });
});
