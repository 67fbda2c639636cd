// The menu loop: runs input lines one at a time in order against the peer engine and reports each result as events.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ConnectionState, DownloadOptions, DownloadProgress, DownloadResult, LogLevel, OnlineItem, Share } from '../peer/api';
import { ListPaging, type ListingPeer } from './list-paging';
import { P2PError, toP2PError } from '../protocol/errors';
import { isDownloadLine, isQuitLine, letterOf, MENU, menuLetterOfLine, parseCommand, parsePeerNameAnswer, type Command } from './commands';
import { downloadFailure, indexRefusal, missingFile, nameAlreadyShared, whyNotShared, type FailureContext } from './error-text';
import { downloadedEvent, errorEvent, helpEvent, onlineItemJson, progressEvent, shareJson, type CliEvent } from './events';
import type { Printer } from './printer';
import { StateReport } from './state-report';

/** What the menu needs of the peer engine (src/peer/peer.ts implements it). */
export interface MenuPeer extends ListingPeer {
  register(filePath: string, contentName?: string): Promise<Share>;
  deregister(contentName: string): Promise<void>;
  listLocal(): Share[];
  search(contentName: string): Promise<OnlineItem[]>;
  download(contentName: string, options?: DownloadOptions): Promise<DownloadResult>;
  setPeerName(peerName: string): Promise<void>;
  quit(): Promise<void>;
  on(event: 'state', listener: (state: ConnectionState, detail?: string) => void): unknown;
  on(event: 'log', listener: (level: LogLevel, message: string) => void): unknown;
  on(event: 'share-error', listener: (contentName: string, error: P2PError) => void): unknown;
  on(event: 'share-lost', listener: (contentName: string, reason: P2PError) => void): unknown;
  on(event: 'index-changed', listener: (address: string, previous: string) => void): unknown;
}

export interface SessionOptions {
  peer: MenuPeer;
  peerName: string;
  printer: Printer;
  json: boolean;
  downloadFolder: string;
  /** Folder relative paths in R are read from. */
  cwd: string;
  /** How long Q, end of input or a signal wait for the index server to confirm the de-registration. */
  quitTimeoutMs?: number;
  /** Least time between two progress events of one download. */
  progressIntervalMs?: number;
  /** Called whenever the session waits for input: 'command' normally, 'peer-name' after a clash in human mode. */
  onIdle?: (waitingFor: 'command' | 'peer-name') => void;
  /** The index address and request budget, for failures worded in the user's terms. */
  failure: FailureContext;
  /** Whether downloads are registered (false with --no-share-downloads). */
  shareDownloads: boolean;
}

/** The retry hint of a NAME_TAKEN error event in --json mode. */
export const RENAME_RETRY = 'N <new peer name>';
const DEFAULT_QUIT_TIMEOUT_MS = 5000;
const DEFAULT_PROGRESS_INTERVAL_MS = 250;

interface QueuedLine {
  line: string;
  /** Set when a Q arrived after this D was queued: it reports CANCELLED instead of running. */
  cancelled?: boolean;
}

interface PendingRegistration {
  path: string;
  contentName?: string;
  /** The path as typed, before ~ and the working folder were applied. */
  typed?: string;
}

/** Exit status of the program: 0 after a clean Q or end of input, 1 when de-registering failed, 128+n after signal n. */
export type ExitCode = number;

export class MenuSession {
  private readonly queue: QueuedLine[] = [];
  private working = false;
  private current?: { command: Command; abort?: AbortController };
  /** Registrations refused with NAME_TAKEN, retried after the next successful N (in input order). */
  private pending: PendingRegistration[] = [];
  /** Human mode after a clash: the next line is the new peer name. */
  private askingPeerName = false;
  private inputEnded = false;
  private quitting = false;
  /** After 'bye' nothing more is printed, whatever settles late. */
  private finished = false;
  private peerName: string;
  private readonly states: StateReport;
  private resolveDone!: (code: ExitCode) => void;
  /** Resolves with the exit code once the peer has quit and 'bye' was printed. */
  readonly done: Promise<ExitCode> = new Promise((resolve) => (this.resolveDone = resolve));

  private readonly lists: ListPaging;

