// The original report's fixed 101-byte PDUs (1 type byte + 100 NUL-padded data bytes), both ways.
import { P2PError } from './errors';
import {
  CLASSIC_NAME_BYTES, CLASSIC_SIZE, ClassicOnlineReply, ClassicReply, ClassicRequest, ClassicSearchReply,
} from './messages';
import { cutUtf8, decodeUtf8 } from './wire';

const DATA = CLASSIC_SIZE - 1;

/** What classic registrations, which carry no hash, stand in for one with (lower-case hex, as the engine shows hashes). */
export const CLASSIC_SHA256_HEX = '0'.repeat(64);

/** True for the all-zero stand-in of a classic registration (any length of zeros, the empty text included). */
export function isClassicHash(sha256Hex: string): boolean {
  return /^0*$/.test(sha256Hex);
}
const ADDRESS_AT = 40;

function blank(type: string): Buffer {
  const b = Buffer.alloc(CLASSIC_SIZE);
  b[0] = type.charCodeAt(0);
  return b;
}

/** Writes `text` NUL-padded into data bytes [from, from+width). */
function put(b: Buffer, text: string, from: number, width: number, what: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > width) throw new P2PError('TOO_LARGE', `${what} is ${bytes.length} bytes; a classic PDU has room for ${width}`);
  bytes.copy(b, 1 + from);
}

/** Reads a NUL-terminated (or field-filling) text from data bytes [from, from+width). */
function get(b: Buffer, from: number, width: number, what: string): string {
  const field = b.subarray(1 + from, 1 + from + width);
  const nul = field.indexOf(0);
  return decodeUtf8(nul < 0 ? field : field.subarray(0, nul), what);
}

function checkSize(b: Buffer): void {
  if (b.length !== CLASSIC_SIZE) throw new P2PError('MALFORMED', `a classic PDU is ${CLASSIC_SIZE} bytes, got ${b.length}`);
}

export function encodeClassicRequest(m: ClassicRequest): Buffer {
  const b = blank(m.type);
  switch (m.type) {
    case 'R':
    case 'S':
    case 'T':
      if (m.type === 'R') put(b, m.address, ADDRESS_AT, DATA - ADDRESS_AT, 'address');
      put(b, m.peerName, 0, CLASSIC_NAME_BYTES, 'peer name');
      put(b, m.contentName, CLASSIC_NAME_BYTES, CLASSIC_NAME_BYTES, 'content name');
      break;
    case 'O':
      if (m.offset) put(b, String(m.offset), 0, DATA, 'offset');
      break;
  }
  return b;
}

export function decodeClassicRequest(b: Buffer): ClassicRequest {
  checkSize(b);
  const type = String.fromCharCode(b[0]);
  const names = () => ({
    peerName: get(b, 0, CLASSIC_NAME_BYTES, 'peer name'),
    contentName: get(b, CLASSIC_NAME_BYTES, CLASSIC_NAME_BYTES, 'content name'),
  });
  switch (type) {
    case 'R':
      return { type, ...names(), address: get(b, ADDRESS_AT, DATA - ADDRESS_AT, 'address') };
    case 'S':
    case 'T':
      return { type, ...names() };
    case 'O': {
      const text = get(b, 0, DATA, 'offset').trim();
      if (text !== '' && !/^\d{1,9}$/.test(text)) throw new P2PError('MALFORMED', `O offset must be a decimal number, got "${text}"`);
      return { type, offset: text === '' ? 0 : Number(text) };
    }
    default:
      throw new P2PError('UNKNOWN_TYPE', `classic type 0x${b[0].toString(16).padStart(2, '0')}`);
  }
}

export function encodeClassicReply(m: ClassicReply): Buffer {
  const b = blank(m.type);
  switch (m.type) {
    case 'A':
    case 'E':
      put(b, cutUtf8(m.message, DATA), 0, DATA, 'message'); // a long message is cut, never an error
      break;
    case 'S':
      put(b, m.peerName, 0, CLASSIC_NAME_BYTES, 'peer name');
      put(b, m.contentName, CLASSIC_NAME_BYTES, CLASSIC_NAME_BYTES, 'content name');
      put(b, m.address, ADDRESS_AT, DATA - ADDRESS_AT, 'address');
      break;
    case 'O': {
      let text = m.lines.map((l) => `${l.peerName}\t${l.contentName}\n`).join('');
      if (m.nextOffset) text += `+${m.nextOffset}\n`;
      put(b, text, 0, DATA, 'online list');
      break;
    }
  }
  return b;
}

/**
 * Fills an O reply with as many whole lines as fit in 100 bytes, starting at `offset` of `all`,
 * leaving room for the "+N" continuation line when entries remain.
 */
export function classicOnlinePage(all: ArrayLike<{ peerName: string; contentName: string }>, offset: number): ClassicOnlineReply {
  const lines: ClassicOnlineReply['lines'] = [];
  let used = 0;
  let i = offset;
  for (; i < all.length; i++) {
    const line = Buffer.byteLength(`${all[i].peerName}\t${all[i].contentName}\n`);
    const tail = i + 1 < all.length ? Buffer.byteLength(`+${i + 1}\n`) : 0;
    if (used + line + tail > DATA) break;
    lines.push(all[i]);
    used += line;
  }
  // A single entry too long for a page would stall the paging; skip it so the rest can be read.
  if (lines.length === 0 && i < all.length) i++;
  return { type: 'O', lines, nextOffset: i < all.length ? i : 0 };
}

/** Decodes a classic reply; S and O are told apart from A/E by the type byte alone. */
export function decodeClassicReply(b: Buffer): ClassicReply {
  checkSize(b);
  const type = String.fromCharCode(b[0]);
  switch (type) {
    case 'A':
    case 'E':
      return { type, message: get(b, 0, DATA, 'message') };
    case 'S': {
      const m: ClassicSearchReply = {
        type,
        peerName: get(b, 0, CLASSIC_NAME_BYTES, 'peer name'),
        contentName: get(b, CLASSIC_NAME_BYTES, CLASSIC_NAME_BYTES, 'content name'),
        address: get(b, ADDRESS_AT, DATA - ADDRESS_AT, 'address'),
      };
      return m;
    }
    case 'O': {
      const text = get(b, 0, DATA, 'online list');
      const m: ClassicOnlineReply = { type, lines: [], nextOffset: 0 };
      for (const line of text.split('\n')) {
        if (line === '') continue;
        if (line.startsWith('+')) m.nextOffset = Number(line.slice(1));
        else {
          const tab = line.indexOf('\t');
          if (tab < 0) throw new P2PError('MALFORMED', `classic O line without a TAB: "${line}"`);
          m.lines.push({ peerName: line.slice(0, tab), contentName: line.slice(tab + 1) });
        }
      }
      return m;
    }
    default:
      throw new P2PError('UNKNOWN_TYPE', `classic reply type 0x${b[0].toString(16).padStart(2, '0')}`);
  }
}

/**
 * A classic A or E, or a classic S with an address (a request leaves bytes 40-99 empty): a reply,
 * not a request. A classic O reply always has lines and lines are no offset, so it is not told
 * apart here: a server answers it with E, which is never answered, so that exchange ends there too.
 */
export function isClassicReply(b: Buffer): boolean {
  try {
    const r = decodeClassicReply(b);
    return r.type === 'A' || r.type === 'E' || (r.type === 'S' && r.address !== '');
  } catch {
    return false;
  }
}
