// What a control or invisible format character is, and how text from the network is kept from forging a line, reordering one or reaching a terminal as an escape.

// C0, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/gu;

/**
 * A zero-width joiner inside an emoji sequence (👩‍💻): the one format character a real file name
 * needs. Anywhere else a ZWJ only hides a difference between two names that look alike.
 */
const EMOJI_ZWJ = /(?<=\p{Extended_Pictographic}(?:\u{fe0f}|\p{Emoji_Modifier})?)\u200d(?=\p{Extended_Pictographic})/gu;
// Controls, format characters (bidi controls, zero-width characters, soft hyphen, BOM, tags...) and
// the line and paragraph separators, which some renderers break a line at.
const INVISIBLE_OR_CONTROL = /[\p{Cf}\u2028\u2029\u0000-\u001f\u007f-\u009f]/gu;

/** True when `text` holds a C0, DEL or C1 control character. */
export function containsControl(text: string): boolean {
  return CONTROL.test(text);
}

/** The first format character (Unicode category Cf) in `text`, an emoji's joiner excepted unless `strict`; undefined when none. */
export function firstFormatChar(text: string, strict = false): string | undefined {
  return (strict ? text : text.replace(EMOJI_ZWJ, '')).match(/\p{Cf}/u)?.[0];
}

/** `text` without its control characters. */
export function removeControls(text: string): string {
  return text.replace(CONTROLS, '');
}

/** "U+202E": how a report names a character nobody can see. */
export function codePointName(c: string): string {
  return `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * `text` as something a person can read without being fooled: each control written as "\xNN", each
 * format character or line separator as "\u{NNNN}" (an emoji's joiner stays). The one escape for
 * terminal output (stdout and stderr) and every log line.
 */
export function escapeInvisible(text: string): string {
  const kept = new Set<number>();
  for (const m of text.matchAll(EMOJI_ZWJ)) kept.add(m.index ?? -1);
  return text.replace(INVISIBLE_OR_CONTROL, (c, offset: number) => {
    if (kept.has(offset)) return c;
    const cp = c.codePointAt(0) ?? 0;
    return cp <= 0x9f ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
  });
}

/**
 * JSON text (from JSON.stringify) with DEL, C1 controls, format characters and line separators
 * written as \uNNNN escapes: the same value for a JSON reader, inert for a terminal showing it.
 * JSON.stringify already escapes C0; these can only stand inside strings.
 */
export function escapeInvisibleJson(json: string): string {
  return json.replace(/[\u007f-\u009f\u2028\u2029\p{Cf}]/gu, (c) =>
    [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}
