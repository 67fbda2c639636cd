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
  readonly versions: NameVersion[];
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

class Slot implements NameRecord {
  removed = false;
  readonly versions: NameVersion[] = [];
  constructor(
    readonly name: string,
    readonly key: string,
    public seq: number,
  ) {}
}

/**
 * Distinct names in sequence order, with the search keys in a parallel array so a scan touches only
 * strings. Removal leaves a tombstone, compacted once they are half the array; a cursor is a binary
 * search. Each add/remove of a registration costs O(versions of that name).
 */
export class NameIndex {
  private readonly byName = new Map<string, Slot>();
  private slots: Slot[] = [];
  private keys: string[] = [];
  private dead = 0;
  private nextSeq = 1;

  /** Distinct names held. */
  get size(): number {
    return this.byName.size;
  }

  /** A registration of `name` with this version arrived. */
  add(name: string, hash: string, size: number): void {
    let slot = this.byName.get(name);
    if (!slot) {
      if (this.nextSeq > MAX_NAME_SEQ) this.renumber();
      slot = new Slot(name, searchKey(name), this.nextSeq++);
      this.byName.set(name, slot);
      this.slots.push(slot);
      this.keys.push(slot.key);
    }
    const v = slot.versions.find((x) => x.hash === hash && x.size === size);
    if (v) v.sources++;
    else slot.versions.push({ hash, size, sources: 1 });
  }

  /** A registration of `name` with this version went (removed, or refreshed to another version). */
  remove(name: string, hash: string, size: number): void {
    const slot = this.byName.get(name);
    if (!slot) return;
    const i = slot.versions.findIndex((x) => x.hash === hash && x.size === size);
    if (i < 0) return;
    if (--slot.versions[i].sources > 0) return;
    slot.versions.splice(i, 1);
    if (slot.versions.length > 0) return;
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
    const { slots, keys } = this;
    let lo = 0;
    let hi = slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (slots[mid].seq < cursor) lo = mid + 1;
      else hi = mid;
    }
    const records: NameRecord[] = [];
    const end = Math.min(slots.length, lo + budget);
    let i = lo;
    for (; i < end; i++) {
      if (!keys[i].includes(key) || slots[i].removed) continue;
      if (records.length === maxRecords) break;
      records.push(slots[i]);
    }
    return { records, next: i < slots.length ? slots[i].seq : 0 };
  }

  clear(): void {
    this.byName.clear();
    this.slots = [];
    this.keys = [];
    this.dead = 0;
  }

  private compact(): void {
    this.slots = this.slots.filter((s) => !s.removed);
    this.keys = this.slots.map((s) => s.key);
    this.dead = 0;
  }

  /** Sequence numbers 1..n again, when the u32 cursor space runs out. */
  private renumber(): void {
    this.compact();
    this.slots.forEach((s, i) => (s.seq = i + 1));
    this.nextSeq = this.slots.length + 1;
  }
}
