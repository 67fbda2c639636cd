// The peer engine's facade: one running peer (shares, index registrations with leases, downloads) for the CLI and the extension.
import { EventEmitter, setMaxListeners } from 'node:events';
import * as path from 'node:path';
import { P2PError, toP2PError } from '../protocol/errors';
import { MAX_NAME_BYTES } from '../protocol/messages';
import { entryBytes } from '../protocol/udp';
import { validateContentName, validatePeerName } from '../protocol/names';
import { HostPort, formatAddress, formatAddressList, parseAddressList } from './address';
import type {
  ActiveUpload, ConnectionState, DownloadOptions, DownloadResult, LogLevel, OnlineItem, OnlinePage, PageRequest, PeerEvents, PeerOptions,
  SearchPage, Share,
} from './api';
import { flattenHits, readSlice, searchHitBytes } from './list-pages';
import { ContentServer } from './content-server';
import { Downloader } from './download/downloader';
import { IndexLink, isNetworkFailure } from './index-link';
import { failOver, MoveParts, moveShares, renameShares } from './moves';
import { Failover } from './failover';
import type { IndexClient } from './index-client';
import { Leases } from './leases';
import { PreparedShare, ShareBook } from './share-book';
import { badSetting, PeerSettings, readOptions } from './peer-options';
import { toItem } from './source-choice';
import { fetchContent } from './fetch-content';
import { makeTlsIdentity, TlsIdentity } from './tls-identity';
import { isHashPrefix } from './versions';

/** Handshake tries when a peer starts: about 1.5 s with the default 500 ms first timeout. */
const STARTUP_PROBE_TRIES = 2;

export interface Peer {
  on<K extends keyof PeerEvents>(event: K, listener: PeerEvents[K]): this;
  once<K extends keyof PeerEvents>(event: K, listener: PeerEvents[K]): this;
  off<K extends keyof PeerEvents>(event: K, listener: PeerEvents[K]): this;
  emit<K extends keyof PeerEvents>(event: K, ...args: Parameters<PeerEvents[K]>): boolean;
}

export class Peer extends EventEmitter {
  private name: string;
  private readonly link: IndexLink;
  private readonly book: ShareBook;
  private readonly content: ContentServer;
  private readonly downloader: Downloader;
  private readonly leases: Leases;
  private readonly failover: Failover;
  /** Operations that change registrations run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Aborted by quit(): every request and download in progress stops. */
  private readonly lifetime = new AbortController();
  private quitting?: Promise<void>;

  /** Starts the content server and probes the index; resolves even when the index does not answer. */
  static async start(options: PeerOptions): Promise<Peer> {
    const settings = readOptions(options);
    // The key comes from the secret, so the pin others hold for this peer survives its restarts.
    const peer = new Peer(settings, await makeTlsIdentity(settings.secret));
    try {
      await peer.content.listen(settings.listenPort, settings.listenHost);
    } catch (err) {
      peer.book.close();
      await peer.link.close();
      throw toP2PError(err, 'starting the content server');
    }
    peer.logLine('info', `peer "${peer.name}" serving content on TCP port ${peer.listenPort}; index server ${peer.indexAddress}`);
    // A short probe: an unreachable index must not hold up the editor or the terminal for the
    // full retry schedule; later requests retry in full and flip the state when it answers.
    await peer.link.probe(peer.link.client, false, STARTUP_PROBE_TRIES);
    // Several index servers: the first that answers, found before the caller says "ready".
    await peer.failover.whenSilent();
    peer.failover.start();
    return peer;
  }

