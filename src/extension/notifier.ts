// Shows failures as notifications with useful buttons and writes their details to the P2P log.
import * as vscode from 'vscode';
import { P2PError, toP2PError } from '../protocol/errors';
import { ErrorAction, Operation, errorActions } from './view-model/error-actions';
import { Commands } from './view-model/ids';
import { notificationText } from './view-model/inert-text';
import { SettingProblem, openSettings } from './settings';

export interface FailureOptions {
  /** What failed, as the start of the sentence: 'Could not register "notes.txt"'. */
  title: string;
  op: Operation;
  /** The whole message, when the title and the error's words would say less well what happened. */
  text?: string;
  /** Runs the failed action again; without it there is no Retry button. */
  retry?: () => unknown;
}

/** Full detail of an error for the log: message, code, stack and the chain of causes. */
export function errorDetail(err: unknown): string {
  const lines: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (cur instanceof Error) {
      const code = cur instanceof P2PError ? ` [${cur.code}]` : (cur as NodeJS.ErrnoException).code ? ` [${(cur as NodeJS.ErrnoException).code}]` : '';
      lines.push(`${depth ? 'caused by: ' : ''}${cur.stack ?? `${cur.name}: ${cur.message}`}${code}`);
      cur = (cur as { cause?: unknown }).cause;
    } else {
      lines.push(`${depth ? 'caused by: ' : ''}${String(cur)}`);
      break;
    }
  }
  return lines.join('\n');
}

export class Notifier {
  private lastError: P2PError | undefined;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly localServerRunning: () => boolean,
  ) {}

  /** The last failure shown, for tests. */
  get last(): P2PError | undefined {
    return this.lastError;
  }

  /**
   * Logs the failure and shows it without waiting for the user: a command must return (tests await
   * it) while its notification stays up. Cancellation is logged only.
   */
  failure(err: unknown, opts: FailureOptions): P2PError {
    const e = toP2PError(err);
    if (e.code === 'CANCELLED') {
      this.log.info(`${opts.title}: cancelled`);
      return e;
    }
    this.lastError = e;
    this.log.error(`${opts.title}: ${e.message} [${e.code}]`);
    this.log.debug(errorDetail(e));
    const actions = errorActions(e.code, opts.op, {
      canRetry: opts.retry !== undefined,
      localServerRunning: this.localServerRunning(),
    });
    void this.show(opts.text ?? `${opts.title}: ${e.message}`, actions, opts.retry);
    return e;
  }

  /** A setting with a bad value: one notification naming it, with a button to fix it. */
  settingProblem(problem: SettingProblem): void {
    this.log.warn(`${problem.error.message}; keeping the previous value`);
    void this.show(`${problem.error.message}. The previous value stays in effect.`, [
      { id: 'openSettings', label: 'Open Settings', setting: problem.key },
    ]);
  }

  private async show(message: string, actions: ErrorAction[], retry?: () => unknown): Promise<void> {
    try {
      // Titles and messages carry names and E texts from other peers: no link may form from them.
      const picked = await vscode.window.showErrorMessage(notificationText(message), ...actions.map((a) => a.label));
      const action = actions.find((a) => a.label === picked);
      if (action) await this.run(action, retry);
    } catch (err) {
      this.log.error(`showing a notification failed: ${errorDetail(err)}`);
    }
  }

  private async run(action: ErrorAction, retry?: () => unknown): Promise<void> {
    switch (action.id) {
      case 'retry':
        await retry?.();
        return;
      case 'openSettings':
        await openSettings(action.setting);
        return;
      case 'showLog':
        this.log.show(true);
        return;
      case 'startLocalServer':
        await vscode.commands.executeCommand(Commands.startLocalServer);
        return;
      case 'setPeerName':
        await vscode.commands.executeCommand(Commands.setPeerName);
        return;
      case 'connect':
        await vscode.commands.executeCommand(Commands.connect);
        return;
    }
  }
}
