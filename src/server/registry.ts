// The index's rules over its store: names, ownership, refresh, caps, leases, search and paged listing.
import { randomInt } from 'node:crypto';
import { isWholeNumberIn } from '../common/numbers';
import { P2PError } from '../protocol/errors';
import {
  CLASSIC_NAME_BYTES, ClassicOnlineReply, HASH_BYTES, MAX_DATAGRAM, MAX_HIT_VERSIONS, NameHit, OnlineEntry, Source,
} from '../protocol/messages';
import { validateContentName, validatePeerName } from '../protocol/names';
import { formatHostPort } from '../protocol/address-text';
import { CLASSIC_SHA256_HEX, classicOnlinePage } from '../protocol/classic';
import { HITS_OVERHEAD, PAGE_OVERHEAD, SOURCES_OVERHEAD, hitBytes } from '../protocol/udp';
import { packedEntryBytes, packedSourceBytes } from '../protocol/packed-replies';
import { NameRecord, searchKey } from './name-index';
import { sourceKey } from '../protocol/address-text';
import { SourceClaims, packClaims, unpackClaims } from '../protocol/claims';
import { EntryFields, MemoryStore, Owner, RegistryEntry, RegistryStore, SourceList, sameOwner } from './store';
import { OwnerBook } from './owner-book';
import { SharedStore, SharedVerdict } from './shared-store';

export interface RegistryOptions {
  /** Lease of a registration after its last R. Default 120. */
  ttlSeconds?: number;
  /**
   * Lifetime of a classic registration. Default none: it stands until its T, as in the original
   * report, since a classic client cannot refresh a lease.
   */
  classicTtlSeconds?: number;
  /** Registrations in total. Default 1 000 000. */
  maxEntries?: number;
  /** Registrations under one peer name. Default 10 000. */
  maxPerPeer?: number;
  /** Registrations whose address is one IPv4 address or one IPv6 /64, whatever their names. Default 2 000. */
  maxPerAddress?: number;
  /** Registrations under every peer name of one secret (new form only). Default 1 000. */
  maxPerSecret?: number;
  /** Clock in ms; injectable so tests move time instead of sleeping. */
  now?: () => number;
  /** Keeps a name's owner past its last registration (and across restarts when on disk). Default none. */
  owners?: OwnerBook;
  /** A store several servers share: R and T then go through `registerShared`/`deregisterShared`. */
  shared?: SharedStore;
}

/**
 * A new-form request's ownership, checked against whoever holds the peer name (undefined: nobody):
 * returns the owner it proves, or throws (new-form.ts). The registry keeps its rules; the form knows the proof.
 */
export interface OwnerProof {
  prove(bound: Owner | undefined): Owner;
}

export interface Registration {
  peerName: string;
  contentName: string;
  owner: Owner | OwnerProof;
  host: string;
  port: number;
  size: number;
  /** Absent for classic registrations, which carry no hash. */
  sha256?: Buffer;
  /** What the source claims beyond size and hash (new form only); kept as the codec re-encodes it. */
  claims?: SourceClaims;
}

/** What a sweep removed, for logs and the server's 'expired' event. */
export interface ExpiredEntry {
  peerName: string;
  contentName: string;
  host: string;
  port: number;
}

/** Classic registrations carry no hash: every one shares the classic stand-in, kept as bytes in latin1 text like every hash here. */
const ZERO_HASH = Buffer.from(CLASSIC_SHA256_HEX, 'hex').toString('latin1');
/** Room in a classic S reply for "host:port". */
const CLASSIC_ADDRESS_BYTES = 60;
/** The largest source an S reply can carry: name, IPv6 address, size, hash and both claims (1+255+19+8+32+1+2*34). */
const MAX_SOURCE_BYTES = 384;
/** Random probes a search makes into a content's sources before it settles for what it has. */
const SAMPLE_PROBES = 256;
/** Kept owners a sweep looks at; a million names are walked in a few minutes of one-second sweeps. */
const OWNER_SWEEP_BATCH = 10_000;
/** A classic O page holds at most 25 lines ("a\tb\n" is 4 of its 100 bytes); one more to see where it ends. */
const CLASSIC_PAGE_WINDOW = 32;

