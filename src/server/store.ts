// Where the index's registrations live: the RegistryStore contract and MemoryStore, its in-process implementation.
import { P2PError } from '../protocol/errors';
import { sourceKey } from '../protocol/address-text';
import { NameIndex, NameScan } from './name-index';

/**
 * Who owns a peer name: new-form peers by the SHA-256 of their secret, classic peers by their source IP.
 * The digest is kept as a 32-character latin1 string: a compact heap string compares in one step and,
 * unlike a small Buffer, never pins a slab of Node's shared buffer pool.
 */
export type Owner = { readonly kind: 'secret'; readonly digest: string } | { readonly kind: 'ip'; readonly ip: string };

export function sameOwner(a: Owner, b: Owner): boolean {
  return a.kind === 'secret' ? b.kind === 'secret' && a.digest === b.digest : b.kind === 'ip' && a.ip === b.ip;
}

/** The parts of a registration a refresh may change. */
export interface EntryFields {
  host: string;
  port: number;
  size: number;
  /** SHA-256 as a 32-character latin1 string: 48 bytes on the heap, against ~100 for a pooled Buffer and ~230 for an unpooled one. */
  hash: string;
  /** The source's claims (piece root, TLS pin) packed by `packClaims`: '' when none, one flat string otherwise. */
  claims: string;
  /** Clock time (ms) at which the lease ends; Infinity for a registration that stands until its T. */
  expiresAt: number;
}

export interface RegistryEntry extends Readonly<EntryFields> {
  /** Registration sequence number: the O cursor. Kept on refresh, so a refreshed entry keeps its place in the list. */
  readonly seq: number;
  readonly peerName: string;
  readonly contentName: string;
  readonly owner: Owner;
}

/**
 * The storage operations the Registry needs; the rules (names, ownership, caps, leases) live in Registry.
 * Synchronous on purpose: every call sits on the per-datagram path. A shared backend would keep a local
 * replica behind this interface and replicate writes.
 */
export interface RegistryStore {
  /** Entries held, expired-but-not-yet-swept ones included. */
  readonly size: number;
  /** Distinct peer names with a registration. */
  readonly peerCount: number;
  /** Distinct content names registered. */
  readonly contentCount: number;
  /** Owner of a peer name, or undefined when the name has no registrations. */
  ownerOf(peerName: string): Owner | undefined;
  /** Registrations held under a peer name. */
  countOf(peerName: string): number;
  /** Registrations whose host lies in this source unit (`sourceKey`: an IPv4 address or an IPv6 /64). */
  countFrom(source: string): number;
  /** Registrations under every peer name bound to this secret digest. */
  countOfSecret(digest: string): number;
  get(peerName: string, contentName: string): RegistryEntry | undefined;
  /** Adds a registration with the next sequence number; binds the peer name to `owner` when it is new. */
  add(peerName: string, contentName: string, owner: Owner, fields: EntryFields): RegistryEntry;
  /** Refresh: changes the fields and moves the entry to the back of the lease order. */
  update(entry: RegistryEntry, fields: EntryFields): void;
  /** Removes a registration; the peer name is freed with its last one. */
  remove(entry: RegistryEntry): void;
  entriesOf(peerName: string): RegistryEntry[];
  /** Every source of a content name; the array is the store's own: read it, do not keep or change it. */
  sourcesOf(contentName: string): readonly RegistryEntry[];
  /** Entries with seq >= cursor, in seq order. */
  fromSeq(cursor: number): Iterable<RegistryEntry>;
  /** Entries from the position-th one (0-based) on, in seq order. */
  fromPosition(position: number): Iterable<RegistryEntry>;
  /**
   * F: distinct content names whose search key (`searchKey` in name-index.ts) contains `key`, from name
   * cursor `cursor` on, each with its versions; at most `maxRecords`, looking at no more than `budget` names.
   */
  searchNames(key: string, cursor: number, maxRecords: number, budget: number): NameScan;
  /** Removes and returns up to `limit` entries whose lease ended at or before `now`, oldest first. */
  takeExpired(now: number, limit: number): RegistryEntry[];
  clear(): void;
}

/** Largest sequence number an O cursor (u32) can carry. */
export const MAX_SEQ = 0xffff_ffff;

