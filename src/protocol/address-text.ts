// "host:port" text for logs, messages and classic replies: an IPv6 host in brackets so the port stays unambiguous.
import { isIPv6 } from 'node:net';

/** "127.0.0.1:7870", or "[::1]:7870" for IPv6, so the text parses back to the same address. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The unit per-address limits count (index server, content server): an IPv4 address, or an IPv6 /64 (one host commonly owns a whole /64). */
export function sourceKey(ip: string): string {
  // A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d; each is still its own IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  if (h.length >= 4) return h.slice(0, 4).join(':');
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return groups.slice(0, 4).map((g) => g || '0').join(':');
}