/**
 * Distinct names one F request looks at, at most: about 1 ms here (bench/RESULTS.md, section 5), so no query,
 * however rare its match, holds the server longer; the reply's cursor says where to go on.
 */
export const SEARCH_SCAN_BUDGET = 131_072;
/** An F page holds at most this many hits (the smallest hit is 48 bytes of the 1188). */
const MAX_PAGE_HITS = 25;

export function ownerOfSecret(secretDigest: Buffer): Owner {
  return { kind: 'secret', digest: secretDigest.toString('latin1') };
}

export function ownerOfIp(ip: string): Owner {
  return { kind: 'ip', ip };
}

export class Registry {
  readonly ttlSeconds: number;
  readonly classicTtlSeconds?: number;
  readonly maxEntries: number;
  readonly maxPerPeer: number;
  readonly maxPerAddress: number;
  readonly maxPerSecret: number;
  private readonly now: () => number;
  private readonly owners?: OwnerBook;
  readonly shared?: SharedStore;

  constructor(
    readonly store: RegistryStore = new MemoryStore(),
    opts: RegistryOptions = {},
  ) {
    this.ttlSeconds = opts.ttlSeconds ?? 120;
    this.classicTtlSeconds = opts.classicTtlSeconds;
    this.maxEntries = opts.maxEntries ?? 1_000_000;
    this.maxPerPeer = opts.maxPerPeer ?? 10_000;
    this.maxPerAddress = opts.maxPerAddress ?? 2_000;
    this.maxPerSecret = opts.maxPerSecret ?? 1_000;
    this.now = opts.now ?? Date.now;
    this.owners = opts.owners;
    this.shared = opts.shared;
    checkWhole('ttlSeconds', this.ttlSeconds, 1, 0xffff_ffff);
    if (this.classicTtlSeconds !== undefined) checkWhole('classicTtlSeconds', this.classicTtlSeconds, 1, 0xffff_ffff);
    checkWhole('maxEntries', this.maxEntries, 1, Number.MAX_SAFE_INTEGER);
    checkWhole('maxPerPeer', this.maxPerPeer, 1, Number.MAX_SAFE_INTEGER);
    checkWhole('maxPerAddress', this.maxPerAddress, 1, Number.MAX_SAFE_INTEGER);
    checkWhole('maxPerSecret', this.maxPerSecret, 1, Number.MAX_SAFE_INTEGER);
  }

  /** Entries held, including any whose lease ended since the last sweep. */
  get size(): number {
    return this.store.size;
  }

  /**
   * R: adds a registration or refreshes the same peer's one (docs/protocol.md, rules in order:
   * names, ownership, refresh, caps: per peer name, per secret, per address, total). A classic R (owner by IP) never refreshes: as in the original
   * report, a pair already listed is refused whoever sends it. Throws P2PError.
   */
  register(r: Registration): { refreshed: boolean; entry: RegistryEntry } {
    const existing = this.store.get(r.peerName, r.contentName);
    // Both names of a held entry passed the name rules when it was added: a refresh checks only its port.
    if (existing) checkPort(r.port);
    else checkRegistration(r);
    const classic = !('prove' in r.owner) && r.owner.kind === 'ip';
    // No detail: the code's words are the report's own, and a classic E has room for them alone.
    if (classic && existing && existing.expiresAt > this.now()) throw new P2PError('ALREADY_LISTED');
    const owner = this.provenOwner(r);
    const lease = classic ? this.classicTtlSeconds : this.ttlSeconds;
    const fields = this.entryFields(r, lease);
    if (existing) {
      this.store.update(existing, fields);
      this.owners?.touch(r.peerName, owner, this.now());
      return { refreshed: true, entry: existing };
    }
    const held = this.store.countOf(r.peerName);
    if (held >= this.maxPerPeer) throw this.refusal('PEER_LIMIT', r, held);
    // The fair-share caps: names and secrets cost nothing to make up, an address does.
    if (owner.kind === 'secret') {
      const bySecret = this.store.countOfSecret(owner.digest);
      if (bySecret >= this.maxPerSecret) throw this.refusal('SECRET_LIMIT', r, bySecret);
    }
    const source = sourceKey(r.host);
    const fromSource = this.store.countFrom(source);
    if (fromSource >= this.maxPerAddress) throw this.refusal('ADDRESS_LIMIT', r, fromSource);
    if (this.store.size >= this.maxEntries) throw this.refusal('INDEX_FULL', r, this.store.size);
    const entry = this.store.add(r.peerName, r.contentName, owner, fields);
    this.owners?.touch(r.peerName, owner, this.now());
    return { refreshed: false, entry };
  }