  constructor(private readonly opts: SessionOptions) {
    this.peerName = opts.peerName;
    this.lists = new ListPaging(opts.peer);
    this.states = new StateReport({
      json: opts.json,
      failure: opts.failure,
      emit: (ev) => this.emit(ev),
      busy: () => this.current !== undefined,
      idle: () => this.opts.onIdle?.(this.askingPeerName ? 'peer-name' : 'command'),
    });
    opts.peer.on('state', (state, detail) => !this.quitting && this.states.changed(state, detail));
    opts.peer.on('index-changed', (address, previous) => !this.quitting && this.states.switched(address, previous));
    opts.peer.on('share-error', (contentName, error) => this.onShareError(contentName, error));
    // Human mode prints a warning line on stderr (main.ts); --json needs an event to parse.
    opts.peer.on('share-lost', (contentName, reason) => this.opts.json && !this.quitting && this.emit({ ...errorEvent(reason), contentName }));
  }

  /**
   * Reports the connection state the engine reached while starting (before anyone listened). With
   * `announced`, the human ready line already said the index does not answer: only its return is news.
   */
  reportState(state: ConnectionState, detail?: string, announced = false): void {
    this.states.starting(state, detail, announced);
  }

  /** The index address and request budget failures are worded with. */
  get failure(): FailureContext {
    return this.opts.failure;
  }

  /** True while no command runs or waits: a background line may redraw the prompt. */
  get idle(): boolean {
    return !this.working && !this.finished;
  }

  /** One line of input. Runs after every earlier line; a Q also cancels the downloads before it. */
  acceptLine(line: string): void {
    if (this.quitting || this.inputEnded) return;
    if (!this.askingPeerName && isQuitLine(line)) this.cancelDownloads();
    this.queue.push({ line });
    void this.drain();
  }

