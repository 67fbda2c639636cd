// The index server's leveled logger: one line per event on stderr, "ISO-time level message".
import { P2PError } from '../protocol/errors';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFn = (level: LogLevel, message: string) => void;

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface LoggerOptions {
  /** Most detailed level written. Default 'info'. */
  level?: LogLevel;
  /** Where lines go. Default process.stderr. */
  write?: (line: string) => void;
  now?: () => number;
}

export function parseLogLevel(text: string): LogLevel {
  const level = text.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new P2PError('BAD_SETTING', `log level must be one of ${LOG_LEVELS.join(', ')}, got "${text}"`);
}

/** A LogFn that drops lines below `level`, so callers need not check the level themselves. */
export function createLogger(opts: LoggerOptions = {}): LogFn {
  const max = LOG_LEVELS.indexOf(opts.level ?? 'info');
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const now = opts.now ?? Date.now;
  return (level, message) => {
    if (LOG_LEVELS.indexOf(level) > max) return;
    write(`${new Date(now()).toISOString()} ${level.padEnd(5)} ${escapeControls(message)}\n`);
  };
}

/** Whether `level` would be written by a logger at `max`: lets hot paths skip building a message. */
export function logs(max: LogLevel, level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(max);
}

/** Names come from the network: a newline in one must not forge a log line. */
function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
