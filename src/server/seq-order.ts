// Entry slots in sequence order, for O paging: O(1) append and removal, a cursor by binary search, a position through a Fenwick tree.
import { EntryColumns, GROWTH, NONE } from './entry-columns';

/**
 * Slots in sequence order with their sequence numbers beside them. Appends are O(1) (a new entry
 * always has the highest seq); removals leave a tombstone (its seq kept, so paging by seq stays a
 * binary search), compacted away once they are half the array. A Fenwick tree over the positions
 * counts live entries, so the classic O's positional offsets are found in O(log n) instead of by a scan.
 * Each slot's position is kept in `cols.orderPos`. 12 bytes an entry.
 */
export class SeqOrder {
  private slots = new Int32Array(1024);
  private seqs = new Uint32Array(1024);
  private length = 0;
  private dead = 0;
  private tree = new Int32Array(1025);

  constructor(private readonly cols: EntryColumns) {}

  get live(): number {
    return this.length - this.dead;
  }

  seqOf(slot: number): number {
    return this.seqs[this.cols.orderPos[slot]];
  }

  push(slot: number, seq: number): void {
    if (this.length === this.slots.length) {
      const size = Math.ceil(this.length * GROWTH);
      this.slots = grownTo(new Int32Array(size), this.slots);
      this.seqs = grownTo(new Uint32Array(size), this.seqs);
    }
    const at = this.length++;
    this.slots[at] = slot;
    this.seqs[at] = seq;
    this.cols.orderPos[slot] = at;
    if (this.length >= this.tree.length) this.rebuild(Math.ceil(this.tree.length * GROWTH));
    else this.add(at, 1);
  }

  /** Takes a slot out; call before the slot is released. */
  drop(slot: number): void {
    const at = this.cols.orderPos[slot];
    this.slots[at] = NONE;
    this.add(at, -1);
    this.dead++;
    if (this.dead > 1024 && this.dead * 2 > this.length) this.compact();
  }

  /** Seq numbers 1..n again; used when the u32 cursor space runs out. Returns the next free seq. */
  renumber(): number {
    this.compact();
    for (let i = 0; i < this.length; i++) this.seqs[i] = i + 1;
    return this.length + 1;
  }

  /** Slots with seq >= cursor, in seq order. */
  *fromSeq(cursor: number): Generator<number> {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid] < cursor) lo = mid + 1;
      else hi = mid;
    }
    yield* this.liveFrom(lo);
  }

  /** Slots from the position-th live one (0-based) on, in seq order. */
  *fromPosition(position: number): Generator<number> {
    yield* this.liveFrom(this.positionOfLive(position));
  }

  clear(): void {
    this.slots = new Int32Array(1024);
    this.seqs = new Uint32Array(1024);
    this.length = this.dead = 0;
    this.tree = new Int32Array(1025);
  }

  private *liveFrom(at: number): Generator<number> {
    for (let i = at; i < this.length; i++) if (this.slots[i] !== NONE) yield this.slots[i];
  }

  private compact(): void {
    let n = 0;
    for (let i = 0; i < this.length; i++) {
      const slot = this.slots[i];
      if (slot === NONE) continue;
      this.slots[n] = slot;
      this.seqs[n] = this.seqs[i];
      this.cols.orderPos[slot] = n;
      n++;
    }
    this.length = n;
    this.dead = 0;
    this.rebuild(Math.max(1025, this.tree.length));
  }

  /** Fenwick tree over positions 0..size-2 (1-based inside), built in O(n). */
  private rebuild(size: number): void {
    const tree = new Int32Array(size);
    for (let i = 1; i < size; i++) {
      if (i <= this.length && this.slots[i - 1] !== NONE) tree[i] += 1;
      // Every node passes its sum up, even past the last entry, or the upper nodes would miss it.
      const parent = i + (i & -i);
      if (parent < size) tree[parent] += tree[i];
    }
    this.tree = tree;
  }

  private add(at: number, delta: number): void {
    const tree = this.tree;
    for (let i = at + 1; i < tree.length; i += i & -i) tree[i] += delta;
  }

  /** Position of the k-th (0-based) live slot, or the length when there are not that many. */
  private positionOfLive(k: number): number {
    if (k >= this.live) return this.length;
    const tree = this.tree;
    let pos = 0;
    let rest = k + 1;
    let step = 1;
    while (step * 2 < tree.length) step *= 2;
    for (; step > 0; step >>= 1) {
      if (pos + step < tree.length && tree[pos + step] < rest) {
        pos += step;
        rest -= tree[pos];
      }
    }
    return pos; // 1-based position pos+1 is the answer, i.e. index pos
  }
}

function grownTo<T extends Int32Array | Uint32Array>(to: T, from: T): T {
  to.set(from);
  return to;
}
