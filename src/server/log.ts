// The index server's leveled logger: one line per event on stderr, "ISO-time level message".
import { escapeInvisible } from '../common/control-escape';
import { LOG_LEVELS, LogLevel, logs } from '../common/log-level';
import { P2PError } from '../protocol/errors';

export type LogFn = (level: LogLevel, message: string) => void;

/** The levels --log-level offers: the server writes nothing at 'trace', so it does not offer it. */
export const SERVER_LOG_LEVELS: readonly LogLevel[] = LOG_LEVELS.filter((l) => l !== 'trace');

export interface LoggerOptions {
  /** Most detailed level written. Default 'info'. */
  level?: LogLevel;
  /** Where lines go. Default process.stderr. */
  write?: (line: string) => void;
  now?: () => number;
}

export function parseLogLevel(text: string): LogLevel {
  const level = text.trim().toLowerCase();
  if ((SERVER_LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new P2PError('BAD_SETTING', `log level must be one of ${SERVER_LOG_LEVELS.join(', ')}, got "${text}"`);
}

/** A LogFn that drops lines below `level`, so callers need not check the level themselves. */
export function createLogger(opts: LoggerOptions = {}): LogFn {
  const max = opts.level ?? 'info';
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const now = opts.now ?? Date.now;
  return (level, message) => {
    if (!logs(max, level)) return;
    // Names come from the network: a newline in one must not forge a log line, nor a bidi control reorder it.
    write(`${new Date(now()).toISOString()} ${level.padEnd(5)} ${escapeInvisible(message)}\n`);
  };
}
