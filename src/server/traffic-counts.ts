// Plain-integer counts the index server keeps on its hot path, for the admin endpoint to publish at scrape time.

/** Upper bounds (seconds) of the duration buckets; the last bucket (+Inf) is implied. */
export const DURATION_BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A fixed-bucket histogram: one array increment and two additions per observation, no allocation. */
export class DurationBuckets {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts = new Array<number>(DURATION_BOUNDS.length + 1).fill(0);
  sum = 0;
  total = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < DURATION_BOUNDS.length && seconds > DURATION_BOUNDS[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.total++;
  }
}

/**
 * Requests by (type, result). Both come from a closed set (a PDU type letter, '?' for junk, "classic X"
 * with X one byte; a reply type or an error code), so the map stays small whatever peers send.
 */
export class RequestCounts {
  private readonly byKey = new Map<string, { type: string; result: string; n: number }>();
  /**
   * The record of each (type, outcome) text as it came, so the hot path is two lookups of strings
   * that are mostly constants, with no key built per request. Outcomes are a closed set too, so this
   * stays small.
   */
  private readonly seen = new Map<string, Map<string, { type: string; result: string; n: number }>>();

  add(type: string, outcome: string): void {
    let byOutcome = this.seen.get(type);
    if (!byOutcome) this.seen.set(type, (byOutcome = new Map()));
    const known = byOutcome.get(outcome);
    if (known) {
      known.n++;
      return;
    }
    // "A (repeated for a retry)" is an A; "E BAD_COOKIE" is counted by its code.
    const cut = outcome.indexOf(' (');
    const result = cut < 0 ? outcome : outcome.slice(0, cut);
    const key = `${type}\t${result}`;
    let record = this.byKey.get(key);
    if (!record) this.byKey.set(key, (record = { type, result, n: 0 }));
    byOutcome.set(outcome, record);
    record.n++;
  }

  entries(): Array<{ type: string; result: string; n: number }> {
    return [...this.byKey.values()].map((e) => ({ ...e }));
  }
}
