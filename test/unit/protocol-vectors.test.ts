// Reads the test vectors out of docs/protocol.md and checks each one both ways against the codec.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as p from '../../src/protocol';

const DOC = path.resolve(__dirname, '../../../docs/protocol.md');

type CodecName = 'indexRequest' | 'indexReply' | 'classicRequest' | 'classicReply' | 'downloadRequest' | 'contentResponse' | 'pieceRequest' | 'pieceReply';

const codecs: Record<CodecName, { encode(v: any): Buffer; decode(b: Buffer): unknown }> = {
  indexRequest: { encode: p.encodeIndexRequest, decode: p.decodeIndexRequest },
  indexReply: { encode: p.encodeIndexReply, decode: p.decodeIndexReply },
  classicRequest: { encode: p.encodeClassicRequest, decode: p.decodeClassicRequest },
  classicReply: { encode: p.encodeClassicReply, decode: p.decodeClassicReply },
  downloadRequest: {
    encode: p.encodeDownloadRequest,
    decode: (b) => whole(b, p.tryDecodeDownloadRequest(b)),
  },
  contentResponse: {
    encode: (m) => (m.type === 'C' ? p.encodeContentHeader(m) : p.encodeTcpError(m.code, m.message)),
    decode: (b) => whole(b, p.tryDecodeContentResponse(b)),
  },
  pieceRequest: { encode: p.encodePieceRequest, decode: (b) => whole(b, p.tryDecodeUploadRequest(b)) },
  pieceReply: {
    encode: (m) => (m.type === 'P' ? p.encodePieceReply(m) : p.encodeTcpError(m.code, m.message)),
    decode: (b) => whole(b, p.tryDecodePieceReply(b)),
  },
};

/** A stream decoder must take exactly the vector's bytes. */
function whole(b: Buffer, d: { msg: unknown; bytes: number } | null): unknown {
  assert.ok(d, 'decoder reported the vector as incomplete');
  assert.equal(d.bytes, b.length, 'decoder did not consume exactly the vector');
  return d.msg;
}

/** JSON form of a decoded value: Buffers as lower-case hex, like the document writes them. */
function asJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (x && x.type === 'Buffer' && Array.isArray(x.data) ? Buffer.from(x.data).toString('hex') : x)));
}

const BYTE_FIELDS = ['cookie', 'sha256', 'mac', 'keyShare', 'wrappedKey', 'exchangeKey', 'pieceRoot', 'pin', 'leaves'];

/** Turns the document's hex strings back into Buffers for the fields that are bytes. */
function withBuffers(v: any): any {
  if (Array.isArray(v)) return v.map(withBuffers);
  if (v && typeof v === 'object') {
    const out: any = {};
    for (const [k, x] of Object.entries(v)) out[k] = BYTE_FIELDS.includes(k) ? Buffer.from(x as string, 'hex') : withBuffers(x);
    return out;
  }
  return v;
}

interface Vector { name: string; codec: CodecName; value: unknown; hex: Buffer; declaredLength: number }

function readVectors(): Vector[] {
  const text = fs.readFileSync(DOC, 'utf8');
  const section = text.slice(text.indexOf('## Test vectors'));
  const re = /### (.+)\n\nCodec `(\w+)`, (\d+) bytes\.\n\n```json\n([\s\S]*?)\n```\n\n```hex\n([\s\S]*?)\n```/g;
  const out: Vector[] = [];
  for (const m of section.matchAll(re)) {
    out.push({ name: m[1], codec: m[2] as CodecName, declaredLength: Number(m[3]), value: JSON.parse(m[4]), hex: Buffer.from(m[5].replace(/\s+/g, ''), 'hex') });
  }
  return out;
}

