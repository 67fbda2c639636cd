// Turns the engine's download progress into the text and increments of a VS Code progress notification.
import type { DownloadProgress } from '../../peer/api';
import { formatBytes, formatRate } from '../../common/byte-units';
import { plural } from '../../common/plural';

/** "8 s", "2 min 5 s", "1 h 4 min": remaining time of a transfer. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return rest ? `${Math.floor(s / 60)} min ${rest} s` : `${s / 60} min`;
  }
  const minutes = Math.floor((s % 3600) / 60);
  return minutes ? `${Math.floor(s / 3600)} h ${minutes} min` : `${s / 3600} h`;
}

/** Whole percent received; an empty content is complete as soon as it exists. */
export function percentOf(received: number, total: number): number {
  if (!(total > 0)) return 100;
  return Math.min(100, Math.max(0, Math.floor((received / total) * 100)));
}

/** "42% · 1.2 MiB of 3.0 MiB · 850 KiB/s · 2 sources · 3 s left". */
export function formatProgress(p: Pick<DownloadProgress, 'received' | 'total' | 'bytesPerSecond' | 'sources'>): string {
  const parts = [`${percentOf(p.received, p.total)}%`, `${formatBytes(p.received)} of ${formatBytes(p.total)}`];
  parts.push(p.bytesPerSecond > 0 ? formatRate(p.bytesPerSecond) : 'waiting for data');
  parts.push(p.sources > 0 ? plural(p.sources, 'source') : 'no source yet');
  const left = p.total - p.received;
  if (p.bytesPerSecond > 0 && left > 0) parts.push(`${formatDuration(left / p.bytesPerSecond)} left`);
  return parts.join(' · ');
}

export interface ProgressStep {
  /** Percent to add to what the notification already shows (VS Code's increments add up). */
  increment: number;
  message: string;
}

/**
 * Feeds a progress notification without flooding it: the engine may report many times a second,
 * the notification gets a step only when the percent moves or `minIntervalMs` has passed.
 */
export class ProgressReporter {
  private shown = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  private lastMessage = '';

  constructor(
    private readonly minIntervalMs = 250,
    private readonly now: () => number = Date.now,
  ) {}

  /** The step to report for `p`, or undefined when nothing worth showing changed. */
  next(p: DownloadProgress): ProgressStep | undefined {
    const percent = percentOf(p.received, p.total);
    const t = this.now();
    const moved = percent > this.shown;
    const done = percent === 100 && p.received >= p.total;
    if (!moved && !done && t - this.lastAt < this.minIntervalMs) return undefined;
    const message = formatProgress(p);
    if (!moved && message === this.lastMessage) return undefined;
    const increment = Math.max(0, percent - this.shown);
    this.shown += increment;
    this.lastAt = t;
    this.lastMessage = message;
    return { increment, message };
  }

  /** Percent the notification shows now. */
  get percent(): number {
    return this.shown;
  }
}