  private constructor(
    private readonly settings: PeerSettings,
    private readonly identity: TlsIdentity,
  ) {
    super();
    // Every request and download listens on this one signal; many at once are normal, not a leak.
    setMaxListeners(0, this.lifetime.signal);
    this.name = settings.peerName;
    this.book = new ShareBook({ watch: settings.watchShares, log: (l, m) => this.logLine(l, m) });
    const failed = (what: string) => (err: unknown) => {
      if (!this.quitting) this.logLine('error', `${what}: ${toP2PError(err).message}`);
    };
    this.book.on('share-changed', (share) => void this.onShareChanged(share).catch(failed(`re-registering "${share.contentName}"`)));
    this.book.on('share-removed', (share, reason) => void this.onShareRemoved(share, reason).catch(failed(`de-registering "${share.contentName}"`)));
    this.content = new ContentServer({
      lookup: (name, hash) => this.book.lookup(name, hash),
      onPathChanged: (name) => this.book.suspect(name),
      uploadRateLimit: settings.uploadRateLimit,
      minTransferRate: settings.minTransferRate,
      maxConnectionsPerAddress: settings.maxConnectionsPerAddress,
      tls: { key: identity.key, cert: identity.cert },
      log: (l, m) => this.logLine(l, m),
    });
    this.content.on('uploads-changed', (uploads: ActiveUpload[]) => this.emit('uploads-changed', uploads));
    this.downloader = new Downloader({
      stallTimeoutMs: settings.stallTimeoutMs,
      minTransferRate: settings.minTransferRate,
      maxBytes: settings.maxDownloadBytes,
      log: (l, m) => this.logLine(l, m),
    });
    this.link = new IndexLink(settings, {
      lifetime: this.lifetime.signal,
      listenPort: () => this.listenPort,
      tlsPin: identity.pin,
      isQuitting: () => this.quitting !== undefined,
      closedOr: (err) => this.closedOr(err),
      log: (l, m) => this.logLine(l, m),
      onSwitched: (address, previous) => this.emit('index-changed', address, previous),
      onState: (state, detail, before) => {
        this.emit('state', state, detail);
        // Silence at the index in use: with others known, one round of tries (at most one at a time).
        if (state === 'unreachable') void this.failover.whenSilent();
        if (state === 'connected' && before === 'unreachable') {
          // The index answers again: re-register at once whatever could not be refreshed while it was away.
          this.leases.retryLapsed();
        }
      },
    });
    this.leases = new Leases({
      renew: (contentName, signal) => {
        const share = this.book.get(contentName);
        return share && this.link.call((c, o) => this.link.registerAt(c, this.name, share, o), signal);
      },
      onRenewFailed: (contentName, err) => this.reportRefreshFailure(contentName, toP2PError(err)),
      onRegisteredAgain: (contentName) => this.logLine('info', `"${contentName}" is registered again at ${this.indexAddress}`),
    });
    this.failover = new Failover(settings.indexes, settings.indexCheckMs, {
      link: this.link,
      exclusive: (work) => this.exclusive(work),
      moveTo: (client, address) => this.failOverTo(client, address),
      isQuitting: () => this.quitting !== undefined,
      log: (l, m) => this.logLine(l, m),
    });
  }

  // ---- getters ----

  get peerName(): string {
    return this.name;
  }

  /** TCP port of this peer's content server (0 after quit). */
  get listenPort(): number {
    return this.content.port;
  }

  /** The index servers this peer knows, "a:7870,b:7870", in order of preference (setIndex, PeerOptions.index). */
  get indexList(): string {
    return formatAddressList(this.failover.servers);
  }

  /** "host:port" of the index server in use ("[::1]:7870" for IPv6). */
  get indexAddress(): string {
    return this.link.addressText;
  }

  get state(): ConnectionState {
    return this.link.connectionState;
  }

  /** Why the state is what it is (the last error when 'unreachable'). */
  get stateDetail(): string | undefined {
    return this.link.stateDetail;
  }

  /** The error behind 'unreachable': its code and cause tell a missing host from a closed port or silence. */
  get stateError(): P2PError | undefined {
    return this.link.stateError;
  }

  /** Who is downloading from this peer right now. */
  get uploads(): ActiveUpload[] {
    return this.content.uploads;
  }

  /** SHA-256 of this peer's TLS public key (hex), as every R claims it. */
  get tlsPin(): string {
    return this.identity.pin.toString('hex');
  }

  get downloadFolder(): string {
    return this.settings.downloadFolder;
  }

  // ---- menu operations ----

