// The VS Code extension's entry point: builds the peer engine host, the views, the commands and the status bar.
// First, so its clock starts before the other modules run.
import { markStartup, StartupMarks, startupMarks } from './startup-marks';
import * as vscode from 'vscode';
import type { Peer } from '../peer';
import { registerAllCommands } from './commands';
import { LOG_CHANNEL_NAME } from './view-model/ids';
import { inertLog } from './inert-log';
import { Notifier } from './notifier';
import { OnlineView } from './online-view';
import type { HostPortText } from './local-index-server';
import { PeerHost } from './peer-host';
import { loadPeerSecret } from './identity';
import { RestoreReport, ShareMemory } from './share-memory';
import { Settings } from './settings';
import { SharesView } from './shares-view';
import { StatusBar } from './status-bar';
import { SharedFileDecorations } from './decorations';
import { SharesDragAndDrop } from './drag-drop';
import { sharePaths } from './folder-share';
import { UploadsWatch } from './uploads';
import { uploadDescription } from './view-model/share-marks';

// The last module to run: every one it imports ran before this line.
markStartup('evaluated');

/** What activate() returns: a handle for tests (vscode.extensions.getExtension(...).exports). */
export interface P2PShareApi {
  peer(): Peer | undefined;
  localServer(): HostPortText | undefined;
  /** Resolves once the engine has started (undefined when it could not). */
  ready(): Promise<Peer | undefined>;
  /** Resolves once the shares remembered from the last session were checked and registered again. */
  restored(): Promise<RestoreReport>;
  /**
   * What a window reload does to this extension, without reloading the window the tests run in:
   * deactivate(), dispose every contribution, then activate again with the same storage (SecretStorage,
   * workspace state). `whileAway` runs between the two, as the world may change while a window is closed.
   * Resolves once the new engine has started; this handle then speaks for the new one.
   */
  reload(whileAway?: () => unknown): Promise<void>;
  /** When this extension host first reached each start-up step (bench/activation.ts reads them). */
  startupMarks(): StartupMarks;
}

/** One activation: its engine host and what it started. */
interface Session {
  host: PeerHost;
  started: Promise<unknown>;
  restored: Promise<RestoreReport>;
}

let session: Session | undefined;

function startSession(context: vscode.ExtensionContext): Session {
  const channel = vscode.window.createOutputChannel(LOG_CHANNEL_NAME, { log: true });
  context.subscriptions.push(channel);
  const log = inertLog(channel);
  const running = () => session?.host.localServer !== undefined;
  const notifier = new Notifier(log, running);
  const settings = new Settings((problem) => notifier.settingProblem(problem));
  context.subscriptions.push(settings);

  const secret = loadPeerSecret(context.secrets, log);
  void secret.then(() => markStartup('secret'));
  const peerHost = new PeerHost(settings, log, notifier, secret);
  context.subscriptions.push(peerHost);
  // Before the views and commands are built: its first step sends the O for the view's first page.
  const started = peerHost.start();
  void started.then(() => markStartup('engineStarted'));

  const uploads = new UploadsWatch(() => peerHost.current(), peerHost.onDidChangeState);
  const dropped = new SharesDragAndDrop(
    (paths) => sharePaths(paths, true),
    (err) => notifier.failure(err, { title: vscode.l10n.t('Could not share what was dropped'), op: 'register' }),
  );
  const sharesView = new SharesView(peerHost, {
    dragAndDropController: dropped,
    uploadText: (row) => uploadDescription(uploads.of(row.contentName)),
    onDidChangeUploads: uploads.onDidChange,
  });
  context.subscriptions.push(
    uploads,
    new OnlineView(peerHost, settings, log),
    sharesView,
    ...registerAllCommands({ host: peerHost, settings, notifier, log, selectedShares: () => sharesView.selection }),
    new StatusBar(peerHost),
    new SharedFileDecorations(() => peerHost.shares, (name) => uploads.of(name), peerHost.onDidChangeShares, uploads.onDidChange),
  );

  // Per window (workspace state): each window runs its own engine, so each registers again only what it shared.
  const memory = new ShareMemory(context.workspaceState, { engine: () => started.then(() => peerHost.current()), onDidChangeShares: peerHost.onDidChangeShares, log });
  context.subscriptions.push(memory);
  const restored = memory.restore();
  log.info(`P2P Share ${context.extension.packageJSON.version ?? ''} activated`);
  return { host: peerHost, started, restored };
}

export function activate(context: vscode.ExtensionContext): P2PShareApi {
  markStartup('activate');
  session = startSession(context);
  markStartup('activated');
  // Every call reads the current session, so the handle VS Code keeps stays right after reload().
  return {
    peer: () => session?.host.current(),
    localServer: () => session?.host.localServer,
    ready: async () => {
      const s = session;
      if (!s) return undefined;
      await s.started;
      return s.host.current();
    },
    restored: () => session?.restored ?? Promise.resolve({ restored: [], notRestored: [] }),
    reload: async (whileAway?: () => unknown) => {
      await deactivate();
      for (const d of context.subscriptions.splice(0)) d.dispose();
      await whileAway?.();
      session = startSession(context);
      await session.started;
    },
    startupMarks,
  };
}

/** De-registers every share (bounded in time) and stops the engine and any local index server. */
export async function deactivate(): Promise<void> {
  const s = session;
  session = undefined;
  await s?.host.shutdown();
}