class PeerRecord {
  count = 0;
  /** A peer with one registration (the common case at scale) costs no Map. */
  one: Entry | null = null;
  many: Map<string, Entry> | null = null;
  /** The last host string seen, so this peer's entries share one string instead of one per datagram. */
  host = '';
  constructor(
    readonly name: string,
    readonly owner: Owner,
  ) {}
}

class Entry implements RegistryEntry {
  /** Index in SeqOrder's array. */
  orderSlot = 0;
  /** Index in its content bucket when the bucket is an array. */
  contentSlot = 0;
  removed = false;
  leasePrev: Entry | null = null;
  leaseNext: Entry | null = null;
  constructor(
    public seq: number,
    readonly peer: PeerRecord,
    readonly contentName: string,
    public host: string,
    public port: number,
    public size: number,
    public hash: string,
    public claims: string,
    public expiresAt: number,
  ) {}
  get peerName(): string {
    return this.peer.name;
  }
  get owner(): Owner {
    return this.peer.owner;
  }
}

/**
 * Entries in sequence order, for O paging. Appends are O(1) (a new entry always has the highest seq);
 * removals leave a tombstone, compacted away once they are half the array, so paging by seq is a
 * binary search. A Fenwick tree over the slots counts live entries, so the classic O's positional
 * offsets are found in O(log n) instead of by a scan.
 */
class SeqOrder {
  private list: Entry[] = [];
  private dead = 0;
  private tree = new Int32Array(1025);

  get live(): number {
    return this.list.length - this.dead;
  }

  push(e: Entry): void {
    e.orderSlot = this.list.length;
    this.list.push(e);
    if (this.list.length >= this.tree.length) this.rebuild(this.tree.length * 2);
    else this.add(e.orderSlot, 1);
  }

  drop(e: Entry): void {
    this.add(e.orderSlot, -1);
    this.dead++;
    if (this.dead > 1024 && this.dead * 2 > this.list.length) this.compact();
  }

  /** Seq numbers 1..n again; used when the u32 cursor space runs out. Returns the next free seq. */
  renumber(): number {
    this.compact();
    this.list.forEach((e, i) => (e.seq = i + 1));
    return this.list.length + 1;
  }

  *fromSeq(cursor: number): Generator<Entry> {
    const list = this.list;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid].seq < cursor) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < list.length; i++) if (!list[i].removed) yield list[i];
  }

  *fromPosition(position: number): Generator<Entry> {
    const list = this.list;
    for (let i = this.slotOfLive(position); i < list.length; i++) if (!list[i].removed) yield list[i];
  }

  clear(): void {
    this.list = [];
    this.dead = 0;
    this.tree = new Int32Array(1025);
  }

  private compact(): void {
    this.list = this.list.filter((e) => !e.removed);
    this.list.forEach((e, i) => (e.orderSlot = i));
    this.dead = 0;
    this.rebuild(Math.max(1025, this.tree.length));
  }

  /** Fenwick tree over slots 0..size-2 (1-based inside), built in O(n). */
  private rebuild(size: number): void {
    const tree = new Int32Array(size);
    const list = this.list;
    for (let i = 1; i < size; i++) {
      if (i <= list.length && !list[i - 1].removed) tree[i] += 1;
      // Every node passes its sum up, even past the last entry, or the upper nodes would miss it.
      const parent = i + (i & -i);
      if (parent < size) tree[parent] += tree[i];
    }
    this.tree = tree;
  }

  private add(slot: number, delta: number): void {
    const tree = this.tree;
    for (let i = slot + 1; i < tree.length; i += i & -i) tree[i] += delta;
  }

  /** Slot of the k-th (0-based) live entry, or the array's length when there are not that many. */
  private slotOfLive(k: number): number {
    if (k >= this.live) return this.list.length;
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
    return pos; // 1-based position pos+1 is the answer, i.e. slot pos
  }
}

