// A content's sources and versions: one source is its name's value, several are a bucket of slots, with their versions counted only when they differ.
import { EntryColumns } from './entry-columns';
import { NameIndex, NameVersion } from './name-index';

/** A content with more sources than this also keeps them by peer id, so one peer's entry is found in O(1). */
const BY_PEER_FROM = 32;

/** One version of a content that has several: a slot holding it (its hash and size are read there) and how many do. */
interface Version {
  rep: number;
  sources: number;
}

/** The sources of a content with more than one; a content with one keeps that slot as its name's value instead. */
export interface Bucket {
  slots: number[];
  /** Peer id -> place in `slots`, once the bucket has held more than BY_PEER_FROM sources. */
  byPeer: Map<number, number> | null;
  /** Null while every source has the same version, as most do: then there is nothing to count apart. */
  versions: Version[] | null;
}

/**
 * The sources of each content name, by name id. A name's value in the NameIndex is the slot of its
 * only source (>= 0) or ~index of its bucket; most contents have one source, and so cost no bucket.
 */
export class ContentSources {
  private buckets: (Bucket | null)[] = [];
  private freeBuckets: number[] = [];

  constructor(
    private readonly cols: EntryColumns,
    private readonly names: NameIndex,
  ) {}

  /** The bucket a name's negative value stands for. */
  bucket(value: number): Bucket {
    return this.buckets[~value]!;
  }

  link(id: number, slot: number): void {
    const cols = this.cols;
    const v = this.names.values[id];
    let bucket: Bucket;
    if (v >= 0) {
      bucket = { slots: [v, slot], byPeer: null, versions: null };
      const at = this.freeBuckets.pop() ?? this.buckets.length;
      this.buckets[at] = bucket;
      this.names.values[id] = ~at;
    } else {
      bucket = this.bucket(v);
      bucket.slots.push(slot);
    }
    if (bucket.byPeer) bucket.byPeer.set(cols.peer[slot], bucket.slots.length - 1);
    else if (bucket.slots.length > BY_PEER_FROM) bucket.byPeer = new Map(bucket.slots.map((s, i) => [cols.peer[s], i]));
  }

  /** The slot of `peer`'s source in a bucket, or -1. */
  slotOf(bucket: Bucket, peer: number): number {
    if (bucket.byPeer) {
      const at = bucket.byPeer.get(peer);
      return at === undefined ? -1 : bucket.slots[at];
    }
    for (const s of bucket.slots) if (this.cols.peer[s] === peer) return s;
    return -1;
  }

  /** Takes a slot out of its content's sources; true when the content has none left. */
  unlink(id: number, slot: number): boolean {
    const v = this.names.values[id];
    if (v >= 0) return true;
    const cols = this.cols;
    const bucket = this.bucket(v);
    // A large bucket knows each source's place; a small one (BY_PEER_FROM at most) is searched, which costs
    // less than a column giving every entry its place. Swap-remove: order within a content does not matter.
    const at = bucket.byPeer ? bucket.byPeer.get(cols.peer[slot])! : bucket.slots.indexOf(slot);
    const last = bucket.slots.pop()!;
    bucket.byPeer?.delete(cols.peer[slot]);
    if (last !== slot) {
      bucket.slots[at] = last;
      bucket.byPeer?.set(cols.peer[last], at);
    }
    if (bucket.slots.length === 1) {
      // Back to the bucket-free form (one source has one version), so a content that shrinks stops paying for one.
      this.names.values[id] = bucket.slots[0];
      this.buckets[~v] = null;
      this.freeBuckets.push(~v);
    }
    return false;
  }

  /** Counts a slot (already among the content's sources, its size and hash written) in its version. */
  joinVersion(id: number, slot: number): void {
    const v = this.names.values[id];
    if (v >= 0) return;
    const cols = this.cols;
    const bucket = this.bucket(v);
    if (!bucket.versions) {
      const other = bucket.slots[0] !== slot ? bucket.slots[0] : bucket.slots[1];
      if (cols.sameVersion(other, slot)) return;
      bucket.versions = [{ rep: other, sources: bucket.slots.length - 1 }, { rep: slot, sources: 1 }];
      return;
    }
    const version = bucket.versions.find((x) => cols.sameVersion(x.rep, slot));
    if (version) version.sources++;
    else bucket.versions.push({ rep: slot, sources: 1 });
  }

  /** Uncounts a slot (still among the sources, its old size and hash still there) from its version. */
  leaveVersion(id: number, slot: number): void {
    const v = this.names.values[id];
    if (v >= 0) return;
    const cols = this.cols;
    const bucket = this.bucket(v);
    const versions = bucket.versions;
    if (!versions) return;
    const i = versions.findIndex((x) => cols.sameVersion(x.rep, slot));
    const version = versions[i];
    if (--version.sources === 0) versions.splice(i, 1);
    else if (version.rep === slot) version.rep = bucket.slots.find((s) => s !== slot && cols.sameVersion(s, slot))!;
    if (versions.length === 1) bucket.versions = null;
  }

  versionsOf(id: number): NameVersion[] {
    const cols = this.cols;
    const v = this.names.values[id];
    const one = (slot: number, sources: number): NameVersion => ({ hash: cols.hashText(slot), size: cols.size[slot], sources });
    if (v >= 0) return [one(v, 1)];
    const bucket = this.bucket(v);
    return bucket.versions ? bucket.versions.map((x) => one(x.rep, x.sources)) : [one(bucket.slots[0], bucket.slots.length)];
  }

  clear(): void {
    this.buckets = [];
    this.freeBuckets = [];
  }
}
