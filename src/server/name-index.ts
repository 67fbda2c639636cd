// The index's distinct content names, interned to ids in registration order: an open-addressing hash table over one byte arena that F also searches.
import { randomBytes } from 'node:crypto';
import { P2PError } from '../protocol/errors';
import { GROWTH } from './entry-columns';

/** One version of a content as F reports it: sources registered with this (SHA-256, size). */
export interface NameVersion {
  /** SHA-256 as 32 latin1 characters, as the store keeps it. */
  hash: string;
  size: number;
  sources: number;
}

/** One distinct content name with its versions, as F reports it (built for the hits only). */
export interface NameRecord {
  readonly name: string;
  /** Name sequence number: the F cursor. A name that disappears and comes back gets a new one. */
  readonly seq: number;
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
/** After each key in the arena; no name holds a control character, so no match spans two names. */
const SEPARATOR = 0x0a;
/** In `meta`: the name was removed (its id stays, holding its place in sequence order, until a compaction). */
const REMOVED = 0x8000;
/** In `meta`: the name is not its own search key; the name itself is kept apart in `differing`. */
const DIFFERS = 0x4000;
const LENGTH = 0x3fff;
const FIRST_IDS = 1024;
const HASH_SEED = randomBytes(4).readInt32LE(0);

/**
 * Distinct content names, each an id. Ids are handed out in registration order and never reused until
 * a compaction (once removed ones are half of them), so id order is F's sequence order and a cursor is a
 * binary search. Per name: the search key's UTF-8 and a separator in one arena (also the text F runs
 * `indexOf` over, so no per-name string or joined-key cache is kept), its offset, length and flags, its
 * sequence number, one Int32 value for the store (where its sources are), and two Int32 in the hash
 * table (hash and id, at most half full). About 55 bytes for a 22-byte name, where a Map and its key
 * string cost ~70 before any record.
 */
export class NameIndex {
  private table = new Int32Array(4 * FIRST_IDS);
  private mask = 2 * FIRST_IDS - 1;
  private arena = Buffer.allocUnsafeSlow(16 * FIRST_IDS);
  private arenaEnd = 0;
  private start = new Int32Array(FIRST_IDS);
  private meta = new Uint16Array(FIRST_IDS);
  private seqs = new Uint32Array(FIRST_IDS);
  /** The store's own per-name value (MemoryStore: a source's slot, or a bucket of sources). */
  values = new Int32Array(FIRST_IDS);
  /** Names whose search key differs from the name (upper case, not NFC): rare, so a Map. */
  private differing = new Map<number, string>();
  private end = 0;
  private live = 0;
  private nextSeq = 1;

  /** Called with old id -> new id (-1: gone) after a compaction renumbered the ids. */
  constructor(private readonly onRenumber: (moved: Int32Array) => void = () => undefined) {}

  /** Distinct names held. */
  get size(): number {
    return this.live;
  }

  /** Id of a held name, or -1. */
  find(name: string): number {
    const h = hashOf(name);
    const table = this.table;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const id = table[2 * i + 1] - 1;
      if (id < 0) return -1;
      if (table[2 * i] === h && this.holds(id, name)) return id;
    }
  }

  /** Adds a name not held yet; returns its id. */
  add(name: string): number {
    if (this.nextSeq > MAX_NAME_SEQ) this.compact(true);
    if (this.end === this.start.length) this.grow();
    const key = searchKey(name);
    const bytes = Buffer.from(key, 'utf8');
    if (bytes.length > LENGTH) throw new P2PError('INTERNAL', `a name of ${bytes.length} bytes is longer than the index keeps`);
    const id = this.end++;
    this.start[id] = this.append(bytes);
    // A name kept as its search key must come back as itself from the arena; any other is kept apart.
    const same = key === name && bytes.toString('utf8') === name;
    this.meta[id] = bytes.length | (same ? 0 : DIFFERS);
    if (!same) this.differing.set(id, name);
    this.seqs[id] = this.nextSeq++;
    this.values[id] = 0;
    this.live++;
    if (this.live * 2 > this.mask) this.rehash(this.table.length);
    this.insert(hashOf(name), id);
    return id;
  }

