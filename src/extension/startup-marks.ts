// When this extension host first reached each step between loading the extension and its first Online Content rows (wall clock, ms).
/**
 * Wall-clock times (Date.now()), not performance.now(): the activation bench compares them with the
 * workbench page's clock, another process on the same machine, and only the wall clock is shared.
 */
export interface StartupMarks {
  /** The bundle began to run its own modules (after Node read and compiled it). */
  loaded?: number;
  /** The bundle's modules had all run (what is left before activate() is VS Code's, building the extension's context). */
  evaluated?: number;
  /** VS Code called activate(). */
  activate?: number;
  /** activate() returned. */
  activated?: number;
  /** The Online Content view first asked for its rows (visible, so VS Code wants something to draw). */
  firstChildren?: number;
  /** The first page of the online list arrived. */
  firstPage?: number;
  /** The view first handed VS Code rows with content in them. */
  firstRows?: number;
  /** The peer secret was read from SecretStorage. */
  secret?: number;
  /** The engine had started (certificate, content server, index probe) and was attached. */
  engineStarted?: number;
}

const marks: StartupMarks = { loaded: Date.now() };

/** Records the first time this extension host reached `step`; later ones (a reload) keep the first. */
export function markStartup(step: keyof StartupMarks): void {
  marks[step] ??= Date.now();
}

export function startupMarks(): StartupMarks {
  return { ...marks };
}