  /**
   * Shares a file (menu R): hashes it, registers it at the index, serves it. The content name defaults to
   * the file's base name. NAME_TAKEN when another peer owns this peer name: nothing is kept, and the caller
   * should ask for another name (setPeerName). Re-registering a content name replaces that share.
   */
  async register(filePath: string, contentName?: string): Promise<Share> {
    this.ensureOpen();
    // Hashing may take long on a big file; other registration changes need not wait for it.
    const prepared = await this.book.prepare(filePath, contentName, this.lifetime.signal).catch((e) => {
      throw this.closedOr(e);
    });
    return this.exclusive(() => this.registerPrepared(prepared));
  }

  /**
   * Stops sharing one content (menu T). The share is removed locally in every case; an error other than
   * NOT_REGISTERED means the index may list it until its lease runs out.
   */
  async deregister(contentName: string): Promise<void> {
    this.ensureOpen();
    return this.exclusive(async () => {
      const local = this.book.get(contentName);
      if (!local) validateContentName(contentName);
      await this.leases.drop(contentName);
      if (local) {
        this.book.remove(contentName);
        this.emitShares();
      }
      try {
        await this.link.deregister(this.name, contentName);
        this.logLine('info', `de-registered "${contentName}"`);
      } catch (err) {
        const e = this.closedOr(err);
        if (e.code === 'NOT_REGISTERED' && local) {
          this.logLine('debug', `the index no longer listed "${contentName}"`);
          return;
        }
        throw e;
      }
    });
  }

  /** This peer's shares, from memory (menu L). */
  listLocal(): Share[] {
    this.ensureOpen();
    return this.book.list();
  }

  /**
   * A slice of the online list (menu O): from `request.cursor` (absent: the start), at most
   * `request.maxItems` entries and `maxBytes` bytes, whatever the index sends (list-pages.ts).
   */
  async listOnline(request: PageRequest = {}): Promise<OnlinePage> {
    this.ensureOpen();
    const fetch = (at: number) => this.link.call((c, o) => c.onlinePage(at, o)).then((p) => ({ items: p.entries, next: p.next }));
    const slice = await readSlice(fetch, entryBytes, request, `index server ${this.indexAddress}`);
    return { items: slice.items.map((e) => toItem(e, e.contentName)), next: slice.next };
  }

