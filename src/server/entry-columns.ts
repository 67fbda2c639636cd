// The registry's entries as columns: one slot index per registration into typed arrays, removed slots reused through a free list.
import { P2PError } from '../protocol/errors';

/** SHA-256 bytes per slot in the hash column. */
export const HASH_BYTES = 32;
/**
 * How much the registry's arrays grow when full: a quarter, not double, since they are most of its
 * memory and a size just past a growth pays for the unused part (half again at 1.5, all again at 2).
 */
export const GROWTH = 1.25;
/** No slot: the end of a list. */
export const NONE = -1;
const FIRST_SLOTS = 1024;

/**
 * One registration is a slot: the same index in every column. Columns are replaced when they grow,
 * so read them through this object (`cols.port[slot]`), never keep one. About 86 bytes a slot, where
 * an object per entry with its boxed numbers and hash string cost ~200.
 */
export class EntryColumns {
  /** Where the slot sits in SeqOrder's arrays; NONE for a free slot. */
  orderPos = new Int32Array(FIRST_SLOTS);
  /** Peer id (MemoryStore's peer table). */
  peer = new Int32Array(FIRST_SLOTS);
  /** Content name id (NameIndex). */
  name = new Int32Array(FIRST_SLOTS);
  /** Host id (MemoryStore's host table). */
  host = new Int32Array(FIRST_SLOTS);
  port = new Uint16Array(FIRST_SLOTS);
  size = new Float64Array(FIRST_SLOTS);
  /** Clock time (ms) at which the lease ends; Infinity for none. */
  expiresAt = new Float64Array(FIRST_SLOTS);
  /** Claims id: 0 for none, else an index into MemoryStore's claims strings. */
  claims = new Int32Array(FIRST_SLOTS);
  /** Lease order, one doubly-linked list per owner kind; a free slot's leaseNext is the next free slot. */
  leasePrev = new Int32Array(FIRST_SLOTS);
  leaseNext = new Int32Array(FIRST_SLOTS);
  /** The peer's registrations, a doubly-linked list from its head. */
  peerPrev = new Int32Array(FIRST_SLOTS);
  peerNext = new Int32Array(FIRST_SLOTS);
  /** SHA-256 bytes, HASH_BYTES per slot; `hashWords` is the same memory as Int32 for comparing. */
  hash = Buffer.alloc(0);
  hashWords = new Int32Array(0);
  private freeHead = NONE;
  /** Slots ever handed out; slots at or past it are untouched. */
  private end = 0;

  constructor() {
    this.setHashes(FIRST_SLOTS);
    this.orderPos.fill(NONE);
  }

  get capacity(): number {
    return this.orderPos.length;
  }

  /** A free slot, growing the columns when none is left. */
  take(): number {
    if (this.freeHead !== NONE) {
      const slot = this.freeHead;
      this.freeHead = this.leaseNext[slot];
      return slot;
    }
    if (this.end === this.capacity) this.grow();
    return this.end++;
  }

  /** Gives a slot back; it is handed out again before any new one. */
  release(slot: number): void {
    this.orderPos[slot] = NONE;
    this.leaseNext[slot] = this.freeHead;
    this.freeHead = slot;
  }

  isLive(slot: number): boolean {
    return slot >= 0 && slot < this.end && this.orderPos[slot] !== NONE;
  }

  /** The slot's SHA-256 as 32 latin1 characters (how EntryFields carries it). */
  hashText(slot: number): string {
    return this.hash.toString('latin1', slot * HASH_BYTES, (slot + 1) * HASH_BYTES);
  }

  setHash(slot: number, hash: string): void {
    if (hash.length !== HASH_BYTES || this.hash.write(hash, slot * HASH_BYTES, HASH_BYTES, 'latin1') !== HASH_BYTES) {
      throw new P2PError('INTERNAL', `a kept hash must be ${HASH_BYTES} latin1 characters, got ${hash.length}`);
    }
  }

  /** Whether the slot's SHA-256 is `hash` (32 latin1 characters), with no string made. */
  hashIs(slot: number, hash: string): boolean {
    if (hash.length !== HASH_BYTES) return false;
    const at = slot * HASH_BYTES;
    for (let i = 0; i < HASH_BYTES; i++) if (this.hash[at + i] !== hash.charCodeAt(i)) return false;
    return true;
  }

  /** After the content names were renumbered (NameIndex compaction): old id -> new id for every live slot. */
  renameAll(moved: Int32Array): void {
    for (let slot = 0; slot < this.end; slot++) if (this.orderPos[slot] !== NONE) this.name[slot] = moved[this.name[slot]];
  }

  /** Whether two slots hold the same version: size and SHA-256. */
  sameVersion(a: number, b: number): boolean {
    if (this.size[a] !== this.size[b]) return false;
    const w = this.hashWords;
    for (let i = 0; i < HASH_BYTES / 4; i++) if (w[a * 8 + i] !== w[b * 8 + i]) return false;
    return true;
  }

  clear(): void {
    Object.assign(this, new EntryColumns());
  }

  private grow(): void {
    const size = Math.ceil(this.capacity * GROWTH);
    this.orderPos = grown(this.orderPos, size).fill(NONE, this.capacity);
    this.peer = grown(this.peer, size);
    this.name = grown(this.name, size);
    this.host = grown(this.host, size);
    this.port = grown(this.port, size);
    this.size = grown(this.size, size);
    this.expiresAt = grown(this.expiresAt, size);
    this.claims = grown(this.claims, size);
    this.leasePrev = grown(this.leasePrev, size);
    this.leaseNext = grown(this.leaseNext, size);
    this.peerPrev = grown(this.peerPrev, size);
    this.peerNext = grown(this.peerNext, size);
    this.setHashes(size);
  }

  private setHashes(slots: number): void {
    // Its own ArrayBuffer (never a slab of Node's pool), so the Int32 view covers exactly these bytes.
    const hash = Buffer.from(new ArrayBuffer(slots * HASH_BYTES));
    this.hash.copy(hash);
    this.hash = hash;
    this.hashWords = new Int32Array(hash.buffer, 0, slots * (HASH_BYTES / 4));
  }
}

type Column = Int32Array | Uint16Array | Float64Array;

function grown<T extends Column>(from: T, size: number): T {
  const to = new (from.constructor as new (n: number) => T)(size);
  to.set(from);
  return to;
}
