// Which rows a view command acts on (the clicked row, or every selected one) and when a click must ask first, without vscode.
import { P2PError } from '../../protocol/errors';

/** What online-view.ts puts after the row in a click's arguments, so a click can be told from a menu or a test. */
export const CLICKED = Object.freeze({ p2pClick: true as const });

export function isClick(arg: unknown): boolean {
  return typeof arg === 'object' && arg !== null && (arg as { p2pClick?: unknown }).p2pClick === true;
}

interface RowLike {
  kind: string;
  id: string;
}

function isRow(v: unknown): v is RowLike {
  return typeof v === 'object' && v !== null && typeof (v as RowLike).kind === 'string' && typeof (v as RowLike).id === 'string';
}

/**
 * A view's menu calls a command with (clicked row, every selected row). The selection counts only
 * when the clicked row is in it: a right-click beside the selection means that one row. Rows come
 * back once each, in selection order; anything that is not a row is left to the single-item path.
 */
export function rowsFromArgs(args: readonly unknown[]): RowLike[] | undefined {
  const [clicked, selected] = args;
  if (!isRow(clicked)) return undefined;
  const many = Array.isArray(selected) && selected.every(isRow) && selected.some((r) => r.id === clicked.id) ? selected : [clicked];
  const seen = new Set<string>();
  return many.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined);
}

/** A click on a content this large asks first; a threshold of 0 never asks. The size is the one peers claim. */
export function clickNeedsConfirmation(size: unknown, threshold: number): boolean {
  return threshold > 0 && typeof size === 'number' && size > threshold;
}

/** The most files one Share Folder or one drop may register; more is refused with this number in the message. */
export const MAX_FILES_AT_ONCE = 1000;
/** More files than this in one go ask first. */
export const CONFIRM_FILES_ABOVE = 20;

/**
 * Download to… and Share Folder take their folder as a trailing {folder: "/abs/path"} (tests,
 * keybindings); without one they ask with a folder picker.
 */
export function folderFromArgs(args: readonly unknown[]): string | undefined {
  for (const a of args) {
    if (typeof a === 'object' && a !== null && !Array.isArray(a) && 'folder' in a) {
      const folder = (a as { folder: unknown }).folder;
      if (typeof folder !== 'string' || folder.trim() === '') throw new P2PError('BAD_COMMAND', 'folder must be a non-empty path');
      return folder;
    }
  }
  return undefined;
}

/** Quit Sharing and Share Folder ask first unless given {confirm: false}. */
export function wantsConfirmation(args: readonly unknown[]): boolean {
  return !args.some((a) => typeof a === 'object' && a !== null && (a as { confirm?: unknown }).confirm === false);
}
