// Several index servers: notices when the one in use stops answering and moves to the next that answers (sticky until it fails).
import { toP2PError } from '../protocol/errors';
import { HostPort, formatAddress } from './address';
import type { LogLevel } from './api';
import type { IndexClient } from './index-client';
import { IndexLink, MOVE_PROBE } from './index-link';

/** What the failover needs of the peer, each as a narrow callback or part. */
export interface FailoverHooks {
  link: IndexLink;
  /** Runs `work` in the peer's queue of registration changes (no rename or move runs meanwhile). */
  exclusive: (work: () => Promise<void>) => Promise<void>;
  /** Re-registers every share at `client` (it answered) and makes it the index in use. */
  moveTo: (client: IndexClient, address: HostPort) => Promise<void>;
  isQuitting: () => boolean;
  log: (level: LogLevel, message: string) => void;
}

/**
 * The policy is sticky: the index in use stays until it stops answering, then the others are tried in
 * list order after it (wrapping round, so one that came back is found again), and the first that
 * answers a handshake gets every share. Nothing moves back to the first of the list by itself: going
 * back while the current one answers would move every registration for nothing and, with a server
 * that flaps, back and forth. While none answers, each check tries them all again.
 */
export class Failover {
  private list: HostPort[];
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private checking = false;

  constructor(
    list: HostPort[],
    private readonly checkMs: number,
    private readonly hooks: FailoverHooks,
  ) {
    this.list = list;
  }

  /** The index servers known, in order of preference. */
  get servers(): readonly HostPort[] {
    return this.list;
  }

  /** A new list (settings changed); the heartbeat runs only while there is somewhere to go. */
  setList(list: HostPort[]): void {
    this.list = list;
    this.start();
  }

  /** Starts the periodic check of the index in use when there are others to move to. */
  start(): void {
    if (this.list.length > 1 && !this.timer && !this.hooks.isQuitting()) {
      this.timer = setInterval(() => this.check(), this.checkMs);
      // The content server keeps a running peer alive; this check alone must not.
      this.timer.unref();
    } else if (this.list.length <= 1 && this.timer) {
      this.close();
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The index in use looks gone: one round of tries over the others, queued after any registration
   * change. Rounds never overlap; the promise settles when this round is over.
   */
  whenSilent(): Promise<void> {
    if (this.list.length <= 1 || this.hooks.isQuitting()) return Promise.resolve();
    this.round ??= this.hooks
      .exclusive(() => this.tryOthers())
      .catch((err) => {
        if (!this.hooks.isQuitting()) this.hooks.log('warn', `moving to another index server: ${toP2PError(err).message}`);
      })
      .finally(() => (this.round = undefined));
    return this.round;
  }

  /** One H to the index in use; silence there starts a round. */
  private check(): void {
    if (this.checking || this.round || this.hooks.isQuitting()) return;
    this.checking = true;
    const { link } = this.hooks;
    void link
      .probe(link.client, false, MOVE_PROBE.tries, MOVE_PROBE.timeoutMs)
      .then(() => {
        if (link.connectionState === 'unreachable') void this.whenSilent();
      })
      .finally(() => (this.checking = false));
  }

  private async tryOthers(): Promise<void> {
    const { link } = this.hooks;
    // It may have answered again while this round waited for its turn.
    if (this.hooks.isQuitting() || link.connectionState !== 'unreachable') return;
    const current = link.addressText;
    const at = this.list.findIndex((a) => formatAddress(a) === current);
    for (let step = 1; step <= this.list.length; step++) {
      const candidate = this.list[(at + step) % this.list.length];
      if (formatAddress(candidate) === current) continue;
      const client = link.newClient(candidate);
      const silent = await link.unanswered(client, MOVE_PROBE).catch(async (err) => {
        await client.close();
        throw err;
      });
      if (silent) {
        this.hooks.log('debug', `index server ${formatAddress(candidate)} does not answer either: ${silent.message}`);
        await client.close();
        continue;
      }
      if (this.hooks.isQuitting()) {
        await client.close();
        return;
      }
      await this.hooks.moveTo(client, candidate);
      return;
    }
    this.hooks.log('warn', `no index server of ${this.list.length} answers; trying again in ${Math.round(this.checkMs / 1000)} s`);
  }
}