  /**
   * R against a shared store: the same checks and rules, carried out by the store in one atomic
   * write so servers sharing it cannot race past a cap or an owner. Throws P2PError, and
   * STORE_UNAVAILABLE when the store cannot be reached.
   */
  async registerShared(r: Registration): Promise<{ refreshed: boolean }> {
    const shared = this.sharedStore();
    checkRegistration(r);
    // Proved against the owner this server knows; the store's script then checks it against the one all servers share.
    const owner = this.provenOwner(r);
    if (owner.kind !== 'secret') throw new P2PError('INTERNAL', 'a shared store takes new-form registrations only');
    const fields = this.entryFields(r, this.ttlSeconds);
    const caps = { maxPerPeer: this.maxPerPeer, maxPerSecret: this.maxPerSecret, maxPerAddress: this.maxPerAddress, maxEntries: this.maxEntries };
    const verdict = await shared.register({ peerName: r.peerName, contentName: r.contentName, owner, fields, source: sourceKey(r.host) }, caps, this.now());
    if (verdict.code !== 'OK') throw this.refusal(verdict.code, r, verdict.count);
    return { refreshed: verdict.refreshed };
  }

  /** T against a shared store (see registerShared). */
  async deregisterShared(peerName: string, contentName: string, claimed: Owner | OwnerProof): Promise<number> {
    const shared = this.sharedStore();
    validatePeerName(peerName);
    if (contentName !== '') validateContentName(contentName);
    const owner = provenOwner(claimed, this.store.ownerOf(peerName) ?? this.owners?.ownerOf(peerName, this.now()));
    const verdict = await shared.deregister(peerName, contentName, owner);
    if (verdict.code !== 'OK') throw this.refusal(verdict.code, { peerName, contentName, host: '' }, verdict.count);
    return verdict.removed;
  }

  /** What an R stores, whichever store keeps it; no lease (undefined) stands until its T. */
  private entryFields(r: Registration, leaseSeconds: number | undefined): EntryFields {
    return {
      host: r.host,
      port: r.port,
      size: r.size,
      hash: r.sha256 ? hashText(r.sha256) : ZERO_HASH,
      claims: packClaims(r.claims),
      expiresAt: leaseSeconds === undefined ? Infinity : this.now() + leaseSeconds * 1000,
    };
  }

  /** The owner an R proves, against whoever holds its name here (a name without registrations may still be kept in the OwnerBook). */
  private provenOwner(r: Registration): Owner {
    const bound = this.store.ownerOf(r.peerName) ?? this.owners?.ownerOf(r.peerName, this.now());
    const owner = provenOwner(r.owner, bound);
    if (bound && !sameOwner(bound, owner)) throw nameTaken(r.peerName);
    return owner;
  }

  private sharedStore(): SharedStore {
    if (!this.shared) throw new P2PError('INTERNAL', 'this registry has no shared store');
    return this.shared;
  }

