// The log levels every layer speaks (engine, index server, terminal peer, extension), most severe first.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Every level, most severe first: a logger at one level writes it and those before it. */
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];

/** Whether `level` would be written by a logger at `max`: lets hot paths skip building a message. */
export function logs(max: LogLevel, level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(max);
}
