// Registers command handlers so every failure becomes a notification with actions, never an unhandled rejection.
import * as vscode from 'vscode';
import { P2PError } from '../protocol/errors';
import type { Operation } from './view-model/error-actions';
import type { CommandId } from './view-model/ids';
import { Notifier } from './notifier';

/** Thrown by a handler that knows better than the generic title what failed. */
export class CommandFailure extends Error {
  constructor(
    readonly title: string,
    override readonly cause: unknown,
    readonly op?: Operation,
  ) {
    super(title);
  }
}

/** The user closed a picker or an input box: end the command quietly. */
export function dismissed(what: string): P2PError {
  return new P2PError('CANCELLED', what);
}

export interface CommandSpec {
  op: Operation;
  /** Start of the failure sentence for this call, e.g. 'Could not download "x"'. */
  failure: (args: unknown[]) => string;
  run: (...args: unknown[]) => Promise<unknown>;
}

/**
 * Wraps each handler: the command resolves with the handler's value, or with undefined after showing
 * the failure (Retry runs the same command with the same arguments).
 */
export function registerCommands(notifier: Notifier, specs: Record<CommandId, CommandSpec>): vscode.Disposable[] {
  return (Object.entries(specs) as [CommandId, CommandSpec][]).map(([id, spec]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await spec.run(...args);
      } catch (err) {
        const failure = err instanceof CommandFailure ? err : undefined;
        notifier.failure(failure ? failure.cause : err, {
          title: failure?.title ?? spec.failure(args),
          op: failure?.op ?? spec.op,
          retry: () => vscode.commands.executeCommand(id, ...args),
        });
        return undefined;
      }
    }),
  );
}
