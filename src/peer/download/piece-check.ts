// Piece verification for a download: the piece root to trust, leaves checked against it, the piece arithmetic, and the pieces of a resumed .part that still verify.
import { formatHostPort } from '../../protocol/address-text';
import { P2PError, toP2PError } from '../../protocol/errors';
import { HASH_BYTES, PieceReply } from '../../protocol/messages';
import { leafHash, merkleRoot, PIECE_BYTES, pieceCount } from '../../protocol/pieces';
import type { LogLevel } from '../api';
import { readAt } from './fs-calls';

/** What piece checks need of a source: who it is and the root it claimed. */
export interface RootClaimant {
  peerName: string;
  host: string;
  port: number;
  pieceRoot?: Buffer;
}

/**
 * The root claimed by the most distinct hosts (names cost nothing to make up), ties to the lower
 * root; undefined when no source claims one (classic or older peers: whole-file check only).
 */
export function chooseRoot(sources: readonly RootClaimant[]): Buffer | undefined {
  const hosts = new Map<string, Set<string>>();
  for (const s of sources) {
    if (!s.pieceRoot || s.pieceRoot.length !== HASH_BYTES) continue;
    const k = s.pieceRoot.toString('hex');
    if (!hosts.has(k)) hosts.set(k, new Set());
    hosts.get(k)!.add(s.host);
  }
  const ranked = [...hosts].sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : 1));
  return ranked.length > 0 ? Buffer.from(ranked[0][0], 'hex') : undefined;
}

/**
 * Every leaf of a content of `size` bytes, page by page from one source, trusted only once their
 * Merkle root is `root`. A source that answers other leaves is a liar: PROTOCOL, naming it.
 */
export async function fetchLeaves(
  ask: (first: number) => Promise<PieceReply>,
  source: RootClaimant,
  size: number,
  root: Buffer,
): Promise<Buffer> {
  const who = `peer "${source.peerName}" at ${formatHostPort(source.host, source.port)}`;
  const total = pieceCount(size);
  const pages: Buffer[] = [];
  for (let got = 0; got < total; ) {
    const reply = await ask(got);
    const count = reply.leaves.length / HASH_BYTES;
    if (reply.total !== total || reply.first !== got || count === 0) {
      throw new P2PError('PROTOCOL', `${who} answered leaves ${reply.first}+${count} of ${reply.total} to a request from ${got} of ${total}`);
    }
    pages.push(reply.leaves);
    got += count;
  }
  const leaves = Buffer.concat(pages);
  if (!merkleRoot(leaves).equals(root)) throw new P2PError('PROTOCOL', `${who} sent piece hashes that do not match the piece root the index listed`);
  return leaves;
}

/** "name (host:port)": how logs and results name a source. */
export function labelOf(s: RootClaimant): string {
  return `${s.peerName} (${formatHostPort(s.host, s.port)})`;
}

/** What findPieces needs of its run. */
export interface PieceHooks {
  /** A connection to `source` able to ask for leaves, and its close. */
  leavesOf(source: RootClaimant): Promise<{ ask(first: number): Promise<PieceReply>; close(): void }>;
  isStopped(): boolean;
  refuse(label: string): void;
  isRefused(label: string): boolean;
  log(level: LogLevel, message: string): void;
}

/**
 * Gets the leaves from a source claiming the chosen root, trusted only once they hash to it. A
 * source whose leaves do not match is refused for this download; with no root, or no source able to
 * show one, undefined: the run goes on with the whole-file check alone, and says so.
 */
export async function findPieces(sources: readonly RootClaimant[], size: number, hooks: PieceHooks): Promise<PieceCheck | undefined> {
  const root = chooseRoot(sources);
  if (!root) {
    hooks.log('info', 'no source claims a piece root; only the whole-file SHA-256 is checked');
    return undefined;
  }
  for (const source of sources) {
    if (hooks.isStopped()) return undefined;
    const label = labelOf(source);
    if (!source.pieceRoot?.equals(root) || hooks.isRefused(label)) continue;
    let conn: Awaited<ReturnType<PieceHooks['leavesOf']>> | undefined;
    try {
      conn = await hooks.leavesOf(source);
      return new PieceCheck(await fetchLeaves(conn.ask, source, size, root), size);
    } catch (err) {
      if (hooks.isStopped()) return undefined;
      const e = toP2PError(err);
      const liar = e.code === 'PROTOCOL';
      if (liar) hooks.refuse(label);
      hooks.log('warn', `no piece hashes from ${label}: ${e.message}${liar ? '; source dropped' : ''}`);
    } finally {
      conn?.close();
    }
  }
  hooks.log('warn', 'no source showed piece hashes matching the piece root; only the whole-file SHA-256 is checked');
  return undefined;
}

/** The verified leaves of one download and the piece arithmetic around them. */
export class PieceCheck {
  constructor(
    /** Every leaf, 32 bytes each, checked against the root. */
    readonly leaves: Buffer,
    private readonly size: number,
  ) {}

  pieceOf(pos: number): number {
    return Math.floor(pos / PIECE_BYTES);
  }

  endOf(index: number): number {
    return Math.min(this.size, (index + 1) * PIECE_BYTES);
  }

  matches(index: number, bufs: readonly Buffer[]): boolean {
    return leafHash(bufs).equals(this.leaves.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES));
  }

  /**
   * The pieces of a resumed .part that are wholly on disk and still match their leaf, as ranges;
   * everything else (a torn piece, a corrupted one) is fetched again.
   */
  async verifiedOnDisk(fd: number, covers: (a: number, b: number) => boolean): Promise<[number, number][]> {
    const out: [number, number][] = [];
    const buf = Buffer.allocUnsafe(PIECE_BYTES);
    for (let i = 0; i < pieceCount(this.size); i++) {
      const a = i * PIECE_BYTES;
      const b = this.endOf(i);
      if (b <= a || !covers(a, b)) continue;
      let n = 0;
      while (n < b - a) {
        const got = await readAt(fd, buf.subarray(n), b - a - n, a + n);
        if (got === 0) break;
        n += got;
      }
      if (n === b - a && this.matches(i, [buf.subarray(0, n)])) out.push([a, b]);
    }
    return out;
  }
}
