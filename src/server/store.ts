// Where the index's registrations live: the RegistryStore contract and MemoryStore, its in-process implementation.
import { P2PError } from '../protocol/errors';
import { sourceKey } from '../protocol/address-text';
import { EntryColumns, NONE } from './entry-columns';
import { NameIndex, NameRecord, NameScan } from './name-index';
import { SeqOrder } from './seq-order';
import { ClaimsTable, HostTable } from './entry-strings';
import { EntryReader, EntryView, Sources } from './entry-view';
import { ContentSources } from './content-sources';

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

/** A content's sources, by index (0..length-1): made on demand, so a content with thousands costs nothing until read. */
export interface SourceList {
  readonly length: number;
  at(i: number): RegistryEntry;
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
  /** Every source of a content name (read it at once: a later change to the store may change it). */
  sourcesOf(contentName: string): SourceList;
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
const NO_SOURCES = { length: 0, at: (): never => { throw new P2PError('INTERNAL', 'a content with no sources has no source to read'); } } satisfies SourceList;

/**
 * Every registration in this process's memory, as columns (entry-columns.ts) rather than an object
 * each: O(1) add/get/remove, O(log n) paging. Content names are ids in a NameIndex; peers, hosts and
 * claims are interned once and referred to by id; a content's sources are its name's value (the one
 * slot) or a bucket of slots. The figures per entry are in bench/RESULTS.md, section 3.
 */
export class MemoryStore implements RegistryStore, EntryReader {
  /** The entry columns; read by EntryView. */
  readonly cols = new EntryColumns();
  private readonly order = new SeqOrder(this.cols);
  private readonly names = new NameIndex((moved) => this.cols.renameAll(moved));
  private readonly sources = new ContentSources(this.cols, this.names);
  private readonly peers = new Map<string, number>();
  private peerName: string[] = [];
  private peerOwner: (Owner | null)[] = [];
  private peerEntries: number[] = [];
  /** The peer's latest registration: its list runs back through peerNext to the first. */
  private peerHead: number[] = [];
  private freePeers: number[] = [];
  private readonly hosts = new HostTable();
  private readonly claims = new ClaimsTable();
  /**
   * Lease order, oldest refresh first, so sweeping costs only what it removes. One list per owner
   * kind: classic registrations have a lease of their own (none at all by default), and each list
   * stays in expiry order only while every entry in it has the same lease.
   */
  private readonly leases = { secret: { head: NONE, tail: NONE }, ip: { head: NONE, tail: NONE } };
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
    const peer = this.peers.get(peerName);
    return peer === undefined ? undefined : this.peerOwner[peer]!;
  }

  countOf(peerName: string): number {
    const peer = this.peers.get(peerName);
    return peer === undefined ? 0 : this.peerEntries[peer];
  }

  countFrom(source: string): number {
    return this.bySource.get(source) ?? 0;
  }

  countOfSecret(digest: string): number {
    return this.bySecret.get(digest) ?? 0;
  }

  get(peerName: string, contentName: string): RegistryEntry | undefined {
    const slot = this.find(peerName, contentName);
    return slot === NONE ? undefined : this.view(slot);
  }

  add(peerName: string, contentName: string, owner: Owner, f: EntryFields): RegistryEntry {
    if (this.find(peerName, contentName) !== NONE) throw new P2PError('INTERNAL', `store already holds ${peerName}/${contentName}`);
    const peer = this.peers.get(peerName) ?? this.newPeer(peerName, owner);
    if (this.nextSeq > MAX_SEQ) this.nextSeq = this.order.renumber();
    const cols = this.cols;
    const slot = cols.take();
    cols.peer[slot] = peer;
    cols.host[slot] = this.hosts.take(f.host);
    cols.port[slot] = f.port;
    cols.size[slot] = f.size;
    cols.setHash(slot, f.hash);
    cols.claims[slot] = f.claims === '' ? 0 : this.claims.take(f.claims);
    cols.expiresAt[slot] = f.expiresAt;
    this.order.push(slot, this.nextSeq++);
    cols.peerNext[slot] = this.peerHead[peer];
    cols.peerPrev[slot] = NONE;
    if (this.peerHead[peer] !== NONE) cols.peerPrev[this.peerHead[peer]] = slot;
    this.peerHead[peer] = slot;
    this.peerEntries[peer]++;
    const id = this.names.find(contentName);
    if (id < 0) {
      const created = this.names.add(contentName);
      cols.name[slot] = created;
      this.names.values[created] = slot;
    } else {
      cols.name[slot] = id;
      this.sources.link(id, slot);
      this.sources.joinVersion(id, slot);
    }
    this.leaseAppend(owner.kind, slot);
    bump(this.bySource, sourceKey(f.host), 1);
    if (owner.kind === 'secret') bump(this.bySecret, owner.digest, 1);
    this.count++;
    return this.view(slot);
  }

