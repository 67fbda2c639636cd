// Writes events to stdout: one JSON object per line in --json mode, readable lines (a live progress line on a TTY) otherwise.
import type { Writable } from 'node:stream';
import { jsonLine, type CliEvent } from './events';
import { askPeerNameLine, DEFAULT_COLUMNS, formatHuman, formatProgress } from './human-format';

export interface Printer {
  print(ev: CliEvent): void;
  /** Human mode's clash question; JSON mode says the same with the error event's "retry" field. */
  askPeerName(peerName: string, pending: string): void;
  /** Resolves once everything written so far has been handed to the operating system. */
  flush(): Promise<void>;
}

function flushStream(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (out.destroyed || out.writableEnded) return resolve();
    // An empty write's callback runs after every earlier write has been flushed.
    out.write('', () => resolve());
  });
}

export class JsonPrinter implements Printer {
  constructor(private readonly out: Writable) {}

  print(ev: CliEvent): void {
    this.out.write(`${jsonLine(ev)}\n`);
  }

  askPeerName(): void {
    // The error event already carries the retry hint.
  }

  flush(): Promise<void> {
    return flushStream(this.out);
  }
}

const CLEAR_LINE = '\r\x1b[2K';

/** What the human printer needs of the terminal besides stdout. */
export interface HumanPrinterOptions {
  /** Where background lines (engine log lines) go: stderr. */
  err?: Writable;
  /** Shows the prompt again when the menu waits for input; called after a background line. */
  redrawPrompt?: () => void;
}

export class HumanPrinter implements Printer {
  /** On a pipe, the last progress decile printed, so a log file gets ten lines and not thousands. */
  private lastDecile = new Map<string, number>();
  /** On a TTY, the progress line now showing (no newline yet), to draw again after a background line. */
  private liveLine?: string;

  constructor(
    private readonly out: Writable & { columns?: number },
    private readonly tty: boolean,
    private readonly options: HumanPrinterOptions = {},
  ) {}

  print(ev: CliEvent): void {
    if (ev.event === 'progress') return this.printProgress(ev);
    if (ev.event === 'downloaded') this.lastDecile.delete(ev.contentName);
    this.liveLine = undefined;
    const lines = formatHuman(ev, this.tty ? (this.out.columns ?? DEFAULT_COLUMNS) : DEFAULT_COLUMNS);
    if (lines.length === 0) return;
    this.write(lines.join('\n') + '\n');
  }

  askPeerName(peerName: string, pending: string): void {
    this.write(askPeerNameLine(peerName, pending) + '\n');
  }

  /** A line that is no event, such as the short menu a terminal shows at start. */
  printLine(text: string): void {
    this.write(text + '\n');
  }

  /**
   * A line from the background (an engine log line) on stderr. On a TTY it shares the screen line
   * with the prompt or the progress line: clear that first, then draw it again below.
   */
  background(text: string): void {
    const err = this.options.err;
    if (!err) return;
    if (!this.tty) {
      err.write(`${text}\n`);
      return;
    }
    this.out.write(CLEAR_LINE);
    err.write(`${text}\n`);
    if (this.liveLine !== undefined) this.out.write(this.liveLine);
    else this.options.redrawPrompt?.();
  }

  flush(): Promise<void> {
    return flushStream(this.out);
  }

  private write(text: string): void {
    // On a TTY the line may hold the prompt or a progress line; start clean.
    this.out.write(this.tty ? CLEAR_LINE + text : text);
  }

  private printProgress(ev: Extract<CliEvent, { event: 'progress' }>): void {
    if (this.tty) {
      this.liveLine = formatProgress(ev);
      this.out.write(CLEAR_LINE + this.liveLine);
      return;
    }
    const decile = ev.total > 0 ? Math.floor((ev.received / ev.total) * 10) : 10;
    if (this.lastDecile.get(ev.contentName) === decile) return;
    this.lastDecile.set(ev.contentName, decile);
    this.write(formatProgress(ev) + '\n');
  }
}
