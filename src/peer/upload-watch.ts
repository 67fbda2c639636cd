// Who is downloading from this peer right now: one entry per open connection, its content and how much of it was sent.
import type { ActiveUpload } from './api';

/** How often a running transfer may announce its progress; starts and ends are announced at once. */
const DEFAULT_ANNOUNCE_MS = 500;

/**
 * The content server's uploads as a person would want to see them. An entry is keyed by the
 * connection, not by anything the downloader says, and a connection holds one entry (the content of
 * its latest request): however many requests a stranger makes, the list is no longer than the
 * server's connection cap, and an entry goes when its connection closes.
 */
export class UploadWatch {
  private readonly byConnection = new Map<object, ActiveUpload>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly changed: () => void,
    private readonly announceMs = DEFAULT_ANNOUNCE_MS,
  ) {}

  /** A request of `connection` is being answered; another content replaces the one before. */
  begin(connection: object, address: string, contentName: string, size: number): void {
    const now = this.byConnection.get(connection);
    if (now && now.contentName === contentName && now.size === size) return;
    this.byConnection.set(connection, { address, contentName, size, sent: 0 });
    this.announce();
  }

  /** `bytes` of the connection's content reached the socket. */
  sent(connection: object, bytes: number): void {
    const entry = this.byConnection.get(connection);
    if (!entry) return;
    entry.sent += bytes;
    this.timer ??= setTimeout(() => this.announce(), this.announceMs).unref();
  }

  /** The connection closed. */
  end(connection: object): void {
    if (this.byConnection.delete(connection)) this.announce();
  }

  /** Copies, so a listener cannot change what the server counts. */
  list(): ActiveUpload[] {
    return [...this.byConnection.values()].map((u) => ({ ...u }));
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.byConnection.clear();
  }

  private announce(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.changed();
  }
}