  /** Removes a held name; its id may be renumbered by a later compaction (onRenumber says how). */
  remove(id: number): void {
    const name = this.name(id);
    const h = hashOf(name);
    const table = this.table;
    const mask = this.mask;
    let i = h & mask;
    while (table[2 * i + 1] - 1 !== id) i = (i + 1) & mask;
    // Backward-shift deletion: later keys of the same run move up, so a lookup never needs tombstones.
    for (let j = (i + 1) & mask; table[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = table[2 * j] & mask;
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        table[2 * i] = table[2 * j];
        table[2 * i + 1] = table[2 * j + 1];
        i = j;
      }
    }
    table[2 * i] = 0;
    table[2 * i + 1] = 0;
    this.meta[id] |= REMOVED;
    this.differing.delete(id);
    this.live--;
    const dead = this.end - this.live;
    if (dead > 1024 && dead * 2 > this.end) this.compact(false);
  }

  /** The name of a held id, as it was registered. */
  name(id: number): string {
    if (this.meta[id] & DIFFERS) return this.differing.get(id)!;
    const s = this.start[id];
    return this.arena.toString('utf8', s, s + (this.meta[id] & LENGTH));
  }

  seqOf(id: number): number {
    return this.seqs[id];
  }

  /**
   * Ids of names whose key contains `key`, from name sequence `cursor` on, in sequence order: at most
   * `maxRecords` of them, after looking at no more than `budget` names (so one request costs a bounded
   * time whatever the index holds). `next` is where to go on, 0 when the scan reached the end.
   */
  scan(key: string, cursor: number, maxRecords: number, budget: number): { ids: number[]; next: number } {
    const ids: number[] = [];
    // A key with a line break can match no name (names hold no control character).
    if (key.includes('\n')) return { ids, next: 0 };
    const first = this.firstAtSeq(cursor);
    const last = Math.min(this.end, first + budget);
    if (first >= last) return { ids, next: 0 };
    const needle = Buffer.from(key, 'utf8');
    const base = this.start[first];
    // A view of the budget's names alone, so indexOf never runs past them.
    const text = this.arena.subarray(base, last < this.end ? this.start[last] : this.arenaEnd);
    let from = 0;
    while (from < text.length) {
      const found = text.indexOf(needle, from);
      if (found < 0) break;
      const id = this.idAt(base + found, first, last);
      if (!(this.meta[id] & REMOVED)) {
        if (ids.length === maxRecords) return { ids, next: this.seqs[id] };
        ids.push(id);
      }
      from = this.start[id] + (this.meta[id] & LENGTH) + 1 - base;
    }
    return { ids, next: last < this.end ? this.seqs[last] : 0 };
  }

  clear(): void {
    this.table = new Int32Array(4 * FIRST_IDS);
    this.mask = 2 * FIRST_IDS - 1;
    this.arena = Buffer.allocUnsafeSlow(16 * FIRST_IDS);
    this.arenaEnd = 0;
    this.start = new Int32Array(FIRST_IDS);
    this.meta = new Uint16Array(FIRST_IDS);
    this.seqs = new Uint32Array(FIRST_IDS);
    this.values = new Int32Array(FIRST_IDS);
    this.differing.clear();
    this.end = this.live = 0;
  }

  /** Whether held id `id` is `name`: most names are ASCII, compared byte by byte with no string made. */
  private holds(id: number, name: string): boolean {
    const meta = this.meta[id];
    if (meta & DIFFERS) return this.differing.get(id) === name;
    const n = meta & LENGTH;
    // UTF-8 is never shorter than the UTF-16 it encodes.
    if (name.length > n) return false;
    const s = this.start[id];
    const arena = this.arena;
    if (name.length === n) {
      let i = 0;
      for (; i < n; i++) {
        const c = name.charCodeAt(i);
        // Only ASCII is its own UTF-8 byte: "Ã©" has the code units of the bytes of "é", and is another name.
        if (c >= 0x80) break;
        if (c !== arena[s + i]) return false;
      }
      if (i === n) return true;
    }
    return arena.toString('utf8', s, s + n) === name;
  }

