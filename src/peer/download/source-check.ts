// Which source addresses a download may connect to: the index's word is a claim, so nothing it lists is dialled unchecked.
import { isIP } from 'node:net';
import { formatHostPort } from '../../protocol/address-text';
import { ipToBytes } from '../../protocol/wire';

/** What the rule needs to know about this peer; the peer builds it afresh for each download. */
export interface SourceRules {
  /** Host of the index server that listed the sources (IP text or a host name). */
  indexHost: string;
  /** TCP port of this peer's own content server (0 when it is not listening). */
  ownPort: number;
  /** Every address of this machine (os.networkInterfaces()); a source there at ownPort is this peer. */
  localHosts: readonly string[];
}

export interface RefusedSource<S> {
  source: S;
  /** Why it is skipped, for the log and the error: "0.0.0.0:4000 is an unspecified address". */
  reason: string;
}

/** The address as 4 or 16 bytes, an IPv4-mapped IPv6 address as its 4 IPv4 bytes; undefined for a non-IP. */
function addressBytes(host: string): Buffer | undefined {
  if (!isIP(host.replace(/%.*$/, ''))) return undefined;
  const b = ipToBytes(host);
  if (b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return b.subarray(12);
  return b;
}

type Kind = 'unspecified' | 'multicast' | 'broadcast' | 'loopback' | 'unicast';

function kindOf(b: Buffer): Kind {
  if (b.length === 4) {
    if (b[0] === 0) return 'unspecified'; // 0.0.0.0/8: "this network", which connect() turns into this host
    if (b[0] >= 224 && b[0] <= 239) return 'multicast';
    if (b.every((x) => x === 255)) return 'broadcast';
    if (b[0] === 127) return 'loopback';
    return 'unicast';
  }
  if (b.every((x) => x === 0)) return 'unspecified';
  if (b[0] === 0xff) return 'multicast';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback';
  return 'unicast';
}

/** True when the index server itself is on this machine's loopback, so loopback sources are expected. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const b = addressBytes(host);
  return b !== undefined && kindOf(b) === 'loopback';
}

function sameAddress(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.equals(b);
}

/** Why `source` must not be dialled, or undefined when it may be. */
export function sourceRefusal(source: { host: string; port: number }, rules: SourceRules): string | undefined {
  const where = formatHostPort(source.host, source.port);
  const b = addressBytes(source.host);
  if (!b) return `${where} is not an IP address`;
  if (!Number.isInteger(source.port) || source.port < 1 || source.port > 65535) return `${where} has no valid port`;
  const kind = kindOf(b);
  if (kind === 'unspecified') return `${where} is an unspecified address (it would reach this machine)`;
  if (kind === 'multicast') return `${where} is a multicast address`;
  if (kind === 'broadcast') return `${where} is the broadcast address`;
  if (source.port === rules.ownPort && (kind === 'loopback' || rules.localHosts.some((h) => sameAddress(addressBytes(h) ?? Buffer.alloc(0), b)))) {
    return `${where} is this peer's own content server`;
  }
  if (kind === 'loopback' && !isLoopbackHost(rules.indexHost)) {
    return `${where} is a loopback address, but the index server ${rules.indexHost} is not on this machine`;
  }
  return undefined;
}

/** Splits `sources` into those that may be dialled and those refused, each with its reason. */
export function screenSources<S extends { host: string; port: number }>(
  sources: readonly S[],
  rules: SourceRules,
): { kept: S[]; refused: Array<RefusedSource<S>> } {
  const kept: S[] = [];
  const refused: Array<RefusedSource<S>> = [];
  for (const source of sources) {
    const reason = sourceRefusal(source, rules);
    if (reason === undefined) kept.push(source);
    else refused.push({ source, reason });
  }
  return { kept, refused };
}
