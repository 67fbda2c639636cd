// A minimum transfer rate over a sliding window: how both ends of a transfer tell a drip-feeding stranger from a slow honest one.
import { P2PError } from '../protocol/errors';
import { isNonNegativeNumber, isPositiveNumber } from '../common/numbers';

/** A transfer must move at least `minBytesPerSecond`, averaged over each `windowMs`; 0 turns the rule off. */
export interface ProgressRule {
  minBytesPerSecond: number;
  windowMs: number;
}

/** 1 KiB/s over 10 s: far below any honest link, far above one byte every few seconds. */
export const DEFAULT_PROGRESS_RULE: ProgressRule = { minBytesPerSecond: 1024, windowMs: 10_000 };

export function checkProgressRule(rule: ProgressRule, what: string): ProgressRule {
  if (!isNonNegativeNumber(rule?.minBytesPerSecond)) {
    throw new P2PError('BAD_SETTING', `${what}: the minimum transfer rate must be 0 (off) or a positive number, got ${String(rule?.minBytesPerSecond)}`);
  }
  if (!isPositiveNumber(rule.windowMs)) throw new P2PError('BAD_SETTING', `${what}: the transfer rate window must be a positive number of ms, got ${String(rule.windowMs)}`);
  return { minBytesPerSecond: rule.minBytesPerSecond, windowMs: rule.windowMs };
}

/**
 * Counts bytes while running; at the end of each window calls `tooSlow` when fewer than the rule's
 * bytes moved. The idle timers of sockets restart on every byte, so they cannot see a drip feed; this can.
 */
export class ProgressWatch {
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rule: ProgressRule,
    private readonly tooSlow: (moved: number, windowMs: number) => void,
  ) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** (Re)starts a fresh window; a no-op when the rule is off. */
  start(): void {
    this.stop();
    if (this.rule.minBytesPerSecond <= 0) return;
    this.bytes = 0;
    this.timer = setInterval(() => this.check(), this.rule.windowMs);
    // A watch must never keep a process alive on its own.
    this.timer.unref();
  }

  add(n: number): void {
    this.bytes += n;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const moved = this.bytes;
    this.bytes = 0;
    if (moved >= (this.rule.minBytesPerSecond * this.rule.windowMs) / 1000) return;
    this.stop();
    this.tooSlow(moved, this.rule.windowMs);
  }
}
