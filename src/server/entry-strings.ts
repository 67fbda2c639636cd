// The strings entries refer to by id instead of holding one each: hosts, shared by every entry from the same address, and claims.
import { GROWTH } from './entry-columns';

/** Hosts, each kept once with a count of the entries at it: a peer's entries share one string, not one per datagram. */
export class HostTable {
  private readonly ids = new Map<string, number>();
  /** Host text by id. */
  text: string[] = [];
  private refs: number[] = [];
  private free: number[] = [];

  /** The id of `host`, counting one more entry at it. */
  take(host: string): number {
    let id = this.ids.get(host);
    if (id === undefined) {
      id = this.free.pop() ?? this.text.length;
      this.text[id] = host;
      this.refs[id] = 0;
      this.ids.set(host, id);
    }
    this.refs[id]++;
    return id;
  }

  /** One entry fewer at host `id`; forgotten with its last. */
  drop(id: number): void {
    if (--this.refs[id] > 0) return;
    this.ids.delete(this.text[id]);
    this.text[id] = '';
    this.free.push(id);
  }

  clear(): void {
    this.ids.clear();
    this.text = [];
    this.refs = [];
    this.free = [];
  }
}

/** Bytes a claims record holds: a claims trailer with both known claims is 1 + 2 × (2 + 32). */
const RECORD_BYTES = 69;
const RECORD = RECORD_BYTES + 1;

/**
 * Claims by id, one per entry that has claims (a piece root differs per content, so sharing them
 * would save little), as latin1 bytes in fixed records of one slab: 70 B an entry where a string and
 * its array slot cost ~96. Id 0 stands for '' (none), so entries without claims cost nothing here. A
 * longer trailer (a claim this server does not know yet), or text that is not bytes, is kept as a string apart.
 */
export class ClaimsTable {
  private slab = Buffer.alloc(0);
  private end = 1;
  private free: number[] = [];
  private long = new Map<number, string>();

  take(claims: string): number {
    const id = this.free.pop() ?? this.end++;
    if (id * RECORD >= this.slab.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(64 * RECORD, Math.ceil(this.end * GROWTH) * RECORD));
      this.slab.copy(grown);
      this.slab = grown;
    }
    this.set(id, claims);
    return id;
  }

  /** Replaces the claims of a held id. */
  set(id: number, claims: string): void {
    const at = id * RECORD;
    this.long.delete(id);
    if (claims.length > RECORD_BYTES || !isLatin1(claims)) {
      this.long.set(id, claims);
      this.slab[at] = 0xff;
      return;
    }
    this.slab[at] = claims.length;
    this.slab.write(claims, at + 1, 'latin1');
  }

  text(id: number): string {
    if (id === 0) return '';
    const at = id * RECORD;
    const n = this.slab[at];
    return n === 0xff ? this.long.get(id)! : this.slab.toString('latin1', at + 1, at + 1 + n);
  }

  drop(id: number): void {
    this.long.delete(id);
    this.free.push(id);
  }

  clear(): void {
    this.slab = Buffer.alloc(0);
    this.end = 1;
    this.free = [];
    this.long.clear();
  }
}

function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}
