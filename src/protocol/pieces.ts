// Pieces: the fixed piece size, the Merkle tree over piece hashes (docs/protocol.md, "Pieces") and the leaf paging bounds.
import { createHash } from 'node:crypto';
import { HASH_BYTES } from './messages';

/**
 * 1 MiB: the downloader hands out 4 MiB chunks (and up to 64 MiB to a lone source), so every chunk
 * holds whole pieces and one piece is never split between two sources' requests; a bad piece costs
 * at most 1 MiB again; and the leaf list of a 64 GiB file (the default size limit) is 2 MiB.
 */
export const PIECE_BYTES = 1 << 20;
/** Leaves one P reply carries at most (256 KiB of hashes); a longer list is fetched page by page. */
export const MAX_LEAVES_PER_REPLY = 8192;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** Pieces of a content of `size` bytes; an empty content has one (empty) piece. */
export function pieceCount(size: number): number {
  return Math.max(1, Math.ceil(size / PIECE_BYTES));
}

/** Leaf of one piece: SHA-256(0x00 ‖ piece bytes). The prefix keeps a leaf from passing as an inner node. */
export function leafHash(parts: Buffer | readonly Buffer[]): Buffer {
  const h = createHash('sha256').update(LEAF_PREFIX);
  for (const p of Buffer.isBuffer(parts) ? [parts] : parts) h.update(p);
  return h.digest();
}

/** Inner node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * The root over `leaves` (32 bytes each, laid end to end). Each level pairs nodes left to right; an
 * odd last node is carried up unchanged (not duplicated, so no second leaf list gives the same root).
 */
export function merkleRoot(leaves: Buffer): Buffer {
  let level: Buffer[] = [];
  for (let i = 0; i < leaves.length; i += HASH_BYTES) level.push(leaves.subarray(i, i + HASH_BYTES));
  if (level.length === 0) return leafHash(Buffer.alloc(0));
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(level[i], level[i + 1]));
    if (level.length % 2 === 1) up.push(level[level.length - 1]);
    level = up;
  }
  return Buffer.from(level[0]);
}

/** Collects leaf hashes while a file streams past in pieces of any size, in file order. */
export class LeafCollector {
  private readonly leaves: Buffer[] = [];
  private hash = createHash('sha256').update(LEAF_PREFIX);
  private inPiece = 0;

  update(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      const take = Math.min(PIECE_BYTES - this.inPiece, data.length - at);
      this.hash.update(data.subarray(at, at + take));
      this.inPiece += take;
      at += take;
      if (this.inPiece === PIECE_BYTES) this.close();
    }
  }

  private close(): void {
    this.leaves.push(this.hash.digest());
    this.hash = createHash('sha256').update(LEAF_PREFIX);
    this.inPiece = 0;
  }

  /** Every leaf, 32 bytes each, end to end; the last piece may be short (an empty content: one empty piece). */
  finish(): Buffer {
    if (this.inPiece > 0 || this.leaves.length === 0) this.close();
    return Buffer.concat(this.leaves);
  }
}
