// Reads and writes "host:port" text for the index server setting ("[::1]:7870" for IPv6, port defaults to 7870).
import { isIP, isIPv6 } from 'node:net';
import { isWholeNumberIn } from '../common/numbers';
import { formatHostPort } from '../protocol/address-text';
import { P2PError } from '../protocol/errors';

/** The index server's UDP port when an address names none (docs/protocol.md). */
export const DEFAULT_INDEX_PORT = 7870;

export interface HostPort {
  host: string;
  port: number;
}

export interface ParseAddressOptions {
  /** Port used when the text names none. Default DEFAULT_INDEX_PORT. */
  defaultPort?: number;
  /** What the address is, for error messages. Default "index server address". */
  what?: string;
}

/** The longest address text: a 253-character host name, ":" and a 5-digit port, with room for brackets. */
const MAX_ADDRESS_CHARS = 262;

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, each 1..63 chars.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

function bad(what: string, detail: string): P2PError {
  return new P2PError('BAD_SETTING', `${what}: ${detail}`);
}

function checkPort(value: unknown, what: string, shown: string): number {
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  if (!isWholeNumberIn(n, 1, 65535)) {
    throw bad(what, `the port must be a whole number from 1 to 65535, got "${shown}"`);
  }
  return n;
}

function checkHost(host: string, what: string): string {
  if (host === '') throw bad(what, 'the host is empty');
  if (isIP(host)) return host;
  // A dotted-numeric text that is not a valid IPv4 address is a typo, not a host name.
  if (/^[\d.]+$/.test(host)) throw bad(what, `"${host}" is not a valid IPv4 address`);
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length > 253 || !name.split('.').every((l) => LABEL.test(l))) {
    throw bad(what, `"${host}" is neither an IP address nor a host name`);
  }
  return host;
}

/**
 * Parses "host", "host:port", "1.2.3.4:7870", "::1", "[::1]" or "[::1]:7870" (or checks a {host, port}).
 * Throws BAD_SETTING saying what is wrong.
 */
export function parseAddress(input: string | HostPort, options: ParseAddressOptions = {}): HostPort {
  const what = options.what ?? 'index server address';
  const defaultPort = options.defaultPort ?? DEFAULT_INDEX_PORT;
  if (typeof input === 'object' && input !== null) {
    if (typeof input.host !== 'string') throw bad(what, 'the host must be text');
    const host = input.host.trim().replace(/^\[(.*)\]$/, '$1');
    return { host: checkHost(host, what), port: checkPort(input.port, what, String(input.port)) };
  }
  if (typeof input !== 'string') throw bad(what, 'expected text such as "127.0.0.1:7870"');
  const text = input.trim();
  if (text === '') throw bad(what, 'it is empty; expected text such as "127.0.0.1:7870"');
  // Longer than any host name (253) with brackets and a port: refused before it is quoted whole in an error.
  if (text.length > MAX_ADDRESS_CHARS) throw bad(what, `it is ${text.length} characters long, too long for an address`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw bad(what, `"${text}" must not start with a scheme; write just host:port`);
  if (/\s/.test(text)) throw bad(what, `"${text}" contains white space`);

  if (text.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    if (!m) throw bad(what, `"${text}" is not of the form [IPv6 address]:port`);
    if (!isIPv6(m[1])) throw bad(what, `"${m[1]}" is not a valid IPv6 address`);
    return { host: m[1], port: m[2] === undefined ? checkPort(defaultPort, what, String(defaultPort)) : checkPort(m[2], what, m[2]) };
  }
  const colons = text.split(':').length - 1;
  if (colons > 1) {
    if (isIPv6(text)) return { host: text, port: checkPort(defaultPort, what, String(defaultPort)) };
    throw bad(what, `"${text}" is not valid; write an IPv6 address with a port in brackets, as in [::1]:${defaultPort}`);
  }
  if (colons === 1) {
    const at = text.indexOf(':');
    const portText = text.slice(at + 1);
    return { host: checkHost(text.slice(0, at), what), port: checkPort(portText, what, portText) };
  }
  return { host: checkHost(text, what), port: checkPort(defaultPort, what, String(defaultPort)) };
}

/** "127.0.0.1:7870", or "[::1]:7870" for IPv6 so the text parses back to the same address. */
export function formatAddress(address: HostPort): string {
  return formatHostPort(address.host, address.port);
}

/**
 * The most index servers one peer knows. A longer list is refused, not cut: each silent one costs a
 * probe of a few seconds on every failover round, and a list that long is a mistake or an attack.
 */
export const MAX_INDEX_SERVERS = 8;
/** An entry quoted in an error is cut to this many characters. */
const SHOWN_ENTRY_CHARS = 60;

/** One entry of a list as an error quotes it: cut, so a huge entry makes a short message. */
function shownEntry(entry: string): string {
  const t = entry.trim();
  return t.length > SHOWN_ENTRY_CHARS ? `${t.slice(0, SHOWN_ENTRY_CHARS)}…` : t;
}

/** Commas in `text`, counted without splitting it (a hostile setting may be megabytes long). */
function countCommas(text: string): number {
  let n = 0;
  for (let at = text.indexOf(','); at >= 0; at = text.indexOf(',', at + 1)) n++;
  return n;
}

/**
 * A list of index servers: "a:7870,b:7870" (white space around the commas is fine), or an array whose
 * items are such texts or {host, port}. In order, first preferred. BAD_SETTING when the list is empty,
 * longer than MAX_INDEX_SERVERS, names one server twice, or has an entry that is not an address (the
 * error names that entry).
 */
export function parseAddressList(input: string | HostPort | ReadonlyArray<string | HostPort>, options: ParseAddressOptions = {}): HostPort[] {
  const what = options.what ?? 'index server address';
  const items: ReadonlyArray<unknown> = Array.isArray(input) ? input : [input];
  let count = 0;
  for (const item of items) count += typeof item === 'string' ? countCommas(item) + 1 : 1;
  if (count > MAX_INDEX_SERVERS) throw bad(what, `the list names ${count} index servers; at most ${MAX_INDEX_SERVERS} are allowed`);
  const entries: Array<string | HostPort> = [];
  for (const item of items) {
    if (typeof item === 'string') entries.push(...item.split(','));
    else entries.push(item as HostPort);
  }
  const onlyOne = entries.length === 1;
  const nothing = entries.length === 0 || (onlyOne && typeof entries[0] === 'string' && entries[0].trim() === '');
  if (nothing) throw bad(what, 'no index server given; expected text such as "127.0.0.1:7870"');
  const seen = new Map<string, number>();
  return entries.map((entry, i) => {
    const label = typeof entry === 'string' ? `entry ${i + 1} "${shownEntry(entry)}"` : `entry ${i + 1}`;
    if (typeof entry === 'string' && entry.trim() === '') throw bad(what, `entry ${i + 1} of ${entries.length} is empty; separate addresses with one comma`);
    const address = parseAddress(entry, { ...options, what: onlyOne ? what : `${what}, ${label}` });
    const key = formatAddress(address).toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) throw bad(what, `${label} repeats entry ${first + 1}; name each index server once`);
    seen.set(key, i);
    return address;
  });
}

/** A list as "a:7870,b:7870": parses back to the same list. */
export function formatAddressList(list: readonly HostPort[]): string {
  return list.map(formatAddress).join(',');
}
