// The strings entries refer to by id instead of holding one each: hosts, shared by every entry from the same address, and claims.

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

/**
 * Claims strings by id, one per entry that has claims (a piece root differs per content, so sharing
 * them would save little); id 0 is '' and stands for every entry without, so those cost no string.
 */
export class ClaimsTable {
  text: string[] = [''];
  private free: number[] = [];

  take(claims: string): number {
    const id = this.free.pop() ?? this.text.length;
    this.text[id] = claims;
    return id;
  }

  drop(id: number): void {
    this.text[id] = '';
    this.free.push(id);
  }

  clear(): void {
    this.text = [''];
    this.free = [];
  }
}