describe('docs/protocol.md test vectors', () => {
  const vectors = readVectors();

  it('the document holds a vector for every PDU of the contract', () => {
    const seen = new Set(vectors.map((v) => `${v.codec}:${(v.value as { type: string }).type}`));
    for (const t of ['H', 'R', 'T', 'S', 'O', 'F']) assert.ok(seen.has(`indexRequest:${t}`), `no ${t} request vector`);
    for (const t of ['H', 'A', 'E', 'S', 'O', 'F']) assert.ok(seen.has(`indexReply:${t}`), `no ${t} reply vector`);
    for (const t of ['R', 'S', 'T', 'O']) assert.ok(seen.has(`classicRequest:${t}`), `no classic ${t} vector`);
    for (const c of ['pieceRequest', 'pieceReply']) assert.ok(seen.has(`${c}:P`), `no ${c} vector`);
    for (const t of ['D', 'C', 'E']) assert.ok(seen.has(`downloadRequest:${t}`) || seen.has(`contentResponse:${t}`), `no TCP ${t} vector`);
  });

  for (const v of vectors) {
    describe(v.name, () => {
      it('has the length the document states', () => assert.equal(v.hex.length, v.declaredLength));
      it('decodes to the documented value', () => assert.deepEqual(asJson(codecs[v.codec].decode(v.hex)), v.value));
      it('encodes to the documented bytes', () => assert.equal(codecs[v.codec].encode(withBuffers(v.value)).toString('hex'), v.hex.toString('hex')));
    });
  }
});

/** The worked proof in docs/protocol.md ("Proof of ownership"): its inputs, and what each step must give. */
interface ProofExample {
  secret: string;
  indexKey: string;
  indexPrivate: string;
  exchangeKey: string;
  sharePrivate: string;
  keyShare: string;
  wrappedKey: string;
}

function readProofExample(): ProofExample {
  const text = fs.readFileSync(DOC, 'utf8');
  const m = /### Proof example\n[\s\S]*?```json\n([\s\S]*?)\n```/.exec(text);
  assert.ok(m, 'docs/protocol.md has no "### Proof example" with a json block');
  return JSON.parse(m[1]);
}

describe('docs/protocol.md proof example', () => {
  const ex = readProofExample();
  const bytes = (h: string) => Buffer.from(h, 'hex');
  const index = p.exchangeKeyPair(bytes(ex.indexPrivate));
  const share = p.exchangeKeyPair(bytes(ex.sharePrivate));

  it('derives the documented index key from the secret, and the exchange key and key share from their private keys', () => {
    assert.equal(p.indexKeyOf(bytes(ex.secret)).toString('hex'), ex.indexKey);
    assert.equal(index.publicKey.toString('hex'), ex.exchangeKey);
    assert.equal(share.publicKey.toString('hex'), ex.keyShare);
  });

  it('wraps the index key to the documented bytes, and the index unwraps it again', () => {
    const claim = p.claimFor(bytes(ex.indexKey), index.publicKey, share);
    assert.equal(claim.wrappedKey.toString('hex'), ex.wrappedKey);
    assert.equal(p.unwrapClaim(index, claim)?.toString('hex'), ex.indexKey);
  });

  it('every R and T vector carries that claim and a MAC made with that index key', () => {
    const proven = readVectors().filter((v) => v.codec === 'indexRequest' && ['R', 'T'].includes((v.value as { type: string }).type));
    assert.equal(proven.length, 5);
    for (const v of proven) {
      const value = v.value as { keyShare: string; wrappedKey: string; mac: string };
      assert.equal(value.keyShare, ex.keyShare, v.name);
      assert.equal(value.wrappedKey, ex.wrappedKey, v.name);
      assert.equal(p.requestMac(bytes(ex.indexKey), v.hex).toString('hex'), value.mac, v.name);
    }
  });

  it("the index's check of a MAC accepts every vector's, with the key as bytes or as the registry keeps it, and refuses any one bit changed", () => {
    const proven = readVectors().filter((v) => v.codec === 'indexRequest' && ['R', 'T'].includes((v.value as { type: string }).type));
    const key = bytes(ex.indexKey);
    for (const v of proven) {
      assert.ok(p.macMatches(key, v.hex), v.name);
      assert.ok(p.macMatches(key.toString('latin1'), v.hex), `${v.name}, latin1 key`);
      const otherKey = Buffer.from(key);
      otherKey[31] ^= 1;
      assert.ok(!p.macMatches(otherKey, v.hex), `${v.name}, another key`);
      for (let at = 0; at < v.hex.length; at++) {
        const changed = Buffer.from(v.hex);
        changed[at] ^= 0x80;
        assert.ok(!p.macMatches(key, changed), `${v.name}, byte ${at} changed`);
      }
      assert.ok(!p.macMatches(key, v.hex.subarray(0, p.MAC_END - 1)), `${v.name}, cut inside the MAC`);
    }
  });
});
