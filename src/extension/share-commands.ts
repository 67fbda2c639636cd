// Register File, De-register File and Quit Sharing: this peer's side of the index (R, T and Q).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Peer } from '../peer';
import type { Share } from '../peer/api';
import { toP2PError } from '../protocol/errors';
import { formatBytes } from '../common/byte-units';
import { plural } from '../common/plural';
import { contentNameFrom, registerPathsFrom } from './view-model/command-args';
import { CommandFailure, dismissed } from './command-runner';
import { Notifier } from './notifier';
import { PeerHost } from './peer-host';
import { peerNameProblem } from './view-model/settings-parse';
import { labelText, notificationText } from './view-model/inert-text';
import { nextFreeName } from './view-model/free-name';
import { validateContentName } from '../protocol/names';
import { detailOrWords, P2PError } from '../protocol/errors';

/** The file in the active editor or tab, when it lives on disk. */
function activeFilePath(): string | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.uri.scheme === 'file' && !doc.isUntitled) return doc.uri.fsPath;
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri =
    input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputNotebook
      ? input.uri
      : undefined;
  return uri?.scheme === 'file' ? uri.fsPath : undefined;
}

async function pickFiles(): Promise<string[]> {
  const uris = await vscode.window.showOpenDialog({
    title: 'Register Files to Share',
    openLabel: 'Register',
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: true,
    defaultUri: vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri,
  });
  if (!uris || uris.length === 0) throw dismissed('no file chosen');
  return registerPathsFrom([uris]) ?? [];
}

/** Asks for another peer name after NAME_TAKEN; validates live with the protocol's peer-name rules. */
async function askOtherPeerName(taken: string, index: string): Promise<string> {
  const name = await vscode.window.showInputBox({
    title: 'Peer Name Already in Use',
    prompt: `Another peer on ${index} already uses the name "${taken}". Choose another peer name to share under (saved in p2p.peerName).`,
    value: `${taken}-2`,
    valueSelection: [taken.length, taken.length + 2],
    ignoreFocusOut: true,
    validateInput: (v) => (v === taken ? `"${taken}" is the name that is taken` : peerNameProblem(v)),
  });
  if (name === undefined) throw dismissed('no other peer name chosen');
  return name;
}

/** The content name problem in words, for an input box's live check; undefined when the name is fine. */
function contentNameProblem(name: string): string | undefined {
  try {
    validateContentName(name);
    return undefined;
  } catch (err) {
    return detailOrWords(err as P2PError);
  }
}

/** Asks for a content name, prefilled (the base name, or the name that clashed) with the part before the extension selected. */
async function askContentName(title: string, prefill: string, taken?: (name: string) => string | undefined): Promise<string> {
  const dot = prefill.lastIndexOf('.');
  const name = await vscode.window.showInputBox({
    title,
    prompt: 'The name other peers see and download this file by',
    value: prefill,
    valueSelection: [0, dot > 0 ? dot : prefill.length],
    ignoreFocusOut: true,
    validateInput: (v) => contentNameProblem(v) ?? taken?.(v),
  });
  if (name === undefined) throw dismissed('no content name chosen');
  return name;
}

export class ShareCommands {
  constructor(
    private readonly host: PeerHost,
    private readonly notifier: Notifier,
    /** p2p.askContentName, read at each use. */
    private readonly asksContentName: () => boolean,
  ) {}

  /** Returns the Share, or every Share when several files were selected in the explorer. */
  async registerFile(...args: unknown[]): Promise<Share | Share[]> {
    const given = registerPathsFrom(args);
    const active = activeFilePath();
    const paths = given ?? (active ? [active] : await pickFiles());
    // From the Command Palette a person chooses the name; a menu, keybinding or test passing the file takes its name.
    const contentName =
      given === undefined && paths.length === 1 && this.asksContentName()
        ? await askContentName(`Share "${path.basename(paths[0])}" as`, path.basename(paths[0]))
        : undefined;
    const peer = await this.host.ready();
    if (paths.length === 1) return this.registerOne(peer, paths[0], contentName);

    const shares: Share[] = [];
    for (const p of paths) {
      try {
        shares.push(await this.registerOne(peer, p));
      } catch (err) {
        if (toP2PError(err).code === 'CANCELLED') throw err;
        this.notifier.failure(err, { title: `Could not register "${path.basename(p)}"`, op: 'register' });
      }
    }
    if (shares.length > 0) vscode.window.setStatusBarMessage(`$(check) Sharing ${plural(shares.length, 'file')}`, 5000);
    return shares;
  }

