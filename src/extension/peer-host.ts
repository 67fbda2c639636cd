// Owns the running peer engine, keeps it in step with the settings and points it at the local index server on request.
import * as vscode from 'vscode';
import { Peer } from '../peer';
import { formatAddress } from '../peer/address';
import type { ConnectionState, LogLevel, OnlineItem, PeerOptions, Share } from '../peer/api';
import { P2PError, toP2PError } from '../protocol/errors';
import { ContextKeys } from './view-model/ids';
import { HostPortText, LocalIndexServer } from './local-index-server';
import { Notifier } from './notifier';
import { ShareNotices } from './share-notices';
import { OnlineCache, OnlineSnapshot } from './online-cache';
import { Settings, SettingsChange } from './settings';
import { within } from './time-budget';
import { localServerPort } from './view-model/settings-parse';
import { offlineNotice } from './view-model/status-text';
import { headStart, readFirstPage } from './first-page';
import { ONLINE_PAGE_ITEMS } from './online-cache';

/** deactivate() must finish quickly: VS Code gives an extension a few seconds before it moves on. */
const QUIT_BUDGET_MS = 3000;

function setContext(key: string, value: unknown): void {
  void vscode.commands.executeCommand('setContext', key, value);
}

export class PeerHost implements vscode.Disposable {
  private peer: Peer | undefined;
  private starting: Promise<Peer | undefined> | undefined;
  private startError: P2PError | undefined;
  private stateValue: ConnectionState = 'connecting';
  private detailValue: string | undefined;
  private reasonValue: P2PError | undefined;
  /** The index a move is trying right now: the status bar names it at once, before the engine decides. */
  private trying: string | undefined;
  /** The last index other than the local server that answered: where Stop Local Index Server offers to go back to. */
  private lastAnswered: string | undefined;
  /** Index the peer uses instead of p2p.indexServer while it points at the local index server. */
  private indexOverride: string | undefined;
  /** Engine changes (settings, restarts, local server) run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private detachPeer: (() => void) | undefined;
  private shuttingDown: Promise<void> | undefined;
  private readonly shareNotices: ShareNotices;

  private readonly stateEmitter = new vscode.EventEmitter<ConnectionState>();
  private readonly sharesEmitter = new vscode.EventEmitter<Share[]>();
  private readonly onlineEmitter = new vscode.EventEmitter<OnlineSnapshot>();
  private readonly serverEmitter = new vscode.EventEmitter<HostPortText | undefined>();
  /** Fires on every change the status bar shows: state, shares, peer name, index, local server. */
  readonly onDidChangeState = this.stateEmitter.event;
  readonly onDidChangeShares = this.sharesEmitter.event;
  readonly onDidChangeOnline = this.onlineEmitter.event;
  readonly onDidChangeLocalServer = this.serverEmitter.event;
  private readonly settingsSubscription: vscode.Disposable;
  private readonly onlineCache = new OnlineCache({
    ready: () => this.ready(),
    current: () => this.peer,
    changed: (snapshot) => {
      setContext(ContextKeys.onlineSearch, snapshot.search !== undefined);
      this.onlineEmitter.fire(snapshot);
    },
  });
  private readonly localIndex = new LocalIndexServer((level, message) => this.write(level, message));

  constructor(
    private readonly settings: Settings,
    private readonly log: vscode.LogOutputChannel,
    private readonly notifier: Notifier,
    /** The peer's secret (identity.ts): the same across engine restarts and reloads, so the index keeps this peer's name. */
    private readonly secret: Promise<Buffer>,
  ) {
    this.shareNotices = new ShareNotices(log, notifier);
    this.settingsSubscription = settings.onDidChange((change) => void this.enqueue(() => this.applySettings(change)));
    setContext(ContextKeys.state, 'connecting');
    setContext(ContextKeys.hasShares, false);
    setContext(ContextKeys.localServerRunning, false);
  }

  // ---- what the views and commands read ----