/** Every registration in this process's memory: O(1) add/get/remove, O(log n) paging. */
export class MemoryStore implements RegistryStore {
  private readonly peers = new Map<string, PeerRecord>();
  /** One entry, or an array of them (each knowing its slot) when several peers share the content. */
  private readonly byContent = new Map<string, Entry | Entry[]>();
  private readonly order = new SeqOrder();
  private readonly names = new NameIndex();
  /**
   * Lease order, oldest refresh first, so sweeping costs only what it removes. One list per owner
   * kind: classic registrations have a lease of their own (none at all by default), and each list
   * stays in expiry order only while every entry in it has the same lease.
   */
  private readonly leases = { secret: new LeaseList(), ip: new LeaseList() };
  /** Counts for the fair-share caps, kept as entries come and go so a cap check costs one lookup. */
  private readonly bySource = new Map<string, number>();
  private readonly bySecret = new Map<string, number>();
  private nextSeq = 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  get contentCount(): number {
    return this.names.size;
  }

  ownerOf(peerName: string): Owner | undefined {
    return this.peers.get(peerName)?.owner;
  }

  countOf(peerName: string): number {
    return this.peers.get(peerName)?.count ?? 0;
  }

  countFrom(source: string): number {
    return this.bySource.get(source) ?? 0;
  }

  countOfSecret(digest: string): number {
    return this.bySecret.get(digest) ?? 0;
  }

  get(peerName: string, contentName: string): Entry | undefined {
    const peer = this.peers.get(peerName);
    if (!peer) return undefined;
    if (peer.one) return peer.one.contentName === contentName ? peer.one : undefined;
    return peer.many?.get(contentName);
  }

  add(peerName: string, contentName: string, owner: Owner, f: EntryFields): Entry {
    if (this.get(peerName, contentName)) throw new P2PError('INTERNAL', `store already holds ${peerName}/${contentName}`);
    let peer = this.peers.get(peerName);
    if (!peer) {
      peer = new PeerRecord(peerName, owner);
      this.peers.set(peerName, peer);
    }
    if (this.nextSeq > MAX_SEQ) this.nextSeq = this.order.renumber();
    const e = new Entry(this.nextSeq++, peer, contentName, this.shareHost(peer, f.host), f.port, f.size, f.hash, f.claims, f.expiresAt);
    this.linkPeer(peer, e);
    this.linkContent(e);
    this.names.add(contentName, e.hash, e.size);
    this.order.push(e);
    this.leases[owner.kind].append(e);
    bump(this.bySource, sourceKey(e.host), 1);
    if (owner.kind === 'secret') bump(this.bySecret, owner.digest, 1);
    this.count++;
    return e;
  }

  update(entry: RegistryEntry, f: EntryFields): void {
    const e = entry as Entry;
    if (e.removed) throw new P2PError('INTERNAL', `store entry ${e.peerName}/${e.contentName} was removed`);
    if (e.host !== f.host) {
      // A peer that moved takes its registration's share along; rare, so the hot refresh pays one compare.
      bump(this.bySource, sourceKey(e.host), -1);
      bump(this.bySource, sourceKey(f.host), 1);
    }
    if (e.hash !== f.hash || e.size !== f.size) {
      this.names.remove(e.contentName, e.hash, e.size);
      this.names.add(e.contentName, f.hash, f.size);
    }
    e.host = this.shareHost(e.peer, f.host);
    e.port = f.port;
    e.size = f.size;
    e.hash = f.hash;
    e.claims = f.claims;
    e.expiresAt = f.expiresAt;
    this.leases[e.owner.kind].unlink(e);
    this.leases[e.owner.kind].append(e);
  }

  remove(entry: RegistryEntry): void {
    const e = entry as Entry;
    if (e.removed) return;
    e.removed = true;
    this.unlinkPeer(e);
    this.unlinkContent(e);
    this.names.remove(e.contentName, e.hash, e.size);
    this.order.drop(e);
    this.leases[e.owner.kind].unlink(e);
    bump(this.bySource, sourceKey(e.host), -1);
    const owner = e.owner;
    if (owner.kind === 'secret') bump(this.bySecret, owner.digest, -1);
    this.count--;
  }

  entriesOf(peerName: string): Entry[] {
    const peer = this.peers.get(peerName);
    if (!peer) return [];
    if (peer.one) return [peer.one];
    return peer.many ? [...peer.many.values()] : [];
  }

