// Follows the running engine's uploads (whoever the current engine is) for My Shares and the Explorer decorations.
import * as vscode from 'vscode';
import type { Peer } from '../peer';
import type { ActiveUpload } from '../peer/api';

export class UploadsWatch implements vscode.Disposable {
  private peer: Peer | undefined;
  private list: ActiveUpload[] = [];
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly subscription: vscode.Disposable;
  private readonly listener = (uploads: ActiveUpload[]) => {
    this.list = uploads;
    this.emitter.fire();
  };

  /** `engineChanged` fires whenever the engine may have been replaced (PeerHost's state event does). */
  constructor(
    private readonly current: () => Peer | undefined,
    engineChanged: vscode.Event<unknown>,
  ) {
    this.subscription = engineChanged(() => this.follow());
    this.follow();
  }

  /** The uploads of one content, by whoever is downloading it. */
  of(contentName: string): ActiveUpload[] {
    return this.list.filter((u) => u.contentName === contentName);
  }

  private follow(): void {
    const peer = this.current();
    if (peer === this.peer) return;
    this.peer?.off('uploads-changed', this.listener);
    this.peer = peer;
    peer?.on('uploads-changed', this.listener);
    this.listener(peer?.uploads ?? []);
  }

  dispose(): void {
    this.peer?.off('uploads-changed', this.listener);
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
