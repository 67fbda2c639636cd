// Source claims: what a registration says about its content and its source beyond name, size and hash (the trailer of R and of each S source).
import { P2PError } from './errors';
import { HASH_BYTES } from './messages';
import { Reader, Writer } from './wire';

/**
 * Each field is a claim the source makes, checked by whoever relies on it (docs/security.md):
 * a downloader checks pieces against `pieceRoot`, and a source's certificate against `pin`.
 */
export interface SourceClaims {
  /** Root of the Merkle tree over the content's pieces (docs/protocol.md, "Pieces"). */
  pieceRoot?: Buffer;
  /** SHA-256 of the DER SubjectPublicKeyInfo of the source's TLS certificate. */
  pin?: Buffer;
}

/** Wire tags; a decoder skips a tag it does not know, so a later claim does not break an older reader. */
export const CLAIM_TAGS = { pieceRoot: 1, pin: 2 } as const;
/** Claims one trailer may hold, known or not: bounds what a decoder walks. */
export const MAX_CLAIMS = 8;

type ClaimName = keyof typeof CLAIM_TAGS;
const NAMES = Object.keys(CLAIM_TAGS) as ClaimName[];
const NAME_OF_TAG = new Map<number, ClaimName>(NAMES.map((n) => [CLAIM_TAGS[n], n]));

/** Writes `u8 count` then `u8 tag, u8 length, bytes` per claim present, in tag order. */
export function writeClaims(w: Writer, c: SourceClaims | undefined): Writer {
  const present = c ? NAMES.filter((n) => c[n] !== undefined) : [];
  w.u8(present.length);
  for (const n of present) w.u8(CLAIM_TAGS[n]).u8(HASH_BYTES).fixed(c![n]!, HASH_BYTES, n);
  return w;
}

/** Reads a claims trailer; a known claim of the wrong length or given twice is MALFORMED, an unknown one is skipped. */
export function readClaims(r: Reader): SourceClaims {
  const n = r.u8('claim count');
  if (n > MAX_CLAIMS) throw new P2PError('MALFORMED', `claim count is ${n}; at most ${MAX_CLAIMS}`);
  const out: SourceClaims = {};
  for (let i = 0; i < n; i++) {
    const tag = r.u8('claim tag');
    const len = r.u8('claim length');
    const name = NAME_OF_TAG.get(tag);
    if (name === undefined) {
      r.bytes(len, `claim ${tag}`);
      continue;
    }
    if (len !== HASH_BYTES) throw new P2PError('MALFORMED', `claim ${name} must be ${HASH_BYTES} bytes, got ${len}`);
    if (out[name] !== undefined) throw new P2PError('MALFORMED', `claim ${name} given twice`);
    out[name] = r.bytes(HASH_BYTES, name);
  }
  return out;
}

/** Bytes a claims trailer takes on the wire. */
export function claimsBytes(c: SourceClaims | undefined): number {
  let n = 1;
  if (c) for (const k of NAMES) if (c[k] !== undefined) n += 2 + HASH_BYTES;
  return n;
}

/**
 * Claims as one flat latin1 string (their wire trailer, '' when none), so a store keeps one compact
 * field per entry and only the claims this codec knows, re-encoded: never bytes a peer chose.
 */
export function packClaims(c: SourceClaims | undefined): string {
  if (!c || (c.pieceRoot === undefined && c.pin === undefined)) return '';
  return writeClaims(new Writer(claimsBytes(c)), c).toBuffer().toString('latin1');
}

export function unpackClaims(packed: string): SourceClaims {
  if (packed === '') return {};
  const r = new Reader(Buffer.from(packed, 'latin1'));
  const c = readClaims(r);
  r.end('claims');
  return c;
}