  private async registerOne(peer: Peer, filePath: string, chosen?: string): Promise<Share> {
    const name = chosen ?? path.basename(filePath);
    try {
      const contentName = await this.freeContentName(peer, filePath, name);
      const share = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: labelText(`Registering ${contentName}`) },
        () => this.registerResolvingNameClash(peer, filePath, contentName),
      );
      vscode.window.setStatusBarMessage(`$(check) ${labelText(`Sharing ${share.contentName} (${formatBytes(share.size)}) as ${peer.peerName}`)}`, 5000);
      return share;
    } catch (err) {
      throw new CommandFailure(`Could not register "${name}"`, err);
    }
  }

  /**
   * The engine replaces a share registered again under its content name: when that name already shares
   * another file, the user says what to do (Replace, a numbered copy's name, another name, Cancel).
   */
  private async freeContentName(peer: Peer, filePath: string, wanted: string): Promise<string> {
    const sharedAs = (n: string) => peer.listLocal().find((s) => s.contentName === n);
    let name = wanted;
    for (;;) {
      const existing = sharedAs(name);
      if (!existing || existing.path === filePath) return name;
      const copy = nextFreeName(name, (n) => sharedAs(n) !== undefined);
      const replace = 'Replace';
      const shareAs = copy === undefined ? undefined : labelText(`Share as "${copy}"`);
      const choose = 'Choose a Name…';
      const picked = await vscode.window.showWarningMessage(
        notificationText(`You already share "${name}"`),
        { modal: true, detail: notificationText(`"${name}" is ${existing.path}. Replace it with ${filePath}, or share this file under another name.`) },
        // The first button is the one Enter presses: keeping both files loses nothing, replacing does.
        ...[shareAs, replace, choose].filter((x): x is string => x !== undefined),
      );
      if (picked === undefined) throw dismissed('content name clash: cancelled');
      if (picked === replace) return name;
      if (picked === shareAs) return copy!;
      name = await askContentName(`Share "${path.basename(filePath)}" as`, copy ?? name, (n) =>
        sharedAs(n) && sharedAs(n)!.path !== filePath ? `You already share a file as "${n}"` : undefined,
      );
    }
  }

  /** R; on NAME_TAKEN asks for another peer name, switches to it and tries again until it works or the user gives up. */
  private async registerResolvingNameClash(peer: Peer, filePath: string, contentName: string): Promise<Share> {
    for (;;) {
      try {
        return await peer.register(filePath, contentName);
      } catch (err) {
        if (toP2PError(err).code !== 'NAME_TAKEN') throw err;
      }
      for (;;) {
        const name = await askOtherPeerName(peer.peerName, peer.indexAddress);
        try {
          await this.host.setPeerName(name);
          break;
        } catch (err) {
          if (toP2PError(err).code !== 'NAME_TAKEN') throw err;
          // That one is taken as well: ask again, starting from it.
        }
      }
    }
  }

  async deregisterFile(arg?: unknown): Promise<void> {
    const peer = await this.host.ready();
    const given = contentNameFrom(arg);
    const names = given ? [given] : await this.pickShares(peer);
    for (const name of names) {
      try {
        await peer.deregister(name);
      } catch (err) {
        throw new CommandFailure(`Could not de-register "${name}"`, err);
      }
    }
    this.showIndexAfterChange();
    vscode.window.setStatusBarMessage(`$(check) ${labelText(`Stopped sharing ${names.length === 1 ? names[0] : plural(names.length, 'file')}`)}`, 5000);
  }

  /**
   * The engine announces a removed share before its T reaches the index, so the view's own refresh
   * can still list it: once the T is answered, ask the index again.
   */
  private showIndexAfterChange(): void {
    this.host.refreshOnline(true).catch(() => undefined);
  }

  private async pickShares(peer: Peer): Promise<string[]> {
    const shares = peer.listLocal();
    if (shares.length === 0) {
      void vscode.window.showInformationMessage('You are not sharing any file.');
      throw dismissed('nothing is shared');
    }
    const picked = await vscode.window.showQuickPick(
      shares.map((s) => ({ label: labelText(s.contentName), description: formatBytes(s.size), detail: labelText(s.path), contentName: s.contentName })),
      { title: 'De-register Files', placeHolder: 'Files to stop sharing', canPickMany: true, matchOnDetail: true },
    );
    if (!picked || picked.length === 0) throw dismissed('no share chosen');
    return picked.map((p) => p.contentName);
  }

  /** De-registers every share (the original's Q); the engine keeps running so the user can share again. */
  async quitSharing(): Promise<void> {
    const peer = await this.host.ready();
    const shares = peer.listLocal();
    if (shares.length === 0) {
      vscode.window.setStatusBarMessage('Nothing is shared', 3000);
      return;
    }
    const results = await Promise.allSettled(shares.map((s) => peer.deregister(s.contentName)));
    this.showIndexAfterChange();
    const failed = shares.filter((_, i) => results[i].status === 'rejected');
    if (failed.length > 0) {
      const first = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
      throw new CommandFailure(
        `Stopped sharing locally, but the index server may list ${failed.map((s) => `"${s.contentName}"`).join(', ')} until the lease ends`,
        first,
        'deregister',
      );
    }
    vscode.window.setStatusBarMessage(`$(check) Stopped sharing ${plural(shares.length, 'file')}`, 5000);
  }
}