  /** The one wording of each refusal, whichever store counted. */
  private refusal(code: Exclude<SharedVerdict['code'], 'OK'>, r: Pick<Registration, 'peerName' | 'contentName' | 'host'>, count: number): P2PError {
    switch (code) {
      case 'NAME_TAKEN':
        return nameTaken(r.peerName);
      case 'NOT_REGISTERED':
        return notRegistered(r.peerName, r.contentName);
      case 'PEER_LIMIT':
        return new P2PError('PEER_LIMIT', `peer "${r.peerName}" has ${count} registrations; the limit is ${this.maxPerPeer}`);
      case 'SECRET_LIMIT':
        return new P2PError('SECRET_LIMIT', `this secret holds ${count} registrations under all its peer names; the limit is ${this.maxPerSecret}`);
      case 'ADDRESS_LIMIT': {
        const source = sourceKey(r.host);
        const where = source === r.host ? source : `${source}::/64`;
        return new P2PError('ADDRESS_LIMIT', `${where} holds ${count} registrations; the limit is ${this.maxPerAddress}`);
      }
      case 'INDEX_FULL':
        return new P2PError('INDEX_FULL', `the index holds ${count} registrations; the limit is ${this.maxEntries}`);
    }
  }

  /**
   * T: removes one registration, or every one of the peer when contentName is ''. Returns how many.
   * A classic owner that is not the registering IP gets NOT_OWNER; a secret that does not match, NAME_TAKEN.
   */
  deregister(peerName: string, contentName: string, claimed: Owner | OwnerProof): number {
    validatePeerName(peerName);
    if (contentName !== '') validateContentName(contentName);
    const bound = this.store.ownerOf(peerName);
    if (!bound) throw notRegistered(peerName, contentName);
    const owner = provenOwner(claimed, bound);
    if (!sameOwner(bound, owner)) {
      if (owner.kind === 'ip') throw new P2PError('NOT_OWNER', `peer "${peerName}" was not registered from ${owner.ip}`);
      throw nameTaken(peerName);
    }
    if (contentName === '') {
      const all = this.store.entriesOf(peerName);
      for (const e of all) this.store.remove(e);
      return all.length;
    }
    const entry = this.store.get(peerName, contentName);
    if (!entry) throw notRegistered(peerName, contentName);
    this.store.remove(entry);
    return 1;
  }

  /**
   * S: live sources of a content that fit in `room` bytes: all of them when they fit, otherwise a
   * random selection. Throws NOT_FOUND when there is none.
   */
  search(contentName: string, room = MAX_DATAGRAM - SOURCES_OVERHEAD): Source[] {
    return this.searchEntries(contentName, room).map(toSource);
  }

  /** S as the store keeps its entries: what `search` returns, before any is turned into a Source (the server writes these to the wire). */
  searchEntries(contentName: string, room = MAX_DATAGRAM - SOURCES_OVERHEAD): RegistryEntry[] {
    const all = this.store.sourcesOf(contentName);
    // A name the store holds passed these rules when it was registered: only a miss is checked, so a
    // bad name still gets its BAD_NAME and the everyday hit skips a dozen regular expressions.
    if (all.length === 0) validateContentName(contentName);
    const now = this.now();
    const out: RegistryEntry[] = [];
    // So few that even the largest would fit: each live one is taken without sizing it, so a lookup
    // reads the entry alone, not its peer name and host too (each a cache miss in a large index).
    if (all.length * MAX_SOURCE_BYTES <= room) {
      for (let i = 0; i < all.length; i++) {
        const e = all.at(i);
        if (e.expiresAt > now) out.push(e);
      }
    } else if (all.length * 315 <= room) {
      // The largest source without claims is 1+255+19+8+32 bytes: this many fit unless claims take the room.
      let used = 0;
      for (let i = 0; i < all.length; i++) used = takeIfFits(all.at(i), now, room, used, out);
    } else sampleSources(all, now, room, out);
    if (out.length === 0) throw new P2PError('NOT_FOUND', `nobody shares "${contentName}"`);
    return out;
  }

  /**
   * O: live entries with seq >= cursor, in registration order, as many as fit in `room` bytes.
   * `next` is the seq of the first entry left out, 0 when this page reaches the end.
   */
  page(cursor: number, room = MAX_DATAGRAM - PAGE_OVERHEAD): { entries: OnlineEntry[]; next: number } {
    const { entries, next } = this.pageEntries(cursor, room);
    return { entries: entries.map(toOnlineEntry), next };
  }