  /** First id whose sequence number is >= seq (removed ids keep theirs, so the array stays sorted). */
  private firstAtSeq(seq: number): number {
    let lo = 0;
    let hi = this.end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The id whose key holds arena offset `at`: the last start at or before it. */
  private idAt(at: number, lo: number, hi: number): number {
    hi--;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.start[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private append(bytes: Buffer): number {
    const need = this.arenaEnd + bytes.length + 1;
    if (need > this.arena.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, Math.ceil(this.arena.length * GROWTH)));
      this.arena.copy(grown, 0, 0, this.arenaEnd);
      this.arena = grown;
    }
    const at = this.arenaEnd;
    bytes.copy(this.arena, at);
    this.arena[at + bytes.length] = SEPARATOR;
    this.arenaEnd = need;
    return at;
  }

  private insert(h: number, id: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = h & mask;
    while (table[2 * i + 1] !== 0) i = (i + 1) & mask;
    table[2 * i] = h;
    table[2 * i + 1] = id + 1;
  }

  /** A table of `length` Int32 (hash, id+1 pairs) holding the same names. */
  private rehash(length: number, moved?: Int32Array): void {
    const old = this.table;
    this.table = new Int32Array(Math.max(length, 4 * FIRST_IDS));
    this.mask = this.table.length / 2 - 1;
    while (this.live * 2 > this.mask) {
      this.table = new Int32Array(this.table.length * 2);
      this.mask = this.table.length / 2 - 1;
    }
    for (let i = 0; i < old.length; i += 2) {
      const id = old[i + 1] - 1;
      if (id >= 0) this.insert(old[i], moved ? moved[id] : id);
    }
  }

  private grow(): void {
    const size = Math.ceil(this.start.length * GROWTH);
    this.start = copyInto(new Int32Array(size), this.start);
    this.meta = copyInto(new Uint16Array(size), this.meta);
    this.seqs = copyInto(new Uint32Array(size), this.seqs);
    this.values = copyInto(new Int32Array(size), this.values);
  }

  /** Drops removed ids (and their arena bytes); with `renumber`, sequence numbers start again at 1. */
  private compact(renumber: boolean): void {
    const moved = new Int32Array(this.end).fill(-1);
    const arena = Buffer.allocUnsafeSlow(Math.max(16 * FIRST_IDS, Math.ceil(this.arenaEnd * 1.25)));
    const differing = new Map<number, string>();
    let at = 0;
    let n = 0;
    for (let id = 0; id < this.end; id++) {
      if (this.meta[id] & REMOVED) continue;
      const len = this.meta[id] & LENGTH;
      this.arena.copy(arena, at, this.start[id], this.start[id] + len + 1);
      this.start[n] = at;
      this.meta[n] = this.meta[id];
      this.seqs[n] = renumber ? n + 1 : this.seqs[id];
      this.values[n] = this.values[id];
      const name = this.differing.get(id);
      if (name !== undefined) differing.set(n, name);
      moved[id] = n;
      at += len + 1;
      n++;
    }
    this.arena = arena;
    this.arenaEnd = at;
    this.differing = differing;
    this.end = n;
    if (renumber) this.nextSeq = n + 1;
    this.rehash(this.table.length, moved);
    this.onRenumber(moved);
  }
}

/**
 * FNV-1a over the UTF-16 code units from a per-process random basis, then murmur3's finalizer: names
 * arrive from strangers, and an unseeded hash would let them pick names that pile into one run of the
 * table (V8's Map seeds its string hash for the same reason).
 */
function hashOf(s: string): number {
  let h = HASH_SEED;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function copyInto<T extends Int32Array | Uint16Array | Uint32Array>(to: T, from: T): T {
  to.set(from);
  return to;
}