  update(entry: RegistryEntry, f: EntryFields): void {
    const slot = this.liveSlot(entry);
    const cols = this.cols;
    const host = this.hosts.text[cols.host[slot]];
    if (host !== f.host) {
      // A peer that moved takes its registration's share along; rare, so the hot refresh pays one compare.
      bump(this.bySource, sourceKey(host), -1);
      bump(this.bySource, sourceKey(f.host), 1);
      this.hosts.drop(cols.host[slot]);
      cols.host[slot] = this.hosts.take(f.host);
    }
    if (cols.size[slot] !== f.size || !cols.hashIs(slot, f.hash)) {
      const id = cols.name[slot];
      this.sources.leaveVersion(id, slot);
      cols.size[slot] = f.size;
      cols.setHash(slot, f.hash);
      this.sources.joinVersion(id, slot);
    }
    cols.port[slot] = f.port;
    const claims = cols.claims[slot];
    if (f.claims === '') {
      if (claims !== 0) this.claims.drop(claims);
      cols.claims[slot] = 0;
    } else if (claims !== 0) this.claims.set(claims, f.claims);
    else cols.claims[slot] = this.claims.take(f.claims);
    cols.expiresAt[slot] = f.expiresAt;
    const kind = this.peerOwner[cols.peer[slot]]!.kind;
    this.leaseUnlink(kind, slot);
    this.leaseAppend(kind, slot);
  }

  remove(entry: RegistryEntry): void {
    const view = entry as EntryView;
    if (!this.isCurrent(view)) return;
    view.hold();
    const cols = this.cols;
    const slot = view.slot;
    const peer = cols.peer[slot];
    const owner = this.peerOwner[peer]!;
    this.leaseUnlink(owner.kind, slot);
    bump(this.bySource, sourceKey(this.hosts.text[cols.host[slot]]), -1);
    if (owner.kind === 'secret') bump(this.bySecret, owner.digest, -1);
    this.hosts.drop(cols.host[slot]);
    if (cols.claims[slot] !== 0) this.claims.drop(cols.claims[slot]);
    this.unlinkPeer(peer, slot);
    const id = cols.name[slot];
    this.sources.leaveVersion(id, slot);
    const nameEmpty = this.sources.unlink(id, slot);
    this.order.drop(slot);
    cols.release(slot);
    this.count--;
    // Last: removing a name may compact the name ids, which renames every live slot's.
    if (nameEmpty) this.names.remove(id);
  }

  entriesOf(peerName: string): RegistryEntry[] {
    const peer = this.peers.get(peerName);
    if (peer === undefined) return [];
    const out: RegistryEntry[] = [];
    for (let s = this.peerHead[peer]; s !== NONE; s = this.cols.peerNext[s]) out.push(this.view(s));
    // The list runs newest first; registration order reads better and is what a Map of them gave.
    return out.reverse();
  }

  sourcesOf(contentName: string): SourceList {
    const id = this.names.find(contentName);
    if (id < 0) return NO_SOURCES;
    const v = this.names.values[id];
    return v >= 0 ? new Sources(this, v, null) : new Sources(this, NONE, this.sources.bucket(v));
  }

  *fromSeq(cursor: number): Iterable<RegistryEntry> {
    for (const slot of this.order.fromSeq(cursor)) yield this.view(slot);
  }

  *fromPosition(position: number): Iterable<RegistryEntry> {
    for (const slot of this.order.fromPosition(position)) yield this.view(slot);
  }

  searchNames(key: string, cursor: number, maxRecords: number, budget: number): NameScan {
    const { ids, next } = this.names.scan(key, cursor, maxRecords, budget);
    const records: NameRecord[] = ids.map((id) => ({ name: this.names.name(id), seq: this.names.seqOf(id), versions: this.sources.versionsOf(id) }));
    return { records, next };
  }

  takeExpired(now: number, limit: number): RegistryEntry[] {
    const out: RegistryEntry[] = [];
    const { secret, ip } = this.leases;
    const expiresAt = (slot: number): number => (slot === NONE ? Infinity : this.cols.expiresAt[slot]);
    while (out.length < limit) {
      // The earlier of the two heads, so entries still come out oldest first.
      const slot = expiresAt(secret.head) <= expiresAt(ip.head) ? secret.head : ip.head;
      if (slot === NONE || this.cols.expiresAt[slot] > now) break;
      const view = this.view(slot);
      this.remove(view);
      out.push(view);
    }
    return out;
  }

