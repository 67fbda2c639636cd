// The unit one source of traffic counts as: an IPv4 address, or an IPv6 /64 (one host commonly owns a whole /64).

/** "10.1.2.3" stays as it is; an IPv6 address becomes its first four groups, e.g. "2001:db8:1:2". */
export function sourceKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  if (h.length >= 4) return h.slice(0, 4).join(':');
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return groups.slice(0, 4).map((g) => g || '0').join(':');
}
