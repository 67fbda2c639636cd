// Which range a download's sources fetch next: the holes of the .part carved into chunks in file order, and endgame sharing of a slow chunk.
import { PIECE_BYTES } from '../../protocol/pieces';
import type { BlockInProgress } from './blocks';

/** Largest single request to a source that has the whole download to itself. */
const SOLO_REQUEST_BYTES = 64 * 1024 * 1024;
/** Endgame: duplicate another source's chunk only when it has this much left and looks this slow. */
const ENDGAME_MIN_BYTES = 64 * 1024;
const ENDGAME_AFTER_MS = 250;
const ENDGAME_SLOW_MS = 500;

/** What the plan reads of a source fetching a chunk, to judge whether another should help it. */
export interface Fetcher {
  readonly taskStartedAt: number;
  readonly bytesPerSecond: number;
}

/** One slice of the content handed out as one D. `frontier` is where the next new byte goes. */
export interface Chunk<W extends Fetcher> {
  start: number;
  end: number;
  frontier: number;
  workers: Set<W>;
  /** The block ending at `frontier` being filled, not yet checked nor on disk. */
  block?: BlockInProgress<W>;
}

/**
 * The chunks of one run. The holes still to hand out are carved into chunks only as sources ask:
 * the size is a peer's claim, so neither memory nor time spent planning may grow with it.
 */
export class ChunkPlan<W extends Fetcher> {
  /** Chunks handed out so far, in file order; chunks before `head` are all filled, so searches start there. */
  private chunks: Chunk<W>[] = [];
  private head = 0;
  private gapIndex = 0;
  /** Everything before this offset has been carved into a chunk. */
  private carvedTo = 0;

  /**
   * @param gaps the ranges missing from the .part, in file order
   * @param chunkBytes the size of a chunk; whole pieces per chunk when `wholePieces`, so a piece's
   *   bytes always arrive in order through one chunk
   */
  constructor(
    private readonly gaps: readonly [number, number][],
    chunkBytes: number,
    wholePieces: boolean,
  ) {
    this.chunkBytes = wholePieces ? Math.ceil(chunkBytes / PIECE_BYTES) * PIECE_BYTES : chunkBytes;
  }

  private readonly chunkBytes: number;

  get empty(): boolean {
    return this.gaps.length === 0;
  }

  /**
   * The chunk `worker` should fetch next: the lowest unclaimed one (grown to the rest of its hole
   * when `alone`), or a share of a slow one near the end; undefined when none is worth taking now.
   * `done` is true when no chunk is missing bytes at all.
   */
  pick(worker: W, alone: boolean, now: number): { chunk?: Chunk<W>; endgame?: boolean; done: boolean } {
    const open = this.open();
    if (open.length === 0) return { done: true };
    const free = open.find((c) => c.workers.size === 0);
    if (free) {
      if (alone) this.coalesce(free);
      free.workers.add(worker);
      return { chunk: free, done: false };
    }
    let best: Chunk<W> | undefined;
    let bestEta = ENDGAME_SLOW_MS;
    for (const c of open) {
      if (c.workers.size !== 1 || c.workers.has(worker) || c.end - c.frontier < ENDGAME_MIN_BYTES) continue;
      const owner = [...c.workers][0];
      if (now - owner.taskStartedAt < ENDGAME_AFTER_MS) continue;
      const rate = owner.bytesPerSecond;
      const eta = rate > 0 ? ((c.end - c.frontier) / rate) * 1000 : Infinity;
      if (eta > bestEta) {
        best = c;
        bestEta = eta;
      }
    }
    if (!best) return { done: false };
    best.workers.add(worker);
    return { chunk: best, endgame: true, done: false };
  }

  /**
   * Hands [start, end) out again, a chunk of its own: a piece that failed its check after its chunk
   * had moved on. Kept in file order, so it is the next free chunk.
   */
  requeue(start: number, end: number): void {
    const chunk: Chunk<W> = { start, end, frontier: start, workers: new Set() };
    let i = this.chunks.findIndex((c) => c.start > start);
    if (i < 0) i = this.chunks.length;
    this.chunks.splice(i, 0, chunk);
    this.head = Math.min(this.head, i);
  }

  /** True while some chunk, handed out or not, still misses bytes. */
  get unfinished(): boolean {
    return this.open().length > 0;
  }

  /** The next chunk of at most `bytes` from the holes not yet handed out, or undefined when none are left. */
  private carve(bytes: number): Chunk<W> | undefined {
    while (this.gapIndex < this.gaps.length) {
      const [a, b] = this.gaps[this.gapIndex];
      const start = Math.max(a, this.carvedTo);
      if (start >= b) {
        this.gapIndex++;
        continue;
      }
      const chunk: Chunk<W> = { start, end: Math.min(b, start + bytes), frontier: start, workers: new Set() };
      this.carvedTo = chunk.end;
      this.chunks.push(chunk);
      return chunk;
    }
    return undefined;
  }

  /**
   * Chunks still missing bytes. Claimed chunks sit before free ones (both are handed out in file
   * order), so in practice this scans little more than one chunk per source. When none is free, the
   * next one is carved here.
   */
  private open(): Chunk<W>[] {
    while (this.head < this.chunks.length && this.chunks[this.head].frontier === this.chunks[this.head].end) this.head++;
    const out: Chunk<W>[] = [];
    let skipped = 0;
    for (let i = this.head; i < this.chunks.length; i++) {
      const c = this.chunks[i];
      if (c.frontier === c.end) {
        skipped++;
        continue;
      }
      out.push(c);
      if (c.workers.size === 0) return this.dropFilled(out, skipped);
    }
    const fresh = this.carve(this.chunkBytes);
    if (fresh) out.push(fresh);
    return this.dropFilled(out, skipped);
  }

  private dropFilled(out: Chunk<W>[], skipped: number): Chunk<W>[] {
    // Filled chunks behind a slow one would be rescanned on every call; drop them now and then.
    if (skipped > 64) {
      this.chunks = this.chunks.filter((c) => c.frontier < c.end);
      this.head = 0;
    }
    return out;
  }

  /**
   * The last source standing has nobody to share with: fewer, larger requests save a round trip and
   * a file open on the source per chunk. Grows `chunk`, when it is the last one carved and untouched,
   * into the rest of its hole.
   */
  private coalesce(chunk: Chunk<W>): void {
    const gap = this.gaps[this.gapIndex];
    if (!gap || chunk.frontier !== chunk.start || chunk.end !== this.carvedTo || chunk.start < gap[0]) return;
    const end = Math.min(gap[1], chunk.start + SOLO_REQUEST_BYTES);
    if (end > chunk.end) chunk.end = this.carvedTo = end;
  }
}
