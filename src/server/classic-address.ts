// Reads the address field of a classic R ("host:port" or "port") against the datagram's source IP.
import { isIP } from 'node:net';
import { P2PError } from '../protocol/errors';
import { ipToBytes } from '../protocol/wire';

/** Hosts that mean "wherever this datagram came from". */
const ANY_HOST = new Set(['', '0.0.0.0', '::']);

/**
 * The TCP port a classic R declares. The host part, when present, must be the source IP itself
 * (or a wildcard): nobody registers someone else's address. Throws BAD_ADDRESS.
 */
export function classicPort(address: string, sourceIp: string): number {
  const text = address.trim();
  let host = '';
  let portText = text;
  const colon = text.lastIndexOf(':');
  if (colon >= 0) {
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  }
  if (!/^\d{1,5}$/.test(portText)) throw new P2PError('BAD_ADDRESS', `address "${address}" has no port number`);
  const port = Number(portText);
  if (port < 1 || port > 0xffff) throw new P2PError('BAD_ADDRESS', `port must be 1..65535, got ${port}`);
  if (!ANY_HOST.has(host)) {
    if (!isIP(host)) throw new P2PError('BAD_ADDRESS', `"${host}" is not an IP address`);
    if (!ipToBytes(host).equals(ipToBytes(sourceIp))) {
      throw new P2PError('BAD_ADDRESS', `the address names ${host}, but the request came from ${sourceIp}`);
    }
  }
  return port;
}
