// Makes text that may come from the network inert in each place the extension shows it: one function per kind of output.
import { escapeInvisible } from '../../common/control-escape';

/*
 * Peer names, content names and error messages come from other peers and the index server. Each
 * function below takes such text (or a whole message holding it) and returns what that output kind
 * shows as plain letters: no link, command link, icon, markup or bidi reordering can form. Every
 * function first writes controls and invisible format characters out as "\xNN" / "\u{NNNN}", so
 * nothing can break a line or reorder what follows.
 */

/**
 * For showErrorMessage and progress titles. VS Code turns "[text](command:...)", "[text](https:...)"
 * and "[text](file:...)" in a notification into live links and renders nothing else there, so
 * keeping "]" from touching "(" is enough; a space between them leaves the text readable.
 */
export function notificationText(text: string): string {
  return escapeInvisible(text).replace(/\]\(/g, '] (');
}

/**
 * For a MarkdownString (tooltips): the text as one inline code span. Inside a code span Markdown
 * forms no link, autolink (bare URLs, www. names, 127.0.0.1:9), emphasis, HTML, entity or icon; the
 * fence is one backtick longer than any run of backticks in the text, as CommonMark allows.
 */
export function markdownText(text: string): string {
  const visible = escapeInvisible(text);
  const longestRun = Math.max(0, ...[...visible.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longestRun + 1);
  // A span that starts or ends with a backtick needs a space on each side, which Markdown strips.
  const pad = visible.startsWith('`') || visible.endsWith('`') || /^ .* $/su.test(visible) ? ' ' : '';
  return `${fence}${pad}${visible}${pad}${fence}`;
}

/**
 * For what VS Code draws with icons: tree labels, quick pick labels and descriptions, the status bar
 * and its messages. "$(name)" would become an icon; "\$(name)" is VS Code's own escape for it.
 */
export function labelText(text: string): string {
  return escapeInvisible(text).replace(/\$\(/g, '\\$(');
}

/**
 * For the LogOutputChannel: controls and format characters escaped on every line, and each line
 * after the first indented, so a newline in remote text cannot forge a log line of its own
 * (multi-line details such as stack traces stay readable).
 */
export function logText(text: string): string {
  return text
    .split('\n')
    .map((line) => escapeInvisible(line))
    .join('\n    ');
}
