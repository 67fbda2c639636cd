// Keeps the last online list the index gave, and shares one request among callers that want it refreshed.
import type { OnlineItem, Peer } from '../peer';

/** The part of the engine the cache asks. */
export type OnlineSource = Pick<Peer, 'listOnline'>;

export interface OnlineCacheHooks {
  /** The running engine, starting it when needed; throws the reason it cannot run. */
  ready(): Promise<OnlineSource>;
  /** The engine running now, or undefined. */
  current(): OnlineSource | undefined;
  /** Called with the new list whenever it differs from the last one. */
  changed(items: OnlineItem[]): void;
}

export class OnlineCache {
  private itemsValue: OnlineItem[] = [];
  /** The list as JSON, so an unchanged list (every refresh repeats it) fires no change. */
  private key = '[]';
  private inFlight: Promise<OnlineItem[]> | undefined;

  constructor(private readonly hooks: OnlineCacheHooks) {}

  get items(): OnlineItem[] {
    return this.itemsValue;
  }

  /** Takes a list the engine reported (or [] when it can no longer be trusted). */
  set(items: OnlineItem[]): void {
    const key = JSON.stringify(items);
    if (key === this.key) return;
    this.key = key;
    this.itemsValue = items;
    this.hooks.changed(items);
  }

  /**
   * Fetches the online list; concurrent callers share one request. With `fresh`, a request already
   * in flight is not reused, because it may have left before a change this caller just made.
   */
  refresh(fresh = false): Promise<OnlineItem[]> {
    if (fresh && this.inFlight) {
      return this.inFlight.then(
        () => this.refresh(),
        () => this.refresh(),
      );
    }
    this.inFlight ??= (async () => {
      try {
        const peer = await this.hooks.ready();
        const items = await peer.listOnline();
        // A list from an engine that has since been replaced describes an index it may no longer use.
        if (peer === this.hooks.current()) this.set(items);
        return items;
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }
}