  current(): Peer | undefined {
    return this.peer;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get stateDetail(): string | undefined {
    return this.detailValue;
  }

  /** The error behind 'unreachable' or 'stopped'. */
  get stateError(): P2PError | undefined {
    return this.reasonValue;
  }

  get shares(): Share[] {
    try {
      return this.peer?.listLocal() ?? [];
    } catch {
      return []; // the engine has quit
    }
  }

  get online(): OnlineItem[] {
    return this.onlineCache.items;
  }

  get localServer(): HostPortText | undefined {
    return this.localIndex.address;
  }

  /** The index address in use ("host:port"), or the one the settings name before the engine runs. */
  get indexAddress(): string {
    return this.trying ?? this.peer?.indexAddress ?? this.indexOverride ?? this.settings.current.indexServer.text;
  }

  get peerName(): string {
    return this.peer?.peerName ?? this.settings.current.peerName;
  }

  // ---- engine lifecycle ----

  /** Starts the engine in the background; failures are shown as a notification with the fixes. */
  start(): Promise<Peer | undefined> {
    if (this.peer || this.starting || this.onlineCache.items.length > 0) return this.launch(true);
    // The first time, the view's first page comes straight from the index while the engine starts (first-page.ts).
    const first = readFirstPage(this.indexOverride ?? this.settings.current.indexServer.text, ONLINE_PAGE_ITEMS).then(
      // Only while the engine has not yet spoken: once it has, its state and list are the truth.
      (page) => !this.peer && this.stateValue === 'connecting' && this.onlineCache.showFirst(page),
      (err) => this.log.debug(`reading the first page of the online list: ${toP2PError(err).message}`),
    );
    return this.launch(true, headStart(first));
  }

  /** The running engine, starting it when needed; throws the reason it cannot run. */
  async ready(): Promise<Peer> {
    if (this.shuttingDown) throw new P2PError('CLOSED', 'VS Code is shutting the extension down');
    const peer =
      this.peer ??
      (await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'P2P: starting' }, () => this.launch(false)));
    if (!peer) throw this.startError ?? new P2PError('CLOSED', 'the peer engine is not running');
    return peer;
  }

  private launch(notify: boolean, after?: Promise<unknown>): Promise<Peer | undefined> {
    if (this.peer) return Promise.resolve(this.peer);
    this.starting ??= (async () => {
      this.setState('connecting');
      try {
        await after;
        const peer = await Peer.start(await this.options());
        if (this.shuttingDown) {
          await within(peer.quit(), QUIT_BUDGET_MS);
          return undefined;
        }
        this.startError = undefined;
        this.attach(peer);
        return peer;
      } catch (err) {
        const e = toP2PError(err, 'starting the peer');
        this.startError = e;
        this.setState('stopped', e.message, e);
        if (notify) this.notifier.failure(e, { title: 'Could not start sharing', op: 'start', retry: () => this.start() });
        else this.log.error(`could not start the peer: ${e.message}`);
        return undefined;
      } finally {
        this.starting = undefined;
      }
    })();
    return this.starting;
  }

  private async options(): Promise<PeerOptions> {
    const secret = await this.secret;
    const s = this.settings.current;
    return {
      peerName: s.peerName,
      index: this.indexOverride ?? s.indexServer.text,
      listenPort: s.listenPort,
      downloadFolder: s.downloadFolder,
      shareDownloads: s.shareDownloads,
      secret,
      log: (level, message) => this.write(level, message),
    };
  }

  private write(level: LogLevel, message: string): void {
    // The engine's levels are the log channel's method names.
    this.log[level](message);
  }

  private attach(peer: Peer): void {
    this.detachPeer?.();
    this.peer = peer;
    const onState = (state: ConnectionState, detail?: string) => this.setState(state, detail, peer.stateError);
    const onShares = (shares: Share[]) => this.sharesChanged(shares);
    const onShareError = (contentName: string, err: P2PError) => this.shareNotices.refused(contentName, err);
    const onShareLost = (contentName: string, err: P2PError) => this.shareNotices.lost(contentName, err);
    peer.on('state', onState);
    peer.on('shares-changed', onShares);
    peer.on('share-error', onShareError);
    peer.on('share-lost', onShareLost);
    this.detachPeer = () => {
      peer.off('state', onState);
      peer.off('shares-changed', onShares);
      peer.off('share-error', onShareError);
      peer.off('share-lost', onShareLost);
    };
    this.setState(peer.state, peer.stateDetail, peer.stateError);
    this.sharesChanged(this.shares);
  }

  private setState(state: ConnectionState, detail?: string, reason?: P2PError): void {
    this.stateValue = state;
    this.detailValue = detail;
    this.reasonValue = reason;
    const at = this.peer?.indexAddress;
    const local = this.localIndex.address;
    if (state === 'connected' && at && (!local || at !== formatAddress(local))) this.lastAnswered = at;
    setContext(ContextKeys.state, state);
    // A list from an index that no longer answers would offer downloads that cannot work.
    if (state === 'unreachable' || state === 'stopped') this.onlineCache.clear();
    this.stateEmitter.fire(state);
  }

  private sharesChanged(shares: Share[]): void {
    setContext(ContextKeys.hasShares, shares.length > 0);
    this.sharesEmitter.fire(shares);
    this.stateEmitter.fire(this.stateValue);
  }

  /** What the Online Content view shows: a slice of the list, or of a search. */
  get onlineSnapshot(): OnlineSnapshot {
    return this.onlineCache.snapshot;
  }

  /**
   * Reads again what the view shows (as many entries as shown, from the start; never the whole index).
   * Concurrent callers share one request; with `fresh`, one already in flight is not reused.
   */
  async refreshOnline(fresh = false): Promise<OnlineItem[]> {
    await this.onlineCache.refresh(fresh);
    return this.onlineCache.items;
  }

  /** The next page of the list, or of the search when one is shown. */
  loadMoreOnline(): Promise<void> {
    return this.onlineCache.loadMore();
  }

  /** Shows content whose name contains `text` instead of the list. */
  searchOnline(text: string): Promise<void> {
    return this.onlineCache.startSearch(text);
  }

  clearOnlineSearch(): void {
    this.onlineCache.clearSearch();
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applySettings(change: SettingsChange): Promise<void> {
    if (this.shuttingDown) return;
    const s = change.settings;
    if (change.changed.has('listenPort')) {
      // The content server's port is fixed for an engine's life: start a new one (it also picks up the rest).
      if (change.changed.has('indexServer')) this.indexOverride = undefined;
      await this.replaceEngine();
      return;
    }
    const peer = this.peer;
    if (!peer) {
      // Not running (its start failed): the new settings may be exactly the fix.
      if (!this.starting && this.startError) void this.start();
      return;
    }
    if (change.changed.has('peerName') && peer.peerName !== s.peerName) {
      try {
        await peer.setPeerName(s.peerName);
        this.stateEmitter.fire(this.stateValue);
      } catch (err) {
        this.notifier.failure(err, { title: `Could not change the peer name to "${s.peerName}"`, op: 'peerName' });
      }
    }
    if (change.changed.has('indexServer')) {
      this.indexOverride = undefined;
      await this.moveTo(peer, s.indexServer.text, 'connect');
    }
  }

  /** Points the peer at another index (moving every share there) and checks that it answers. */
  private async moveTo(peer: Peer, address: string, op: 'connect' | 'localServer'): Promise<ConnectionState> {
    try {
      if (peer.indexList !== address) {
        this.onlineCache.clear();
        this.trying = address;
        this.setState('connecting');
        try {
          await peer.setIndex(address);
        } finally {
          this.trying = undefined;
        }
        this.setState(peer.state, peer.stateDetail, peer.stateError);
      }
      // setIndex keeps an address it already has; a request is what tells whether it answers now.
      await this.refreshOnline().catch(() => undefined);
      this.noticeOffline(peer, address, op);
    } catch (err) {
      this.notifier.failure(err, {
        title: `Could not move to the index server at ${address}`,
        op,
        retry: () => this.enqueue(() => this.moveTo(peer, address, op)),
      });
    }
    this.stateEmitter.fire(this.stateValue);
    return peer.state;
  }

  /**
   * A move that ended offline says so once, in the status bar's words. Only while it is still true: a
   * later move (Start Local Index Server) or an answer in the meantime makes it old news.
   */
  private noticeOffline(peer: Peer, address: string, op: 'connect' | 'localServer'): void {
    if (peer !== this.peer || peer.indexList !== address || this.stateValue !== 'unreachable') return;
    const reason = this.reasonValue ?? new P2PError('TIMEOUT', address);
    this.notifier.failure(reason, {
      title: `Could not connect to the index server at ${address}`,
      text: offlineNotice(address, reason.code, this.detailValue),
      op,
      retry: () => this.enqueue(() => this.moveTo(peer, address, op)),
    });
  }

  /** Replaces the engine (new listen port) and registers the old engine's shares with the new one. */
  restart(): Promise<void> {
    return this.enqueue(() => this.replaceEngine());
  }

  private async replaceEngine(): Promise<void> {
    // An engine still starting would otherwise attach itself after the replacement.
    await this.starting;
    if (this.shuttingDown) return;
    const old = this.peer;
    const shares = this.shares;
    let fresh: Peer;
    this.setState('connecting');
    try {
      fresh = await Peer.start(await this.options());
    } catch (err) {
      // The old engine keeps running: a bad port must not stop sharing.
      const e = toP2PError(err, 'restarting the peer');
      this.notifier.failure(e, { title: 'Could not apply p2p.listenPort', op: 'start', retry: () => this.restart() });
      if (old) this.setState(old.state, old.stateDetail);
      else this.setState('stopped', e.message);
      return;
    }
    if (this.shuttingDown) {
      await within(fresh.quit(), QUIT_BUDGET_MS);
      return;
    }
    if (old) {
      this.detachPeer?.();
      this.detachPeer = undefined;
      await within(old.quit().catch((e) => this.log.warn(`stopping the previous engine: ${toP2PError(e).message}`)), QUIT_BUDGET_MS);
    }
    this.startError = undefined;
    this.attach(fresh);
    const failed: string[] = [];
    for (const s of shares) {
      try {
        await fresh.register(s.path, s.contentName);
      } catch (err) {
        failed.push(s.contentName);
        this.log.error(`could not share "${s.contentName}" again after the restart: ${toP2PError(err).message}`);
      }
    }
    this.log.info(`peer restarted on TCP port ${fresh.listenPort}; ${shares.length - failed.length} of ${shares.length} share(s) registered again`);
    if (failed.length > 0) {
      this.notifier.failure(new P2PError('IO', `${failed.map((n) => `"${n}"`).join(', ')}; see the log for why`), {
        title: 'Some files could not be shared again after the restart',
        op: 'register',
      });
    }
  }

  // ---- connection commands ----

  /** Saves the address in p2p.indexServer and moves the peer there; resolves with the resulting state. */
  async connect(address: string): Promise<{ index: string; state: ConnectionState }> {
    this.indexOverride = undefined;
    await this.settings.write('indexServer', address);
    const text = this.settings.current.indexServer.text;
    // The settings change (if any) is queued before this, so this runs after the move it triggers.
    const state = await this.enqueue(async () => {
      const peer = await this.ready();
      if (peer.indexList !== text) return this.moveTo(peer, text, 'connect');
      await this.refreshOnline().catch(() => undefined);
      return peer.state;
    });
    return { index: text, state };
  }

  async setPeerName(name: string): Promise<string> {
    const peer = await this.ready();
    await this.enqueue(() => peer.setPeerName(name));
    this.stateEmitter.fire(this.stateValue);
    // Saved after the index accepted it: a refused name must not end up in the settings.
    await this.settings.write('peerName', name);
    return peer.peerName;
  }

  /** Runs an index server inside this window on 127.0.0.1 and points the peer at it. */
  startLocalServer(port?: unknown): Promise<HostPortText> {
    return this.enqueue(async () => {
      let running = this.localIndex.address;
      if (!running) {
        running = await this.localIndex.start(localServerPort(this.settings.current.indexServer, port));
        setContext(ContextKeys.localServerRunning, true);
        this.serverEmitter.fire(this.localServer);
        this.log.info(`local index server listening on ${formatAddress(running)}`);
      }
      const address = formatAddress(running);
      // Set first, so an engine that is not running yet starts right at the local server.
      this.indexOverride = address;
      const peer = this.peer ?? (await this.launch(false));
      if (peer) await this.moveTo(peer, address, 'localServer');
      return running;
    });
  }

  /**
   * Stops the in-window index server; a peer that used it goes back to p2p.indexServer. Resolves with
   * the last other index that answered when the peer is left somewhere that does not (the setting named
   * the local server's port), so the caller can offer to go back there.
   */
  stopLocalServer(): Promise<string | undefined> {
    return this.enqueue(async () => {
      const running = this.localIndex.address;
      if (!running) return undefined;
      const address = formatAddress(running);
      const peer = this.peer;
      this.indexOverride = undefined;
      const configured = this.settings.current.indexServer.text;
      // Move the shares away while the old index still answers, so it hears the T.
      if (peer && peer.indexAddress === address && configured !== address) await this.moveTo(peer, configured, 'connect');
      await this.localIndex.stop();
      setContext(ContextKeys.localServerRunning, false);
      this.serverEmitter.fire(undefined);
      this.stateEmitter.fire(this.stateValue);
      this.log.info(`local index server at ${address} stopped`);
      if (peer && peer.indexAddress === address) await this.refreshOnline().catch(() => undefined);
      const previous = this.lastAnswered;
      return this.stateValue !== 'connected' && previous && previous !== this.indexAddress ? previous : undefined;
    });
  }

  // ---- shutdown ----

  /** De-registers everything (bounded in time), stops the engine and the local index server. */
  shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      await within(this.starting ?? Promise.resolve(undefined), QUIT_BUDGET_MS);
      const peer = this.peer;
      this.detachPeer?.();
      this.detachPeer = undefined;
      if (peer) {
        await within(
          peer.quit().catch((e) => this.log.warn(`quitting: ${toP2PError(e).message}`)),
          QUIT_BUDGET_MS,
        );
      }
      this.peer = undefined;
      await this.localIndex.stop().catch(() => undefined);
    })();
    return this.shuttingDown;
  }

  dispose(): void {
    void this.shutdown();
    this.settingsSubscription.dispose();
    this.stateEmitter.dispose();
    this.sharesEmitter.dispose();
    this.onlineEmitter.dispose();
    this.serverEmitter.dispose();
  }
}
