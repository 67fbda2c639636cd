// The embedded persistent OwnerBook: peer name -> (owner digest, last use) in an LMDB file under --data DIR.
import { mkdirSync } from 'node:fs';
import { open, RootDatabase } from 'lmdb';
import { P2PError } from '../protocol/errors';
import { OwnerBook } from './owner-book';
import { Owner } from './store';

/** Bytes of a kept owner: the 32-byte digest, then the last use as a float64 of ms. */
const DIGEST_BYTES = 32;
const RECORD_BYTES = DIGEST_BYTES + 8;

export interface LmdbOwnerBookOptions {
  /** Directory of the LMDB environment; created when missing. */
  dir: string;
  /** How long a name stays its owner's after its last use, in seconds. */
  ownerTtlSeconds: number;
}

/**
 * Reads are synchronous LMDB lookups on the request path (memory-mapped, about a microsecond), so
 * nothing is loaded at start-up: a million names open as fast as none. Writes are LMDB's batched
 * asynchronous puts; a refresh writes only when the stored last use is older than a tenth of the
 * ownership time (at most an hour), so the steady lease traffic costs reads, not writes.
 */
export class LmdbOwnerBook implements OwnerBook {
  private readonly db: RootDatabase<Buffer, string>;
  private readonly ttlMs: number;
  private readonly touchEveryMs: number;
  /** Records written but not yet committed; bounded by the writes of one commit batch. */
  private readonly pending = new Map<string, Buffer>();
  /** Where the next sweep batch starts, so sweeping walks the whole book a batch at a time. */
  private sweepFrom: string | undefined;

  constructor(opts: LmdbOwnerBookOptions) {
    this.ttlMs = opts.ownerTtlSeconds * 1000;
    this.touchEveryMs = Math.min(3_600_000, this.ttlMs / 10);
    try {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      // noSubdir false: lmdb takes a path with a dot in its last part ("index.v1", "tmp.x") for a file otherwise.
      this.db = open<Buffer, string>({ path: opts.dir, encoding: 'binary', compression: false, noSubdir: false });
    } catch (err) {
      throw new P2PError('BAD_SETTING', `cannot open the index data directory ${opts.dir}: ${(err as Error).message}`, err);
    }
  }

  ownerOf(peerName: string, now: number): Owner | undefined {
    const rec = this.pending.get(peerName) ?? this.db.get(peerName);
    if (!rec || rec.length !== RECORD_BYTES) return undefined;
    if (rec.readDoubleBE(DIGEST_BYTES) + this.ttlMs <= now) return undefined;
    return { kind: 'secret', digest: rec.toString('latin1', 0, DIGEST_BYTES) };
  }

  touch(peerName: string, owner: Owner, now: number): void {
    if (owner.kind !== 'secret') return;
    const rec = this.pending.get(peerName) ?? this.db.get(peerName);
    if (
      rec &&
      rec.length === RECORD_BYTES &&
      rec.toString('latin1', 0, DIGEST_BYTES) === owner.digest &&
      now - rec.readDoubleBE(DIGEST_BYTES) < this.touchEveryMs
    ) return;
    const out = Buffer.alloc(RECORD_BYTES);
    out.write(owner.digest, 0, DIGEST_BYTES, 'latin1');
    out.writeDoubleBE(now, DIGEST_BYTES);
    // lmdb commits puts in batches a moment later: until then this is what a read must see.
    this.pending.set(peerName, out);
    void this.db.put(peerName, out).finally(() => {
      if (this.pending.get(peerName) === out) this.pending.delete(peerName);
    });
  }

  sweep(now: number, limit: number): number {
    let seen = 0;
    let gone = 0;
    let last: string | undefined;
    const lapsed = (rec: Buffer) => rec.length !== RECORD_BYTES || rec.readDoubleBE(DIGEST_BYTES) + this.ttlMs <= now;
    for (const { key, value } of this.db.getRange({ start: this.sweepFrom, limit, snapshot: false })) {
      seen++;
      last = key;
      // A touch lmdb has not committed yet is the newer record: an owner who just used the name keeps it.
      if (lapsed(this.pending.get(key) ?? value)) {
        this.forget(key);
        gone++;
      }
    }
    // Touches not committed yet are not in the range at all; a sweep right after them must still see them.
    for (const [key, rec] of this.pending) {
      if (lapsed(rec)) {
        this.forget(key);
        gone++;
      }
    }
    // A short batch reached the end: the next sweep starts over at the first name.
    this.sweepFrom = seen < limit || last === undefined ? undefined : last + '\0';
    return gone;
  }

  /** Drops a lapsed owner, committed or still pending (the remove is queued after any put in flight). */
  private forget(peerName: string): void {
    this.pending.delete(peerName);
    void this.db.remove(peerName);
  }

  /** Waits for batched writes to reach the disk, then closes the environment. */
  async close(): Promise<void> {
    await this.db.flushed;
    await this.db.close();
  }
}
