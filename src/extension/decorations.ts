// Marks shared files in the Explorer with a badge and a tooltip made of local facts only.
import * as vscode from 'vscode';
import type { ActiveUpload, Share } from '../peer/api';
import { shareDecoration } from './view-model/share-marks';

export class SharedFileDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private byPath = new Map<string, Share>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri[]>();
  readonly onDidChangeFileDecorations = this.emitter.event;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly shares: () => readonly Share[],
    private readonly uploadsOf: (contentName: string) => ActiveUpload[],
    sharesChanged: vscode.Event<unknown>,
    uploadsChanged: vscode.Event<void>,
  ) {
    this.disposables = [
      this.emitter,
      sharesChanged(() => this.refresh()),
      uploadsChanged(() => this.emitter.fire([...this.byPath.keys()].map((p) => vscode.Uri.file(p)))),
      vscode.window.registerFileDecorationProvider(this),
    ];
    this.refresh();
  }

  private refresh(): void {
    const before = this.byPath;
    this.byPath = new Map(this.shares().map((s) => [s.path, s]));
    const touched = new Set([...before.keys(), ...this.byPath.keys()]);
    if (touched.size > 0) this.emitter.fire([...touched].map((p) => vscode.Uri.file(p)));
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== 'file') return undefined;
    const share = this.byPath.get(uri.fsPath);
    if (!share) return undefined;
    const d = shareDecoration(share, this.uploadsOf(share.contentName));
    return new vscode.FileDecoration(d.badge, vscode.l10n.t(d.tooltip));
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
