// The index's distinct content names for F (search by part of a name): one record per name, its versions counted, scanned in name order.

/** One version of a content as F reports it: sources registered with this (SHA-256, size). */
export interface NameVersion {
  /** SHA-256 as 32 latin1 characters, as the store keeps it. */
  hash: string;
  size: number;
  sources: number;
}

/** One distinct content name with its versions; what a search scans instead of every registration. */
export interface NameRecord {
  readonly name: string;
  /** The name as search compares it (searchKey). */
  readonly key: string;
  /** Name sequence number: the F cursor. A name that disappears and comes back gets a new one. */
  seq: number;
  readonly versions: readonly NameVersion[];
}

/** One page of a name scan: the matching records and where the next scan starts (0 = the end). */
export interface NameScan {
  records: NameRecord[];
  next: number;
}

/**
 * How search compares text: Unicode NFC, then the default (locale-independent) toLowerCase, on both
 * the query and the name. No full case folding: "STRASSE" does not find "Straße".
 */
export function searchKey(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

/** Largest name sequence number an F cursor (u32) can carry. */
const MAX_NAME_SEQ = 0xffff_ffff;
/** Names per block of joined search keys. */
const BLOCK = 2048;
/** Between two keys in a block's text; no name holds a control character, so no match spans two. */
const SEPARATOR = '\n';

/** One block's search keys joined, and where each key starts in that text. */
interface BlockText {
  text: string;
  starts: Int32Array;
}

class Slot implements NameRecord {
  removed = false;
  /** The first version inline and the others apart: most names have one, and an array per name costs ~60 bytes at 1M names. */
  first: NameVersion | null;
  more: NameVersion[] | null = null;
  constructor(
    readonly name: string,
    readonly key: string,
    public seq: number,
    first: NameVersion,
  ) {
    this.first = first;
  }

  get versions(): NameVersion[] {
    const all = this.first ? [this.first] : [];
    return this.more ? all.concat(this.more) : all;
  }

  find(hash: string, size: number): NameVersion | undefined {
    const f = this.first;
    if (f && f.hash === hash && f.size === size) return f;
    return this.more?.find((x) => x.hash === hash && x.size === size);
  }

  /** Drops a version with no sources left; true when the name has none left. */
  drop(v: NameVersion): boolean {
    if (this.first === v) this.first = this.more?.shift() ?? null;
    else if (this.more) this.more.splice(this.more.indexOf(v), 1);
    if (this.more?.length === 0) this.more = null;
    return this.first === null;
  }
}

/**
 * Distinct names in sequence order, with the search keys in a parallel array. A scan searches them
 * BLOCK at a time in one joined text per block (built on first use, rebuilt when a name joins that
 * block): one indexOf over 2048 keys costs far less than 2048 calls of includes. Removal leaves a
 * tombstone, compacted once they are half the array; a cursor is a binary search. Each add/remove of
 * a registration costs O(versions of that name).
 */
export class NameIndex {
  private readonly byName = new Map<string, Slot>();
  private slots: Slot[] = [];
  private keys: string[] = [];
  private blocks: (BlockText | undefined)[] = [];
  private dead = 0;
  private nextSeq = 1;

  /** Distinct names held. */
  get size(): number {
    return this.byName.size;
  }

  /** A registration of `name` with this version arrived. */
  add(name: string, hash: string, size: number): void {
    const slot = this.byName.get(name);
    if (!slot) {
      if (this.nextSeq > MAX_NAME_SEQ) this.renumber();
      const key = searchKey(name);
      // A name already in search form (most are) shares its string instead of holding a copy.
      const created = new Slot(name, key === name ? name : key, this.nextSeq++, { hash, size, sources: 1 });
      this.byName.set(name, created);
      this.slots.push(created);
      this.keys.push(created.key);
      this.blocks[Math.floor((this.keys.length - 1) / BLOCK)] = undefined;
      return;
    }
    const v = slot.find(hash, size);
    if (v) v.sources++;
    else if (!slot.first) slot.first = { hash, size, sources: 1 };
    else (slot.more ??= []).push({ hash, size, sources: 1 });
  }

  /** A registration of `name` with this version went (removed, or refreshed to another version). */
  remove(name: string, hash: string, size: number): void {
    const slot = this.byName.get(name);
    if (!slot) return;
    const v = slot.find(hash, size);
    if (!v || --v.sources > 0) return;
    if (!slot.drop(v)) return;
    this.byName.delete(name);
    slot.removed = true;
    this.dead++;
    if (this.dead > 1024 && this.dead * 2 > this.slots.length) this.compact();
  }

  /**
   * Names whose key contains `key`, from name sequence `cursor` on, in sequence order: at most
   * `maxRecords` of them, after looking at no more than `budget` names (so one request costs a bounded
   * time whatever the index holds). `next` is where to go on, 0 when the scan reached the end.
   */
  scan(key: string, cursor: number, maxRecords: number, budget: number): NameScan {
    const slots = this.slots;
    let lo = 0;
    let hi = slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (slots[mid].seq < cursor) lo = mid + 1;
      else hi = mid;
    }
    const records: NameRecord[] = [];
    // A key with a line break can match no name (names hold no control character).
    if (key.includes(SEPARATOR)) return { records, next: 0 };
    const end = Math.min(slots.length, lo + budget);
    let i = lo;
    while (i < end) {
      const b = Math.floor(i / BLOCK);
      const block = this.block(b);
      const base = b * BLOCK;
      const stop = Math.min(end, base + block.starts.length);
      const found = block.text.indexOf(key, block.starts[i - base]);
      const j = found < 0 ? stop : base + slotAt(block.starts, found);
      if (j >= stop) {
        i = stop;
        continue;
      }
      if (!slots[j].removed) {
        if (records.length === maxRecords) return { records, next: slots[j].seq };
        records.push(slots[j]);
      }
      i = j + 1;
    }
    return { records, next: i < slots.length ? slots[i].seq : 0 };
  }

  /** The joined keys of block `b`, built when first needed. */
  private block(b: number): BlockText {
    const cached = this.blocks[b];
    if (cached) return cached;
    const keys = this.keys.slice(b * BLOCK, (b + 1) * BLOCK);
    const starts = new Int32Array(keys.length);
    let at = 0;
    keys.forEach((k, n) => {
      starts[n] = at;
      at += k.length + SEPARATOR.length;
    });
    const built = { text: keys.join(SEPARATOR), starts };
    this.blocks[b] = built;
    return built;
  }

  clear(): void {
    this.byName.clear();
    this.slots = [];
    this.keys = [];
    this.blocks = [];
    this.dead = 0;
  }

  private compact(): void {
    this.slots = this.slots.filter((s) => !s.removed);
    this.keys = this.slots.map((s) => s.key);
    this.blocks = [];
    this.dead = 0;
  }

  /** Sequence numbers 1..n again, when the u32 cursor space runs out. */
  private renumber(): void {
    this.compact();
    this.slots.forEach((s, i) => (s.seq = i + 1));
    this.nextSeq = this.slots.length + 1;
  }
}

/** Index of the key a text position falls in: the last start at or before it. */
function slotAt(starts: Int32Array, position: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid] <= position) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
