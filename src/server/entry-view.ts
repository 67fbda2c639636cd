// How the store hands out an entry kept as a slot of columns: a small view object made on demand, and a content's sources as a list of them.
import type { EntryColumns } from './entry-columns';
import type { Bucket } from './content-sources';
import type { Owner, RegistryEntry, SourceList } from './store';

/** What a view reads its fields through (MemoryStore). */
export interface EntryReader {
  readonly cols: EntryColumns;
  view(slot: number): RegistryEntry;
  seqAt(slot: number): number;
  peerNameAt(slot: number): string;
  contentNameAt(slot: number): string;
  ownerAt(slot: number): Owner;
  hostAt(slot: number): string;
  claimsAt(slot: number): string;
}

/** A registration as the store hands it out: a view of its slot, made on demand. */
export class EntryView implements RegistryEntry {
  /** What the entry held when it was removed, so whoever still has the view (a sweep's result) can read it. */
  private held: RegistryEntry | null = null;
  private hashRead: string | null = null;
  constructor(
    private readonly store: EntryReader,
    readonly slot: number,
    /** The seq when the view was made: a slot reused by a later entry has another. */
    readonly made: number,
  ) {}
  get seq(): number {
    return this.held ? this.held.seq : this.store.seqAt(this.slot);
  }
  get peerName(): string {
    return this.held ? this.held.peerName : this.store.peerNameAt(this.slot);
  }
  get contentName(): string {
    return this.held ? this.held.contentName : this.store.contentNameAt(this.slot);
  }
  get owner(): Owner {
    return this.held ? this.held.owner : this.store.ownerAt(this.slot);
  }
  get host(): string {
    return this.held ? this.held.host : this.store.hostAt(this.slot);
  }
  get port(): number {
    return this.held ? this.held.port : this.store.cols.port[this.slot];
  }
  get size(): number {
    return this.held ? this.held.size : this.store.cols.size[this.slot];
  }
  get hash(): string {
    if (this.held) return this.held.hash;
    // A reply reads it twice (sizing, then writing): comparing 32 bytes costs less than making the string again.
    const read = this.hashRead;
    if (read !== null && this.store.cols.hashIs(this.slot, read)) return read;
    return (this.hashRead = this.store.cols.hashText(this.slot));
  }
  get claims(): string {
    return this.held ? this.held.claims : this.store.claimsAt(this.slot);
  }
  get expiresAt(): number {
    return this.held ? this.held.expiresAt : this.store.cols.expiresAt[this.slot];
  }
  get removed(): boolean {
    return this.held !== null;
  }
  /** Copies the fields out of the slot before it is given back. */
  hold(): void {
    const { seq, peerName, contentName, owner, host, port, size, hash, claims, expiresAt } = this;
    this.held = { seq, peerName, contentName, owner, host, port, size, hash, claims, expiresAt };
  }
}

/** A content's sources as views: `at` makes one when asked. */
export class Sources implements SourceList {
  readonly length: number;
  constructor(
    private readonly store: EntryReader,
    private readonly one: number,
    private readonly bucket: Bucket | null,
  ) {
    this.length = bucket ? bucket.slots.length : one < 0 ? 0 : 1;
  }
  at(i: number): RegistryEntry {
    return this.store.view(this.bucket ? this.bucket.slots[i] : this.one);
  }
}

