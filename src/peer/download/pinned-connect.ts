// How the downloader dials a source: TLS 1.3 checked against the source's pin when it has one, plain TCP only when it has none.
import { timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { P2PError } from '../../protocol/errors';
import { pinOf } from '../tls-identity';

/** A socket being opened, the event that says it may carry a D, and the check to pass first. */
export interface Dial {
  socket: net.Socket;
  ready: 'connect' | 'secureConnect';
  /** Undefined when the socket may carry a D; otherwise why not (and it must be dropped unused). */
  verify(): P2PError | undefined;
}

/**
 * `onread` decides where each read lands (no Buffer per read; see source-connection.ts).
 * A pinned source is only ever reached over TLS 1.3, and only a certificate whose public key hashes to
 * the pin is accepted; names and CAs mean nothing between strangers, so the chain is not checked.
 */
export function dialSource(source: { host: string; port: number; pin?: Buffer }, where: string, onread: net.OnReadOpts): Dial {
  const pin = source.pin;
  if (pin === undefined) {
    return { socket: net.connect({ host: source.host, port: source.port, onread }), ready: 'connect', verify: () => undefined };
  }
  // node:tls takes `onread` as net does (Node 15+); @types/node does not list it for TLS.
  const options: tls.ConnectionOptions & { onread: net.OnReadOpts } = {
    host: source.host,
    port: source.port,
    onread,
    minVersion: 'TLSv1.3',
    // The pin, checked below before any byte of ours is sent, replaces the chain and the name.
    rejectUnauthorized: false,
    // Nothing to resume: every connection proves its key afresh.
    session: undefined,
  };
  const socket = tls.connect(options);
  return { socket, ready: 'secureConnect', verify: () => checkPin(socket, pin, where) };
}

/** Compares SHA-256(the certificate's SPKI) with the pin in constant time. */
function checkPin(socket: tls.TLSSocket, pin: Buffer, where: string): P2PError | undefined {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return new P2PError('PIN_MISMATCH', `${where} showed no certificate`);
  const got = pinOf(cert.publicKey.export({ type: 'spki', format: 'der' }));
  if (got.length === pin.length && timingSafeEqual(got, pin)) return undefined;
  return new P2PError('PIN_MISMATCH', `${where} showed a key with pin ${got.toString('hex').slice(0, 16)}…, not the registered ${pin.toString('hex').slice(0, 16)}…`);
}
