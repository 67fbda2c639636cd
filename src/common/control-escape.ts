// What a control character is, and how text from the network is kept from forging a line or reaching a terminal as an escape.

// C0, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/gu;

/** True when `text` holds a C0, DEL or C1 control character. */
export function containsControl(text: string): boolean {
  return CONTROL.test(text);
}

/** `text` without its control characters. */
export function removeControls(text: string): string {
  return text.replace(CONTROLS, '');
}

/** `text` with each control character written as "\xNN"; everything else unchanged. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
