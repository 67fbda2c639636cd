// Rules for peer names and content names (docs/protocol.md, "Names"); each broken rule says which.
import { codePointName, containsControl, firstFormatChar } from '../common/control-escape';
import { P2PError } from './errors';
import { MAX_NAME_BYTES } from './messages';

const NOT_PORTABLE = /[<>:"|?*]/u;
const DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/iu;

function checkCommon(name: unknown, kind: string, strict: boolean): string {
  if (typeof name !== 'string') throw new P2PError('BAD_NAME', `${kind} must be text`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) throw new P2PError('BAD_NAME', `${kind} is empty`);
  if (bytes > MAX_NAME_BYTES) throw new P2PError('BAD_NAME', `${kind} is ${bytes} bytes; the limit is ${MAX_NAME_BYTES}`);
  if (/[\ud800-\udfff]/u.test(name)) throw new P2PError('BAD_NAME', `${kind} is not valid Unicode`);
  if (containsControl(name)) throw new P2PError('BAD_NAME', `${kind} contains a control character`);
  // Bidi controls, zero-width and other invisible characters let one name pass for another.
  const format = firstFormatChar(name, strict);
  if (format !== undefined) throw new P2PError('BAD_NAME', `${kind} contains the invisible format character ${codePointName(format)}`);
  if (name.trim() !== name) throw new P2PError('BAD_NAME', `${kind} starts or ends with white space`);
  return name;
}

/** Throws BAD_NAME unless `name` is a valid peer name. */
export function validatePeerName(name: unknown): string {
  // Stricter than a content name: not even an emoji's joiner, since a peer name is no file name.
  const n = checkCommon(name, 'peer name', true);
  // VS Code draws "$(name)" as an icon in labels and the status bar; a peer name has no need of it.
  if (n.includes('$(')) throw new P2PError('BAD_NAME', `a peer name cannot contain "$("`);
  // Line and paragraph separators break a line where they stand.
  if (/[\u2028\u2029]/u.test(n)) throw new P2PError('BAD_NAME', 'a peer name cannot contain a line or paragraph separator');
  return n;
}

/** Throws BAD_NAME unless `name` is a valid content name: a portable base file name. */
export function validateContentName(name: unknown): string {
  const n = checkCommon(name, 'content name', false);
  if (n.includes('/') || n.includes('\\')) throw new P2PError('BAD_NAME', `content name "${n}" contains a path separator`);
  if (n === '.' || n === '..') throw new P2PError('BAD_NAME', `content name "${n}" is a directory reference`);
  if (NOT_PORTABLE.test(n)) throw new P2PError('BAD_NAME', `content name "${n}" contains one of < > : " | ? *`);
  if (n.endsWith('.')) throw new P2PError('BAD_NAME', `content name "${n}" ends with a dot`);
  if (DEVICE.test(n)) throw new P2PError('BAD_NAME', `content name "${n}" is a reserved device name`);
  return n;
}

/** True when `name` passes validateContentName. */
export function isValidContentName(name: unknown): boolean {
  try {
    validateContentName(name);
    return true;
  } catch {
    return false;
  }
}