  /** End of input: behaves as Q once every queued command has run (downloads are not cancelled). */
  endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    void this.drain();
  }

  /** SIGINT/SIGTERM: cancel what runs, de-register everything and finish with 128 + the signal number. */
  interrupt(signal: NodeJS.Signals): void {
    const code = 128 + (os.constants.signals[signal] ?? 15);
    if (this.quitting) {
      // A second signal while quitting: the user does not want to wait for the index server.
      this.resolveDone(code);
      return;
    }
    this.queue.length = 0;
    void this.shutdown(code);
  }

  private emit(ev: CliEvent): void {
    if (this.finished || (this.quitting && ev.event !== 'bye')) return;
    this.opts.printer.print(ev);
  }

  private fail(err: unknown, command?: Command['kind'], retry?: string): void {
    const e = toP2PError(err);
    // A command cut off by quitting fails with CLOSED; that is the quit, not news.
    if (this.finished || (this.quitting && e.code === 'CLOSED')) return;
    this.opts.printer.print(errorEvent(e, command ? letterOf(command) : undefined, retry));
  }

  private cancelDownloads(): void {
    if (this.current?.command.kind === 'download') this.current.abort?.abort();
    for (const q of this.queue) {
      if (isDownloadLine(q.line)) q.cancelled = true;
    }
  }

  private async drain(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      while (!this.quitting) {
        const next = this.queue.shift();
        if (next) {
          await this.handle(next);
          continue;
        }
        if (this.inputEnded) {
          await this.shutdown(0);
        } else {
          this.opts.onIdle?.(this.askingPeerName ? 'peer-name' : 'command');
        }
        break;
      }
    } finally {
      this.working = false;
    }
  }

  private async handle(item: QueuedLine): Promise<void> {
    if (this.askingPeerName) {
      this.askingPeerName = false;
      return this.answerPeerName(item.line);
    }
    let command: Command | undefined;
    try {
      command = parseCommand(item.line);
    } catch (err) {
      if (!this.finished) this.opts.printer.print(errorEvent(toP2PError(err), menuLetterOfLine(item.line)));
      return;
    }
    if (!command) return;
    if (item.cancelled && command.kind === 'download') {
      this.fail(new P2PError('CANCELLED', `"${command.contentName}": Q came before the download started`), 'download');
      return;
    }
    await this.run(command);
  }

  private async run(command: Command): Promise<void> {
    this.current = { command };
    try {
      switch (command.kind) {
        case 'online':
          this.emit(await this.lists.onlinePage(command.more));
          break;
        case 'find':
          this.emit(await this.lists.findPage(command.text));
          break;
        case 'local':
          this.emit({ event: 'local', shares: this.opts.peer.listLocal().map(shareJson) });
          break;
        case 'register':
          await this.register({ path: this.resolvePath(command.path), contentName: command.contentName, typed: command.path });
          break;
        case 'deregister':
          await this.deregister(command.contentName);
          break;
        case 'download':
          await this.download(command.contentName, command.fromPeer, command.sha256);
          break;
        case 'search':
          await this.search(command.contentName);
          break;
        case 'rename':
          await this.rename(command.peerName);
          break;
        case 'help':
          this.emit(helpEvent(MENU));
          break;
        case 'quit':
          await this.shutdown(0);
          break;
      }
    } catch (err) {
      this.fail(this.explain(toP2PError(err), command), command.kind);
    } finally {
      this.current = undefined;
    }
  }

  /** A failure in the user's terms: the index's refusals name their subject, a silent index its address. */
  private explain(err: P2PError, command: Command): P2PError {
    const ctx = this.opts.failure;
    switch (command.kind) {
      case 'deregister':
        return indexRefusal(err, `"${command.contentName}" (peer name "${this.peerName}")`, ctx);
      case 'rename':
        return indexRefusal(err, `"${command.peerName}"`, ctx);
      case 'download':
      case 'search':
      case 'online':
      case 'find':
        return indexRefusal(err, '', ctx);
      default:
        return err;
    }
  }

  /** "~/x" as the shell would, then relative to the working directory. */
  private resolvePath(p: string): string {
    if (p === '~' || p.startsWith('~/') || p.startsWith(`~${path.sep}`)) p = path.join(os.homedir(), p.slice(1));
    return path.resolve(this.opts.cwd, p);
  }

  private async register(reg: PendingRegistration): Promise<void> {
    const taken = nameAlreadyShared(reg.contentName ?? path.basename(reg.path), reg.path, reg.typed ?? reg.path, this.opts.peer.listLocal());
    if (taken) throw taken;
    try {
      const share = await this.opts.peer.register(reg.path, reg.contentName);
      this.dropPending(share.contentName);
      this.emit({ event: 'registered', share: shareJson(share) });
    } catch (err) {
      const e = toP2PError(err);
      if (e.code === 'FILE_NOT_FOUND' && reg.typed !== undefined) throw missingFile(reg.typed, reg.path, reg.contentName, e);
      if (e.code !== 'NAME_TAKEN') throw indexRefusal(e, '', this.opts.failure);
      this.addPending(reg);
      this.reportClash(new P2PError('NAME_TAKEN', `"${this.peerName}"`, e), 'register', reg);
    }
  }

  private reportClash(err: P2PError, command: Command['kind'], reg?: PendingRegistration): void {
    if (this.opts.json) {
      this.fail(err, command, RENAME_RETRY);
      return;
    }
    this.fail(err, command);
    const waiting = reg ?? this.pending[0];
    if (waiting) {
      this.opts.printer.askPeerName(this.peerName, waiting.contentName ?? path.basename(waiting.path));
      this.askingPeerName = true;
    }
  }

  private addPending(reg: PendingRegistration): void {
    const name = reg.contentName ?? path.basename(reg.path);
    this.pending = this.pending.filter((p) => (p.contentName ?? path.basename(p.path)) !== name);
    this.pending.push(reg);
  }

  private dropPending(contentName: string): boolean {
    const before = this.pending.length;
    this.pending = this.pending.filter((p) => (p.contentName ?? path.basename(p.path)) !== contentName);
    return this.pending.length !== before;
  }

  private async deregister(contentName: string): Promise<void> {
    const wasPending = this.dropPending(contentName);
    const registered = this.opts.peer.listLocal().some((s) => s.contentName === contentName);
    if (wasPending && !registered) {
      // Refused by the index for a name clash: it only ever lived here, so forgetting it is the de-registration.
      this.emit({ event: 'deregistered', contentName });
      return;
    }
    await this.opts.peer.deregister(contentName);
    this.emit({ event: 'deregistered', contentName });
  }

  private async search(contentName: string): Promise<void> {
    const items = await this.opts.peer.search(contentName);
    if (items.length === 0) throw new P2PError('NOT_FOUND', `"${contentName}"`);
    this.emit({ event: 'sources', contentName, items: items.map(onlineItemJson) });
  }

  private async download(contentName: string, fromPeer?: string, sha256?: string): Promise<void> {
    const abort = new AbortController();
    if (this.current) this.current.abort = abort;
    try {
      await fs.mkdir(this.opts.downloadFolder, { recursive: true });
    } catch (err) {
      throw toP2PError(err, `creating the download folder ${this.opts.downloadFolder}`);
    }
    const interval = this.opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    let lastAt = -Infinity;
    let lastReceived = -1;
    let last: DownloadProgress | undefined;
    const onProgress = (p: DownloadProgress) => {
      last = p;
      const now = performance.now();
      const finished = p.total > 0 && p.received >= p.total;
      if (p.received === lastReceived || (!finished && now - lastAt < interval)) return;
      lastAt = now;
      lastReceived = p.received;
      this.emit(progressEvent(p));
    };
    let result: DownloadResult;
    try {
      result = await this.opts.peer.download(contentName, { folder: this.opts.downloadFolder, fromPeer, sha256, signal: abort.signal, onProgress });
    } catch (err) {
      // A person gets file sizes and the way to resume; a program keeps the engine's detail (which source, which range).
      throw this.opts.json ? err : downloadFailure(toP2PError(err), contentName, last);
    }
    const notShared = result.shared ? undefined : whyNotShared(result, this.opts.shareDownloads, this.opts.peer.listLocal());
    this.emit({ ...downloadedEvent(result), ...(notShared ? { notShared } : {}) });
  }

  private async rename(peerName: string): Promise<void> {
    const previous = this.peerName;
    try {
      await this.opts.peer.setPeerName(peerName);
    } catch (err) {
      const e = toP2PError(err);
      if (e.code === 'NAME_TAKEN') return this.reportClash(new P2PError('NAME_TAKEN', `"${peerName}"`, e), 'rename');
      throw e;
    }
    this.peerName = peerName;
    this.emit({ event: 'peer-name', peerName, previous });
    await this.retryPending();
  }

  /** After a successful N: the registrations a clash refused are tried again under the new name. */
  private async retryPending(): Promise<void> {
    const waiting = this.pending;
    this.pending = [];
    for (const [i, reg] of waiting.entries()) {
      const name = reg.contentName ?? path.basename(reg.path);
      // The engine may have kept a refused share and re-registered it with the rename.
      const kept = this.opts.peer.listLocal().find((s) => s.contentName === name && s.path === reg.path);
      if (kept) {
        this.emit({ event: 'registered', share: shareJson(kept) });
        continue;
      }
      try {
        const share = await this.opts.peer.register(reg.path, reg.contentName);
        this.emit({ event: 'registered', share: shareJson(share) });
      } catch (err) {
        const e = toP2PError(err);
        if (e.code !== 'NAME_TAKEN') {
          this.fail(e, 'register');
          continue;
        }
        // Taken again (someone grabbed it meanwhile): keep this and the rest for the next N.
        this.pending.push(...waiting.slice(i));
        this.reportClash(new P2PError('NAME_TAKEN', `"${this.peerName}"`, e), 'register', reg);
        return;
      }
    }
  }

  private async answerPeerName(line: string): Promise<void> {
    if (isQuitLine(line)) {
      await this.run({ kind: 'quit' });
      return;
    }
    let name: string | undefined;
    try {
      name = parsePeerNameAnswer(line);
    } catch (err) {
      // Not a usable name: say why and ask again.
      this.fail(err, 'rename');
      const waiting = this.pending[0];
      if (waiting) {
        this.opts.printer.askPeerName(this.peerName, waiting.contentName ?? path.basename(waiting.path));
        this.askingPeerName = true;
      }
      return;
    }
    if (name === undefined) {
      const skipped = this.pending.map((p) => `"${p.contentName ?? path.basename(p.path)}"`).join(', ');
      this.pending = [];
      this.fail(new P2PError('CANCELLED', `not registered: ${skipped}`), 'register');
      return;
    }
    await this.run({ kind: 'rename', peerName: name });
  }

  /**
   * The index refused to refresh a share in the background (NAME_TAKEN after an index restart, limits).
   * JSON clients get an error event; in human mode the engine's error log line on stderr says it.
   */
  private onShareError(contentName: string, error: P2PError): void {
    if (!this.opts.json || this.quitting) return;
    const ev = errorEvent(toP2PError(error), undefined, error.code === 'NAME_TAKEN' ? RENAME_RETRY : undefined);
    this.emit({ ...ev, contentName });
  }

  /** De-register everything (bounded by quitTimeoutMs), print 'bye' and resolve `done`. */
  private async shutdown(code: ExitCode): Promise<void> {
    if (this.quitting) return;
    this.quitting = true;
    this.queue.length = 0;
    this.current?.abort?.abort();
    const limit = this.opts.quitTimeoutMs ?? DEFAULT_QUIT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.opts.peer.quit(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new P2PError('TIMEOUT', `could not confirm the de-registration within ${limit / 1000} s`)),
            limit,
          );
        }),
      ]);
    } catch (err) {
      this.fail(err, 'quit');
      if (code === 0) code = 1;
    } finally {
      clearTimeout(timer);
    }
    this.emit({ event: 'bye' });
    this.finished = true;
    await this.opts.printer.flush();
    this.resolveDone(code);
  }
}