  /** O as the store keeps its entries (see `page`). */
  pageEntries(cursor: number, room = MAX_DATAGRAM - PAGE_OVERHEAD): { entries: RegistryEntry[]; next: number } {
    const now = this.now();
    const entries: RegistryEntry[] = [];
    let used = 0;
    for (const e of this.store.fromSeq(cursor)) {
      if (e.expiresAt <= now) continue;
      const bytes = packedEntryBytes(e);
      if (used + bytes > room) return { entries, next: e.seq };
      entries.push(e);
      used += bytes;
    }
    return { entries, next: 0 };
  }

  /**
   * F: content names that contain `query` (searchKey on both sides: NFC, then lower case), from name
   * cursor `cursor` on, as many hits as fit in `room` bytes, each with up to MAX_HIT_VERSIONS versions,
   * most sources first. Looks at no more than SEARCH_SCAN_BUDGET names, so a page may come back short,
   * even empty, with `next` set: the client asks again from there. `next` = 0: the scan reached the end.
   */
  searchNames(query: string, cursor: number, room = MAX_DATAGRAM - HITS_OVERHEAD): { hits: NameHit[]; next: number } {
    if (query === '') throw new P2PError('MALFORMED', 'the search text is empty');
    const scan = this.store.searchNames(searchKey(query), cursor, MAX_PAGE_HITS, SEARCH_SCAN_BUDGET);
    const hits: NameHit[] = [];
    let used = 0;
    for (const record of scan.records) {
      const hit = toHit(record);
      const bytes = hitBytes(hit);
      if (used + bytes > room) return { hits, next: record.seq };
      hits.push(hit);
      used += bytes;
    }
    return { hits, next: scan.next };
  }

  /**
   * Classic S: one source of a content whose names and address fit the 101-byte reply. The peer
   * name in a classic S names the requester (real clients put their own name there), so a source
   * other than the requester is preferred, then a classic one, since a classic client speaks only
   * the original TCP form; the name never filters.
   */
  classicFind(contentName: string, requester: string): { peerName: string; contentName: string; address: string } {
    validateContentName(contentName);
    const now = this.now();
    const fits = (e: RegistryEntry): boolean =>
      e.expiresAt > now &&
      Buffer.byteLength(e.peerName) <= CLASSIC_NAME_BYTES &&
      Buffer.byteLength(e.contentName) <= CLASSIC_NAME_BYTES &&
      formatHostPort(e.host, e.port).length <= CLASSIC_ADDRESS_BYTES;
    // 0 is the best: another peer, registered in classic form.
    const rank = (e: RegistryEntry): number => (e.peerName === requester ? 2 : 0) + (e.owner.kind === 'ip' ? 0 : 1);
    let found: RegistryEntry | undefined;
    const all = this.store.sourcesOf(contentName);
    const start = all.length > 1 ? randomInt(all.length) : 0;
    for (let k = 0; k < all.length && k < SAMPLE_PROBES; k++) {
      const e = all.at((start + k) % all.length);
      if (!fits(e) || (found && rank(found) <= rank(e))) continue;
      found = e;
      if (rank(e) === 0) break;
    }
    if (!found) throw new P2PError('NOT_FOUND', `nobody shares "${contentName}"`);
    return { peerName: found.peerName, contentName: found.contentName, address: formatHostPort(found.host, found.port) };
  }

  /** Classic O: the page at a positional offset, with "+N" when entries remain. */
  classicPage(offset: number): ClassicOnlineReply {
    // classicOnlinePage reads only `length` and the indexes it walks, so a window of the list
    // starting at `offset` is enough; no copy of the whole index per page.
    const view: { length: number; [i: number]: { peerName: string; contentName: string } } = { length: this.store.size };
    let i = offset;
    for (const e of this.store.fromPosition(offset)) {
      view[i++] = { peerName: e.peerName, contentName: e.contentName };
      if (i - offset >= CLASSIC_PAGE_WINDOW) break;
    }
    return classicOnlinePage(view, offset);
  }