  sourcesOf(contentName: string): readonly Entry[] {
    const bucket = this.byContent.get(contentName);
    if (!bucket) return [];
    return Array.isArray(bucket) ? bucket : [bucket];
  }

  fromSeq(cursor: number): Iterable<Entry> {
    return this.order.fromSeq(cursor);
  }

  fromPosition(position: number): Iterable<Entry> {
    return this.order.fromPosition(position);
  }

  searchNames(key: string, cursor: number, maxRecords: number, budget: number): NameScan {
    return this.names.scan(key, cursor, maxRecords, budget);
  }

  takeExpired(now: number, limit: number): Entry[] {
    const out: Entry[] = [];
    const { secret, ip } = this.leases;
    while (out.length < limit) {
      // The earlier of the two heads, so entries still come out oldest first.
      const a = secret.head;
      const b = ip.head;
      const e = a && (!b || a.expiresAt <= b.expiresAt) ? a : b;
      if (!e || e.expiresAt > now) break;
      this.remove(e);
      out.push(e);
    }
    return out;
  }

  clear(): void {
    this.peers.clear();
    this.byContent.clear();
    this.order.clear();
    this.names.clear();
    this.leases.secret.clear();
    this.leases.ip.clear();
    this.bySource.clear();
    this.bySecret.clear();
    this.count = 0;
  }

  private shareHost(peer: PeerRecord, host: string): string {
    if (peer.host !== host) peer.host = host;
    return peer.host;
  }

  private linkPeer(peer: PeerRecord, e: Entry): void {
    if (peer.count === 0) peer.one = e;
    else {
      if (!peer.many) {
        peer.many = new Map();
        if (peer.one) peer.many.set(peer.one.contentName, peer.one);
        peer.one = null;
      }
      peer.many.set(e.contentName, e);
    }
    peer.count++;
  }

  private unlinkPeer(e: Entry): void {
    const peer = e.peer;
    if (peer.one === e) peer.one = null;
    else peer.many?.delete(e.contentName);
    peer.count--;
    if (peer.count === 0) this.peers.delete(peer.name);
    else if (peer.count === 1 && peer.many) {
      // Back to the Map-free form, so a peer that shrinks does not keep paying for one.
      peer.one = peer.many.values().next().value ?? null;
      peer.many = null;
    }
  }

  private linkContent(e: Entry): void {
    const bucket = this.byContent.get(e.contentName);
    if (!bucket) this.byContent.set(e.contentName, e);
    else if (Array.isArray(bucket)) {
      e.contentSlot = bucket.length;
      bucket.push(e);
    } else {
      bucket.contentSlot = 0;
      e.contentSlot = 1;
      this.byContent.set(e.contentName, [bucket, e]);
    }
  }

  private unlinkContent(e: Entry): void {
    const bucket = this.byContent.get(e.contentName);
    if (!bucket) return;
    if (!Array.isArray(bucket)) {
      if (bucket === e) this.byContent.delete(e.contentName);
      return;
    }
    // Swap-remove keeps removal O(1); source order within a content does not matter.
    const last = bucket.pop()!;
    if (last !== e) {
      bucket[e.contentSlot] = last;
      last.contentSlot = e.contentSlot;
    }
    if (bucket.length === 1) this.byContent.set(e.contentName, bucket[0]);
  }
}

/** Adds `delta` to a count, forgetting it at zero so the map holds only keys with registrations. */
function bump(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/** A doubly-linked list of entries in refresh order: O(1) append and unlink. */
class LeaseList {
  head: Entry | null = null;
  private tail: Entry | null = null;

  append(e: Entry): void {
    e.leasePrev = this.tail;
    e.leaseNext = null;
    if (this.tail) this.tail.leaseNext = e;
    else this.head = e;
    this.tail = e;
  }

  unlink(e: Entry): void {
    if (e.leasePrev) e.leasePrev.leaseNext = e.leaseNext;
    else if (this.head === e) this.head = e.leaseNext;
    if (e.leaseNext) e.leaseNext.leasePrev = e.leasePrev;
    else if (this.tail === e) this.tail = e.leasePrev;
    e.leasePrev = e.leaseNext = null;
  }

  clear(): void {
    this.head = this.tail = null;
  }
}
