// Lease timing for index registrations: when to renew each one, retries while it is lapsed, pausing and stopping.

/** Refresh interval before the index has told us a lease (the protocol's default lease is 120 s). */
const DEFAULT_REFRESH_MS = 40_000;
/** A registration that failed is tried again at most this long after, even with long leases. */
const MAX_RETRY_MS = 15_000;
/** Never refresh more often than this, whatever lease a misconfigured index hands out. */
const MIN_REFRESH_MS = 200;

export interface LeasesOptions {
  /**
   * Renews one registration (an R); resolves to the lease in seconds the index granted, 0 for one that never
   * expires. Returns undefined when there is nothing to renew any more (the share is gone). `signal` aborts
   * when the refresh is stopped.
   */
  renew: (key: string, signal: AbortSignal) => Promise<number> | undefined;
  /** A refresh failed (not one cut short by stop, pause or close); the registration counts as lapsed. */
  onRenewFailed: (key: string, err: unknown) => void;
  /** A refresh got a lapsed registration back. */
  onRegisteredAgain: (key: string) => void;
}

/** One registration's lease: when to refresh it, and whether the index holds it right now. */
interface Lease {
  intervalMs: number;
  registered: boolean;
  timer?: NodeJS.Timeout;
  refreshing?: Promise<void>;
  abort?: AbortController;
}

/** ±10%, so peers started together do not refresh in lock-step. */
function jitter(ms: number): number {
  return Math.max(MIN_REFRESH_MS, Math.round(ms * (0.9 + Math.random() * 0.2)));
}

/**
 * Keeps every registration's lease alive: a refresh at a third of the lease (±10%), sooner (at most
 * MAX_RETRY_MS) while one is lapsed. Knows registrations only by key; the renew callback does the R.
 */
export class Leases {
  private readonly leases = new Map<string, Lease>();
  private paused = false;
  private closed = false;

  constructor(private readonly options: LeasesOptions) {}

  /** The index granted `leaseSeconds` (0: never expires): refresh at a third of it. */
  renewed(key: string, leaseSeconds: number): void {
    const lease = this.leaseOf(key);
    lease.registered = true;
    if (leaseSeconds > 0) {
      lease.intervalMs = (leaseSeconds * 1000) / 3;
      this.schedule(key);
    } else if (lease.timer) {
      // A lease of 0 never expires: nothing to refresh.
      clearTimeout(lease.timer);
      lease.timer = undefined;
    }
  }

  /** The registration did not get through: retry it soon. */
  failed(key: string): void {
    this.leaseOf(key).registered = false;
    this.schedule(key);
  }

  /** The index in use does not hold this registration (yet); its timer, if any, stays. */
  lapsed(key: string): void {
    this.leaseOf(key).registered = false;
  }

  /** Next refresh for this registration at a third of its lease, ±10%; sooner when it is not registered. */
  schedule(key: string): void {
    if (this.closed || this.paused) return;
    const lease = this.leaseOf(key);
    if (lease.timer) clearTimeout(lease.timer);
    const wait = lease.registered ? lease.intervalMs : Math.min(lease.intervalMs, MAX_RETRY_MS);
    lease.timer = setTimeout(() => {
      lease.timer = undefined;
      this.refresh(key);
    }, jitter(wait));
    // The content server keeps a running peer alive; a pending refresh alone must not.
    lease.timer.unref();
  }

  /** Stops the timer and any refresh in flight for one registration (keeps its lease record). */
  async stop(key: string): Promise<void> {
    const lease = this.leases.get(key);
    if (!lease) return;
    if (lease.timer) clearTimeout(lease.timer);
    lease.timer = undefined;
    lease.abort?.abort();
    await lease.refreshing?.catch(() => undefined);
  }

  /** Stops and forgets one registration. */
  async drop(key: string): Promise<void> {
    await this.stop(key);
    this.leases.delete(key);
  }

  /** Holds every refresh, e.g. while the identity they register under changes; resume() restarts them. */
  async pause(): Promise<void> {
    this.paused = true;
    await Promise.all([...this.leases.keys()].map((k) => this.stop(k)));
  }

  resume(): void {
    this.paused = false;
    for (const [key, lease] of this.leases) {
      if (!lease.timer && !lease.refreshing) this.schedule(key);
    }
  }

  /** The index answers again: renew at once every lapsed registration not already being renewed. */
  retryLapsed(): void {
    for (const [key, lease] of this.leases) {
      if (lease.registered || lease.refreshing) continue;
      if (lease.timer) clearTimeout(lease.timer);
      lease.timer = undefined;
      this.refresh(key);
    }
  }

  /** Whether the index held any registration at its last answer. */
  anyRegistered(): boolean {
    return [...this.leases.values()].some((l) => l.registered);
  }

  /**
   * No refresh from now on, and failures of those in flight go unreported; resolves once every refresh
   * in flight has stopped. The records stay, so anyRegistered() still answers.
   */
  close(): Promise<void> {
    this.closed = true;
    return Promise.all([...this.leases.keys()].map((k) => this.stop(k))).then(() => undefined);
  }

  private leaseOf(key: string): Lease {
    let lease = this.leases.get(key);
    if (!lease) {
      lease = { intervalMs: DEFAULT_REFRESH_MS, registered: false };
      this.leases.set(key, lease);
    }
    return lease;
  }

  private refresh(key: string): void {
    const lease = this.leases.get(key);
    if (!lease || lease.refreshing || this.closed || this.paused) return;
    const abort = new AbortController();
    const renewal = this.options.renew(key, abort.signal);
    if (!renewal) return;
    lease.abort = abort;
    lease.refreshing = (async () => {
      try {
        const seconds = await renewal;
        if (abort.signal.aborted) return;
        if (!lease.registered) this.options.onRegisteredAgain(key);
        lease.refreshing = undefined;
        this.renewed(key, seconds);
      } catch (err) {
        if (abort.signal.aborted || this.closed) return;
        this.options.onRenewFailed(key, err);
        lease.refreshing = undefined;
        this.failed(key);
      } finally {
        if (lease.abort === abort) {
          lease.abort = undefined;
          lease.refreshing = undefined;
        }
      }
    })();
  }
}
