// Tells the user when the engine stops sharing a file or the index refuses one, once a minute per kind, the rest to the log.
import type * as vscode from 'vscode';
import { P2PError } from '../protocol/errors';
import type { Notifier } from './notifier';

/** At most one notification per kind of loss or refusal in this time: a removed folder or an index restart hits many shares at once. */
const NOTICE_EVERY_MS = 60_000;

export class ShareNotices {
  private readonly shownAt = new Map<string, number>();

  constructor(
    private readonly log: Pick<vscode.LogOutputChannel, 'warn' | 'error'>,
    private readonly notifier: Pick<Notifier, 'failure'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A shared path no longer leads to the file the user chose (deleted, moved, or swapped for a link): the engine stopped sharing it. */
  lost(contentName: string, err: P2PError): void {
    if (!this.due(`lost:${err.code}`)) {
      this.log.warn(`stopped sharing "${contentName}": ${err.message}`);
      return;
    }
    this.notifier.failure(err, { title: `Stopped sharing "${contentName}"`, op: 'register' });
  }

  /** The index refused a lease refresh (after an index restart someone may hold this peer's name). */
  refused(contentName: string, err: P2PError): void {
    if (!this.due(`refused:${err.code}`)) {
      this.log.error(`the index server refused "${contentName}": ${err.message}`);
      return;
    }
    this.notifier.failure(err, { title: `The index server refused "${contentName}"`, op: 'register' });
  }

  /** True, and remembered, when no notice of this kind was shown within the last minute. */
  private due(kind: string): boolean {
    const now = this.now();
    if (now - (this.shownAt.get(kind) ?? Number.NEGATIVE_INFINITY) < NOTICE_EVERY_MS) return false;
    this.shownAt.set(kind, now);
    return true;
  }
}
