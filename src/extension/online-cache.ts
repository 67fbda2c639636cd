// What the Online Content view shows: a bounded slice of the online list (Load more), or of a search, and its refresh.
import type { ListCursor, OnlineItem, Peer, SearchHit } from '../peer';
import type { OnlineSnapshot } from './view-model/online-rows';

export type { OnlineSnapshot };

/** The part of the engine the cache asks. */
export type OnlineSource = Pick<Peer, 'listOnline' | 'searchOnline'>;

/** Entries (or hits) one Load more adds. */
export const ONLINE_PAGE_ITEMS = 100;
/**
 * Most entries (or hits) the view holds: past this, Load more stops and the view says to search
 * instead. 5000 entries are at most ~3 MiB on the wire; an index that never ends costs no more.
 */
export const MAX_SHOWN_ITEMS = 5000;
/** Most the engine returns per call (src/peer/list-pages.ts MAX_PAGE_ITEMS). */
const MAX_CALL_ITEMS = 1000;

export interface OnlineCacheHooks {
  /** The running engine, starting it when needed; throws the reason it cannot run. */
  ready(): Promise<OnlineSource>;
  /** The engine running now, or undefined. */
  current(): OnlineSource | undefined;
  /** Called whenever what is shown changes. */
  changed(snapshot: OnlineSnapshot): void;
}

interface Slice<T> {
  items: T[];
  next?: ListCursor;
}

export class OnlineCache {
  private list: Slice<OnlineItem> = { items: [] };
  private search?: { text: string } & Slice<SearchHit>;
  /** The snapshot as JSON, so an unchanged one (every refresh repeats it) fires no change. */
  private key = '';
  private inFlight: Promise<void> | undefined;

  constructor(private readonly hooks: OnlineCacheHooks) {}

  get snapshot(): OnlineSnapshot {
    const s = this.search;
    return {
      items: this.list.items,
      more: this.list.next !== undefined && this.list.items.length < MAX_SHOWN_ITEMS,
      capped: this.list.next !== undefined && this.list.items.length >= MAX_SHOWN_ITEMS,
      search: s && {
        text: s.text,
        hits: s.items,
        more: s.next !== undefined && s.items.length < MAX_SHOWN_ITEMS,
        capped: s.next !== undefined && s.items.length >= MAX_SHOWN_ITEMS,
      },
    };
  }

  get items(): OnlineItem[] {
    return this.list.items;
  }

  /**
   * Shows a first page read before the engine runs (first-page.ts), unless an engine is already
   * running or something is shown: its own list is the newer one.
   */
  showFirst(page: Slice<OnlineItem>): void {
    if (this.hooks.current() || this.list.items.length > 0 || this.search) return;
    this.list = { items: page.items, next: page.next };
    this.publish();
  }

  /** Forgets the list (an index that no longer answers); a search stays, emptied. */
  clear(): void {
    this.list = { items: [] };
    if (this.search) this.search = { text: this.search.text, items: [] };
    this.publish();
  }

  /**
   * Reads again what is shown, from the start: as many entries as shown (at least a page), never
   * more, and the search's hits likewise. Concurrent callers share one request; with `fresh`, a
   * request already in flight is not reused, because it may have left before a change this caller made.
   */
  refresh(fresh = false): Promise<void> {
    if (fresh && this.inFlight) {
      return this.inFlight.then(
        () => this.refresh(),
        () => this.refresh(),
      );
    }
    this.inFlight ??= this.run(async (peer) => {
      const list = await readUpTo((r) => peer.listOnline(r).then((p) => ({ items: p.items, next: p.next })), shownTarget(this.list.items.length));
      const search = this.search;
      const hits = search && (await readUpTo((r) => peer.searchOnline(search.text, r).then((p) => ({ items: p.hits, next: p.next })), shownTarget(search.items.length)));
      return () => {
        this.list = list;
        // A search started or cleared meanwhile wins over this refresh's copy of the old one.
        if (search && hits && this.search === search) this.search = { text: search.text, ...hits };
      };
    }).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Load more: the next page of the search when one is shown, else of the list. */
  loadMore(): Promise<void> {
    const search = this.search;
    if (search) {
      if (!search.next || search.items.length >= MAX_SHOWN_ITEMS) return Promise.resolve();
      return this.run(async (peer) => {
        const page = await peer.searchOnline(search.text, { cursor: search.next, maxItems: pageAfter(search.items.length) });
        return () => {
          if (this.search === search) this.search = { text: search.text, items: [...search.items, ...page.hits], next: page.next };
        };
      });
    }
    const list = this.list;
    if (!list.next || list.items.length >= MAX_SHOWN_ITEMS) return Promise.resolve();
    return this.run(async (peer) => {
      const page = await peer.listOnline({ cursor: list.next, maxItems: pageAfter(list.items.length) });
      return () => {
        if (this.list === list) this.list = { items: [...list.items, ...page.items], next: page.next };
      };
    });
  }

  /** Shows the first page of content whose name contains `text` instead of the list. */
  startSearch(text: string): Promise<void> {
    return this.run(async (peer) => {
      const page = await peer.searchOnline(text, { maxItems: ONLINE_PAGE_ITEMS });
      return () => {
        this.search = { text, items: page.hits, next: page.next };
      };
    });
  }

  /** Back to the list. */
  clearSearch(): void {
    this.search = undefined;
    this.publish();
  }

  /** Runs one read against the engine; its result applies only if that engine is still the current one. */
  private async run(read: (peer: OnlineSource) => Promise<() => void>): Promise<void> {
    const peer = await this.hooks.ready();
    const apply = await read(peer);
    // A list from an engine that has since been replaced describes an index it may no longer use.
    if (peer !== this.hooks.current()) return;
    apply();
    this.publish();
  }

  private publish(): void {
    const snapshot = this.snapshot;
    const key = JSON.stringify(snapshot);
    if (key === this.key) return;
    this.key = key;
    this.hooks.changed(snapshot);
  }
}

/** A Load more never takes the view past MAX_SHOWN_ITEMS. */
function pageAfter(shown: number): number {
  return Math.min(ONLINE_PAGE_ITEMS, MAX_SHOWN_ITEMS - shown);
}

function shownTarget(shown: number): number {
  return Math.min(MAX_SHOWN_ITEMS, Math.max(ONLINE_PAGE_ITEMS, shown));
}

/** Reads from the start until `target` items (in calls of at most MAX_CALL_ITEMS) or the end. */
async function readUpTo<T>(
  read: (request: { cursor?: ListCursor; maxItems: number }) => Promise<Slice<T>>,
  target: number,
): Promise<Slice<T>> {
  const items: T[] = [];
  let next: ListCursor | undefined;
  do {
    const page = await read({ cursor: next, maxItems: Math.min(MAX_CALL_ITEMS, target - items.length) });
    items.push(...page.items);
    next = page.next;
    // A call that brings nothing (an index sending empty pages) ends the read; Load more may try again.
    if (page.items.length === 0) break;
  } while (next && items.length < target);
  return { items, next };
}
