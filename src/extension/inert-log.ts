// The P2P log channel as the extension writes to it: every line made inert first (view-model/inert-text.ts logText).
import * as vscode from 'vscode';
import { logText } from './view-model/inert-text';

const LINE_METHODS: ReadonlySet<string | symbol> = new Set(['trace', 'debug', 'info', 'warn', 'error', 'appendLine']);

/**
 * `channel` with its line-writing methods escaping their text: log lines quote peer names and E
 * texts, and a newline or escape in one must not forge a line of its own. Everything else passes through.
 */
export function inertLog(channel: vscode.LogOutputChannel): vscode.LogOutputChannel {
  return new Proxy(channel, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (!LINE_METHODS.has(prop)) return value.bind(target);
      return (message: unknown, ...args: unknown[]) => value.call(target, typeof message === 'string' ? logText(message) : message, ...args);
    },
  });
}
