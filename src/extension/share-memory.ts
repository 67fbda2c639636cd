// Remembers this window's shares in its workspace state and registers them again after a reload or restart.
import * as vscode from 'vscode';
import type { Peer } from '../peer';
import type { Share } from '../peer/api';
import { hashFile } from '../peer/file-hash';
import { toP2PError } from '../protocol/errors';
import { plural } from '../common/plural';
import { notificationText } from './view-model/inert-text';
import { StoredShare, readStoredShares, storedSharesRecord } from './view-model/stored-shares';

/** The workspace-state key; the record under it is versioned (view-model/stored-shares.ts). */
export const STORED_SHARES_KEY = 'p2p.shares';

/** A remembered share that could not be shared again, and why in a few words. */
export interface NotSharedAgain {
  share: StoredShare;
  why: string;
}

export interface RestoreReport {
  restored: string[];
  notRestored: NotSharedAgain[];
  /** Why stored entries were ignored (corrupt or hostile), when some were. */
  problem?: string;
}

export interface ShareMemoryHooks {
  /** The running engine, or undefined when it could not start. */
  engine: () => Promise<Peer | undefined>;
  onDidChangeShares: vscode.Event<Share[]>;
  log: vscode.LogOutputChannel;
}

export class ShareMemory implements vscode.Disposable {
  /** Until the remembered shares are registered again, the engine's list is partial and must not overwrite them. */
  private restored = false;
  /** Remembered but not shared now (changed or missing): kept, so they are not dropped silently, until the user decides. */
  private pending: StoredShare[] = [];
  private latest: Share[] = [];
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly memento: vscode.Memento,
    private readonly hooks: ShareMemoryHooks,
  ) {
    this.subscription = hooks.onDidChangeShares((shares) => {
      this.latest = shares;
      if (this.restored) void this.save();
    });
  }

  /** Checks each remembered file against its remembered size and SHA-256, and registers the unchanged ones again. */
  async restore(): Promise<RestoreReport> {
    const read = readStoredShares(this.memento.get<unknown>(STORED_SHARES_KEY));
    if (read.problem) {
      this.hooks.log.warn(`remembered shares: ${read.problem}`);
      void vscode.window.showWarningMessage(notificationText(`P2P Share: ${read.problem}.`));
    }
    const peer = await this.hooks.engine().catch(() => undefined);
    const report: RestoreReport = { restored: [], notRestored: [], problem: read.problem };
    for (const s of read.shares) {
      if (!peer) {
        report.notRestored.push({ share: s, why: 'the peer is not running' });
        continue;
      }
      try {
        const now = await hashFile(s.path);
        if (now.size !== s.size || now.sha256 !== s.sha256) {
          report.notRestored.push({ share: s, why: 'changed since' });
          continue;
        }
        const share = await peer.register(s.path, s.contentName);
        // The file may have changed between the check and the registration: the remembered content only.
        if (share.sha256 !== s.sha256) {
          await peer.deregister(s.contentName).catch(() => undefined);
          report.notRestored.push({ share: s, why: 'changed since' });
          continue;
        }
        report.restored.push(s.contentName);
      } catch (err) {
        const e = toP2PError(err);
        report.notRestored.push({ share: s, why: e.code === 'FILE_NOT_FOUND' ? 'not found' : e.message });
      }
    }
    this.pending = report.notRestored.map((n) => n.share);
    this.restored = true;
    this.latest = peer?.listLocal() ?? this.latest;
    await this.save();
    this.hooks.log.info(`${plural(report.restored.length, 'remembered share')} registered again; ${report.notRestored.length} not`);
    if (report.notRestored.length > 0) void this.offerChoice(report.notRestored);
    return report;
  }

  /** One notification for all of them: share the files as they are now, or forget them. */
  private async offerChoice(lost: NotSharedAgain[]): Promise<void> {
    const shown = lost.slice(0, 5).map((n) => `"${n.share.contentName}" (${n.why})`).join(', ');
    const more = lost.length > 5 ? ` and ${lost.length - 5} more` : '';
    const picked = await vscode.window.showWarningMessage(
      notificationText(`${plural(lost.length, 'shared file')} could not be shared again: ${shown}${more}.`),
      'Share Again',
      'Forget',
    );
    if (picked === 'Forget') {
      this.pending = [];
      await this.save();
    } else if (picked === 'Share Again') {
      await this.shareAgain();
    }
  }

  /** Registers the remembered files as they are now; the ones that still fail stay remembered and are named. */
  private async shareAgain(): Promise<void> {
    const peer = await this.hooks.engine().catch(() => undefined);
    const failed: string[] = [];
    for (const s of [...this.pending]) {
      try {
        if (!peer) throw new Error('the peer is not running');
        await peer.register(s.path, s.contentName);
        this.pending = this.pending.filter((p) => p !== s);
      } catch (err) {
        failed.push(`"${s.contentName}": ${toP2PError(err).message}`);
      }
    }
    await this.save();
    if (failed.length > 0) void vscode.window.showErrorMessage(notificationText(`Could not share again ${failed.join('; ')}`));
  }

  private async save(): Promise<void> {
    const shared = new Set(this.latest.map((s) => s.contentName));
    const record = storedSharesRecord([...this.latest, ...this.pending.filter((p) => !shared.has(p.contentName))]);
    try {
      await this.memento.update(STORED_SHARES_KEY, record);
    } catch (err) {
      this.hooks.log.error(`could not remember the shares: ${(err as Error).message}`);
    }
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
