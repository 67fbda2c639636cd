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
