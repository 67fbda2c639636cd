// "host:port" text for logs, messages and classic replies: an IPv6 host in brackets so the port stays unambiguous.
import { isIPv6 } from 'node:net';

/** "127.0.0.1:7870", or "[::1]:7870" for IPv6, so the text parses back to the same address. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