  /** Removes up to `limit` registrations whose lease has ended. */
  sweep(limit = Number.MAX_SAFE_INTEGER): ExpiredEntry[] {
    this.owners?.sweep(this.now(), OWNER_SWEEP_BATCH);
    return this.store.takeExpired(this.now(), limit).map((e) => ({
      peerName: e.peerName,
      contentName: e.contentName,
      host: e.host,
      port: e.port,
    }));
  }
}

/** Adds `e` to `out` when it is live and fits in what is left of `room` after `used` bytes; returns the bytes used then. */
function takeIfFits(e: RegistryEntry, now: number, room: number, used: number, out: RegistryEntry[]): number {
  if (e.expiresAt <= now) return used;
  const bytes = packedSourceBytes(e);
  if (used + bytes > room) return used;
  out.push(e);
  return used + bytes;
}

/** A random selection of live sources that fits `room`, for a content with more sources than one reply holds. */
function sampleSources(all: SourceList, now: number, room: number, out: RegistryEntry[]): void {
  const tried = new Set<number>();
  let used = 0;
  for (let probe = 0; probe < SAMPLE_PROBES && tried.size < all.length && room - used >= 48; probe++) {
    const i = randomInt(all.length);
    if (tried.has(i)) continue;
    tried.add(i);
    used = takeIfFits(all.at(i), now, room, used, out);
  }
}

function provenOwner(owner: Owner | OwnerProof, bound: Owner | undefined): Owner {
  return 'prove' in owner ? owner.prove(bound) : owner;
}

/** The checks an R passes before any store is asked: names and the content server's port. */
function checkRegistration(r: Registration): void {
  validatePeerName(r.peerName);
  validateContentName(r.contentName);
  checkPort(r.port);
}

function checkPort(port: number): void {
  if (!isWholeNumberIn(port, 1, 0xffff)) throw new P2PError('BAD_ADDRESS', `tcp port must be 1..65535, got ${port}`);
}

function hashText(sha256: Buffer): string {
  if (sha256.length !== HASH_BYTES) throw new P2PError('MALFORMED', `sha256 must be ${HASH_BYTES} bytes, got ${sha256.length}`);
  // latin1 maps each byte to one char; the result is a flat one-byte string (see EntryFields.hash).
  return sha256.toString('latin1');
}

function toSource(e: RegistryEntry): Source {
  return { peerName: e.peerName, host: e.host, port: e.port, size: e.size, sha256: Buffer.from(e.hash, 'latin1'), claims: unpackClaims(e.claims) };
}

function toOnlineEntry(e: RegistryEntry): OnlineEntry {
  // A literal, not a spread of toSource(): this runs for every entry of every O page.
  return { peerName: e.peerName, contentName: e.contentName, host: e.host, port: e.port, size: e.size, sha256: Buffer.from(e.hash, 'latin1') };
}

function toHit(record: NameRecord): NameHit {
  // Most sources first, then the lower hash: the same order every time, whatever order they came in.
  const top = [...record.versions]
    .sort((a, b) => b.sources - a.sources || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.size - b.size))
    .slice(0, MAX_HIT_VERSIONS);
  return {
    contentName: record.name,
    versions: top.map((v) => ({ size: v.size, sha256: Buffer.from(v.hash, 'latin1'), sources: v.sources })),
  };
}

function nameTaken(peerName: string): P2PError {
  return new P2PError('NAME_TAKEN', `peer name "${peerName}" is registered by another peer`);
}

function notRegistered(peerName: string, contentName: string): P2PError {
  return new P2PError(
    'NOT_REGISTERED',
    contentName === '' ? `peer "${peerName}" has no registrations` : `peer "${peerName}" has not registered "${contentName}"`,
  );
}

function checkWhole(what: string, v: number, min: number, max: number): void {
  if (!isWholeNumberIn(v, min, max)) throw new P2PError('BAD_SETTING', `${what} must be a whole number ${min}..${max}, got ${v}`);
}