  /**
   * Content whose name contains `text` (menu F; case-insensitive as docs/protocol.md F says): one hit
   * per version, bounded per call as listOnline is.
   */
  async searchOnline(text: string, request: PageRequest = {}): Promise<SearchPage> {
    this.ensureOpen();
    if (text === '') throw badSetting('the search text is empty');
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_NAME_BYTES) throw new P2PError('TOO_LARGE', `the search text is ${bytes} bytes; the limit is ${MAX_NAME_BYTES}`);
    const fetch = (at: number) => this.link.call((c, o) => c.namePage(text, at, o)).then((p) => ({ items: flattenHits(p.hits), next: p.next }));
    const slice = await readSlice(fetch, searchHitBytes, request, `index server ${this.indexAddress}`);
    return { hits: slice.items, next: slice.next };
  }

  /** Every source of one content (menu S); empty when nobody shares it. */
  async search(contentName: string): Promise<OnlineItem[]> {
    this.ensureOpen();
    validateContentName(contentName);
    return (await this.link.sources(contentName)).map((s) => toItem(s, contentName));
  }

  /**
   * Downloads one content from every peer that shares the chosen version (same SHA-256 and size), then,
   * unless told not to, registers the file so this peer becomes a source too.
   */
  async download(contentName: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
    this.ensureOpen();
    validateContentName(contentName);
    const wantHash = opts.sha256?.toLowerCase();
    if (wantHash !== undefined && !isHashPrefix(wantHash)) throw badSetting(`sha256 must be 8 to 64 hex digits (a prefix is enough), got "${opts.sha256}"`);
    const folder = path.resolve(opts.folder ?? this.settings.downloadFolder);

    const found = await this.link.sources(contentName);
    const self = {
      peerName: this.name,
      listenPort: this.listenPort,
      indexHost: this.link.address.host,
      requireEncryption: opts.requireEncryption ?? this.settings.requireEncryption,
      log: (level: LogLevel, message: string) => this.logLine(level, message),
    };
    const context = { folder, lifetime: this.lifetime.signal, closedOr: (e: unknown) => this.closedOr(e) };
    const result = await fetchContent(this.downloader, contentName, found, { wantHash, fromPeer: opts.fromPeer }, self, opts, context);
    if (opts.share ?? this.settings.shareDownloads) result.shared = await this.shareDownload(result);
    return result;
  }

  /**
   * Renames this peer: registers every share under the new name, then removes the old name's entries.
   * NAME_TAKEN (or any failure) on the new name leaves everything under the old name and throws.
   */
  async setPeerName(newName: string): Promise<void> {
    this.ensureOpen();
    validatePeerName(newName);
    return this.exclusive(async () => {
      if (newName === this.name) return;
      const oldName = this.name;
      await renameShares(this.moveParts(), oldName, newName, this.book.list(), () => (this.name = newName));
    });
  }

  /**
   * Moves every share to another index server: R at the new one, then T at the old one (best effort).
   * The switch happens even when the new index does not answer (state 'unreachable'; the shares register
   * as soon as it does), but NAME_TAKEN there leaves everything at the old index and throws. Given a
   * list, the peer moves to its first and, if that one is silent, on to the next that answers; the same
   * list again keeps the index in use.
   */
  async setIndex(address: string | HostPort | ReadonlyArray<string | HostPort>): Promise<void> {
    this.ensureOpen();
    const list = parseAddressList(address);
    const next = list[0];
    return this.exclusive(async () => {
      const same = formatAddressList(list) === this.indexList;
      this.failover.setList(list);
      if (same || formatAddress(next) === this.link.addressText) return;
      await moveShares(this.moveParts(), this.name, next, this.book.list());
    });
  }

  /**
   * De-registers everything in one T (at most ~2 s, even when the index is gone), then closes the content
   * server, the UDP socket and the watchers (menu Q). Idempotent; afterwards every method throws CLOSED.
   */
  quit(): Promise<void> {
    if (this.quitting) return this.quitting;
    this.lifetime.abort();
    this.failover.close();
    const refreshesStopped = this.leases.close();
    this.quitting = (async () => {
      // Operations already queued see the abort and fail with CLOSED; then this one runs alone.
      await this.tail.catch(() => undefined);
      await refreshesStopped;
      this.book.close();
      const shares = this.book.list();
      if (shares.length > 0 || this.leases.anyRegistered()) {
        // Not bound to the lifetime, which is over: the budget alone limits this last T.
        await this.link.deregisterAll(this.link.client, this.name)
          .then(() => this.logLine('info', `de-registered all ${shares.length} share(s) of "${this.name}"`))
          .catch((err) => this.logLine('warn', `could not de-register at ${this.indexAddress} while quitting: ${toP2PError(err).message}`));
      }
      await Promise.all([
        this.content.close().catch((err) => this.logLine('warn', `closing the content server: ${toP2PError(err).message}`)),
        this.link.close(),
      ]);
      this.link.setState('stopped');
      this.logLine('info', `peer "${this.name}" stopped`);
    })();
    return this.quitting;
  }

  // ---- registration internals ----

  /** R for a hashed file, then the share is kept; on any failure the previous state stays as it was. */
  private async registerPrepared(prepared: PreparedShare): Promise<Share> {
    const { contentName, size } = prepared.share;
    await this.leases.stop(contentName);
    let lease: number;
    try {
      lease = await this.link.call((c, o) => this.link.registerAt(c, this.name, prepared.share, o));
    } catch (err) {
      // A share this one would have replaced is still registered: keep refreshing it.
      if (this.book.get(contentName)) this.leases.schedule(contentName);
      else await this.leases.drop(contentName);
      throw this.closedOr(err);
    }
    const share = this.book.put(prepared);
    this.leases.renewed(contentName, lease);
    this.logLine('info', `registered "${contentName}" (${size} bytes) as "${this.name}"; lease ${lease} s`);
    this.emitShares();
    return share;
  }

  private async shareDownload(result: DownloadResult): Promise<boolean> {
    const existing = this.book.get(result.contentName);
    if (existing && existing.sha256 === result.sha256) return true;
    if (existing) {
      this.logLine('info', `not sharing the download of "${result.contentName}": this peer already shares another file under that name (${existing.path})`);
      return false;
    }
    try {
      await this.exclusive(async () => {
        // Hashed again rather than trusted: the file is on disk now and may be touched before it is served.
        const prepared = await this.book.prepare(result.path, result.contentName, this.lifetime.signal).catch(async (err) => {
          throw this.closedOr(err);
        });
        this.ensureOpen();
        if (prepared.share.sha256 !== result.sha256) {
          throw new P2PError('HASH_MISMATCH', `${result.path} changed after it was downloaded`);
        }
        await this.registerPrepared(prepared);
      });
      return true;
    } catch (err) {
      this.logLine('warn', `downloaded "${result.contentName}" but could not share it: ${toP2PError(err).message}`);
      return false;
    }
  }

  private async onShareChanged(share: Share): Promise<void> {
    await this.exclusive(async () => {
      // A later change or removal supersedes this one.
      if (this.quitting || this.book.get(share.contentName)?.sha256 !== share.sha256) return;
      await this.leases.stop(share.contentName);
      try {
        const lease = await this.link.call((c, o) => this.link.registerAt(c, this.name, share, o));
        this.leases.renewed(share.contentName, lease);
        this.logLine('info', `re-registered "${share.contentName}" with its new content (${share.size} bytes)`);
      } catch (err) {
        if (this.quitting) return;
        this.reportRefreshFailure(share.contentName, toP2PError(err));
        this.leases.failed(share.contentName);
      }
      this.emitShares();
    });
  }

  private async onShareRemoved(share: Share, reason: P2PError): Promise<void> {
    await this.exclusive(async () => {
      if (this.quitting) return;
      await this.leases.drop(share.contentName);
      this.emitShares();
      this.emit('share-lost', share.contentName, reason);
      try {
        await this.link.deregister(this.name, share.contentName);
        this.logLine('info', `de-registered "${share.contentName}": ${reason.message}`);
      } catch (err) {
        const e = toP2PError(err);
        if (e.code !== 'NOT_REGISTERED' && !this.quitting) {
          this.logLine('warn', `could not de-register "${share.contentName}" (${reason.message}): ${e.message}`);
        }
      }
    });
  }

  // ---- leases ----

  private reportRefreshFailure(contentName: string, err: P2PError): void {
    if (isNetworkFailure(err)) {
      this.logLine('warn', `could not refresh "${contentName}": ${err.message}`);
    } else {
      // NAME_TAKEN after an index restart (someone took the name meanwhile), PEER_LIMIT, INDEX_FULL...
      this.logLine('error', `the index refused "${contentName}": ${err.message}`);
      this.emit('share-error', contentName, err);
    }
  }

  // ---- plumbing ----

  /** The failover found `client` answering: every share goes there (no rename or move runs meanwhile). */
  private failOverTo(client: IndexClient, address: HostPort): Promise<void> {
    const refused = (name: string, err: P2PError) => this.reportRefreshFailure(name, err);
    return failOver(this.moveParts(), this.name, client, address, this.book.list(), refused);
  }

  private moveParts(): MoveParts {
    return { link: this.link, leases: this.leases, lifetime: this.lifetime.signal, closedOr: (e) => this.closedOr(e), log: (l, m) => this.logLine(l, m) };
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      this.ensureOpen();
      return work();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private ensureOpen(): void {
    if (this.quitting) throw new P2PError('CLOSED', `peer "${this.name}" has quit`);
  }

  /** A request cut short by quit() reports CLOSED, not the CANCELLED it saw. */
  private closedOr(err: unknown): P2PError {
    const e = toP2PError(err);
    if (this.quitting && (e.code === 'CANCELLED' || e.code === 'CLOSED')) return new P2PError('CLOSED', `peer "${this.name}" has quit`);
    return e;
  }

  private emitShares(): void {
    this.emit('shares-changed', this.book.list());
  }

  private logLine(level: LogLevel, message: string): void {
    try {
      this.settings.log?.(level, message);
    } catch {
      // A failing logger must not break the engine.
    }
    if (this.listenerCount('log') > 0) this.emit('log', level, message);
  }
}