  clear(): void {
    this.cols.clear();
    this.order.clear();
    this.names.clear();
    this.sources.clear();
    this.peers.clear();
    this.peerName = [];
    this.peerOwner = [];
    this.peerEntries = [];
    this.peerHead = [];
    this.freePeers = [];
    this.hosts.clear();
    this.claims.clear();
    this.leases.secret = { head: NONE, tail: NONE };
    this.leases.ip = { head: NONE, tail: NONE };
    this.bySource.clear();
    this.bySecret.clear();
    this.count = 0;
  }

  /** A view of a live slot. */
  view(slot: number): EntryView {
    return new EntryView(this, slot, this.order.seqOf(slot));
  }

  seqAt(slot: number): number {
    return this.order.seqOf(slot);
  }

  peerNameAt(slot: number): string {
    return this.peerName[this.cols.peer[slot]];
  }

  contentNameAt(slot: number): string {
    return this.names.name(this.cols.name[slot]);
  }

  ownerAt(slot: number): Owner {
    return this.peerOwner[this.cols.peer[slot]]!;
  }

  hostAt(slot: number): string {
    return this.hosts.text[this.cols.host[slot]];
  }

  claimsAt(slot: number): string {
    return this.claims.text(this.cols.claims[slot]);
  }

  /** Whether a view still names the entry it was made for (not removed, its slot not reused). */
  private isCurrent(view: EntryView): boolean {
    return view instanceof EntryView && !view.removed && this.cols.isLive(view.slot) && this.order.seqOf(view.slot) === view.made;
  }

  private liveSlot(entry: RegistryEntry): number {
    const view = entry as EntryView;
    if (!this.isCurrent(view)) throw new P2PError('INTERNAL', `store entry ${view.peerName}/${view.contentName} was removed`);
    return view.slot;
  }

  /** The slot of (peer, content), or NONE: through whichever of the two is smaller, the content's sources or the peer's entries. */
  private find(peerName: string, contentName: string): number {
    const peer = this.peers.get(peerName);
    if (peer === undefined) return NONE;
    const id = this.names.find(contentName);
    if (id < 0) return NONE;
    const cols = this.cols;
    const v = this.names.values[id];
    if (v >= 0) return cols.peer[v] === peer ? v : NONE;
    const bucket = this.sources.bucket(v);
    if (!bucket.byPeer && bucket.slots.length > this.peerEntries[peer]) {
      for (let s = this.peerHead[peer]; s !== NONE; s = cols.peerNext[s]) if (cols.name[s] === id) return s;
      return NONE;
    }
    return this.sources.slotOf(bucket, peer);
  }

  private newPeer(name: string, owner: Owner): number {
    const peer = this.freePeers.pop() ?? this.peerName.length;
    this.peerName[peer] = name;
    this.peerOwner[peer] = owner;
    this.peerEntries[peer] = 0;
    this.peerHead[peer] = NONE;
    this.peers.set(name, peer);
    return peer;
  }

  private unlinkPeer(peer: number, slot: number): void {
    const cols = this.cols;
    const prev = cols.peerPrev[slot];
    const next = cols.peerNext[slot];
    if (prev !== NONE) cols.peerNext[prev] = next;
    else this.peerHead[peer] = next;
    if (next !== NONE) cols.peerPrev[next] = prev;
    if (--this.peerEntries[peer] > 0) return;
    this.peers.delete(this.peerName[peer]);
    this.peerName[peer] = '';
    this.peerOwner[peer] = null;
    this.freePeers.push(peer);
  }

  private leaseAppend(kind: Owner['kind'], slot: number): void {
    const list = this.leases[kind];
    const cols = this.cols;
    cols.leasePrev[slot] = list.tail;
    cols.leaseNext[slot] = NONE;
    if (list.tail !== NONE) cols.leaseNext[list.tail] = slot;
    else list.head = slot;
    list.tail = slot;
  }

  private leaseUnlink(kind: Owner['kind'], slot: number): void {
    const list = this.leases[kind];
    const cols = this.cols;
    const prev = cols.leasePrev[slot];
    const next = cols.leaseNext[slot];
    if (prev !== NONE) cols.leaseNext[prev] = next;
    else list.head = next;
    if (next !== NONE) cols.leasePrev[next] = prev;
    else list.tail = prev;
  }
}

/** Adds `delta` to a count, forgetting it at zero so the map holds only keys with registrations. */
function bump(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
