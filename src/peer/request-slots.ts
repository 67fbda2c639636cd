// Bounds how many index requests wait for a reply at once (first come, first served), and races a promise against an abort signal.
import { P2PError } from '../protocol/errors';

/** Rejects with CANCELLED when `signal` aborts first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new P2PError('CANCELLED', what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new P2PError('CANCELLED', what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

interface Waiter {
  wake(): void;
  fail(err: P2PError): void;
}

/** At most `max` holders at once; the others wait in order. */
export class RequestSlots {
  private inFlight = 0;
  private readonly waiters: Waiter[] = [];

  /** `cancelled` words the error of a wait its signal aborted. */
  constructor(
    private readonly max: number,
    private readonly cancelled: () => P2PError,
  ) {}

  acquire(signal?: AbortSignal): Promise<void> {
    if (this.inFlight < this.max) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(this.cancelled());
      };
      const waiter: Waiter = {
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (err: P2PError) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Hands the slot straight to the next waiter, so the count never dips and nobody is woken for nothing. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next.wake();
    else this.inFlight--;
  }

  /** Every wait ends with `err` (the client closed). */
  failWaiting(err: P2PError): void {
    for (const waiter of this.waiters.splice(0)) waiter.fail(err);
  }
}
