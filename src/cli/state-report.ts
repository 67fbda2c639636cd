// Which changes of the index connection the menu reports: every one in --json, in human mode only a silent index and its return.
import type { ConnectionState } from '../peer/api';
import { P2PError } from '../protocol/errors';
import { indexSilentDetail, type FailureContext } from './error-text';
import type { CliEvent } from './events';

/** What the reporter needs of the menu, each as a narrow callback or value. */
export interface StateReportHooks {
  json: boolean;
  failure: FailureContext;
  emit: (ev: CliEvent) => void;
  /** True while a command runs: it reports its own failure. */
  busy: () => boolean;
  /** The prompt is drawn again after a line printed between commands. */
  idle: () => void;
}

export class StateReport {
  /**
   * Another index server took over (failover): the menu prints that line itself, so the answer that
   * follows is not "answers again" in human mode; a silence of the new one is news again.
   */
  switched(index: string, previous: string): void {
    this.hooks.emit({ event: 'index', index, previous });
    this.warnedUnreachable = false;
  }

  private last?: ConnectionState;
  private warnedUnreachable = false;

  constructor(private readonly hooks: StateReportHooks) {}

  /**
   * The state the engine reached while starting (before anyone listened). With `announced`, the human
   * ready line already said the index does not answer: only its return is news.
   */
  starting(state: ConnectionState, detail?: string, announced = false): void {
    if (announced && state === 'unreachable' && !this.hooks.json) {
      this.last = state;
      this.warnedUnreachable = true;
      return;
    }
    this.changed(state, detail);
  }

  changed(state: ConnectionState, detail?: string): void {
    if (state === this.last) return;
    this.last = state;
    const { json, failure, emit } = this.hooks;
    if (json) {
      const index = failure.indexText;
      emit(detail === undefined ? { event: 'state', state, index } : { event: 'state', state, index, detail });
      return;
    }
    // Human mode: a running command reports its own failure; only news between commands is printed.
    // Either way the user has heard of it, so its return is news.
    if (state === 'unreachable' && !this.warnedUnreachable) {
      this.warnedUnreachable = true;
      if (this.hooks.busy()) return;
      emit({ event: 'state', state, index: failure.indexText, detail: new P2PError('TIMEOUT', indexSilentDetail(failure)).message });
      this.hooks.idle();
    } else if (state === 'connected' && this.warnedUnreachable) {
      this.warnedUnreachable = false;
      emit({ event: 'state', state, index: failure.indexText, detail: failure.indexText });
      if (!this.hooks.busy()) this.hooks.idle();
    }
  }
}
