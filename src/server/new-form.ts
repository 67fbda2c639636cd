// New-form requests read into Commands, and Outcomes written back as new-form replies.
import { P2PError } from '../protocol/errors';
import { DeregisterRequest, IndexReply, IndexRequest, OnlineEntry, RegisterRequest, Source } from '../protocol/messages';
import { unpackClaims } from '../protocol/claims';
import { PackedEntry, PackedSource, encodePackedPage, encodePackedSources } from '../protocol/packed-replies';
import { encodeIndexReply } from '../protocol/udp';
import { ExchangeKeyPair, macMatches, unwrapClaim } from '../protocol/proof';
import { IndexCommand, Outcomes, registeredWord, removedText } from './commands';
import { OwnerProof, ownerOfSecret } from './registry';

/** A decoded new-form request past the handshake. */
export type IndexCommandRequest = Exclude<IndexRequest, { type: 'H' }>;

/**
 * What `req` asks; `ip` is the datagram's source, where a registration's content server is. `pdu` is
 * the datagram itself, whose MAC proves an R or T; `exchange` is the index's key pair that a first
 * claim wraps its index key to.
 */
export function indexCommand(req: IndexCommandRequest, ip: string, pdu: Buffer, exchange: ExchangeKeyPair): IndexCommand {
  switch (req.type) {
    case 'R':
      return {
        kind: 'register',
        peerName: req.peerName,
        contentName: req.contentName,
        owner: proofOf(req, pdu, exchange),
        host: ip,
        port: req.tcpPort,
        size: req.size,
        sha256: req.sha256,
        claims: req.claims,
      };
    case 'T':
      return { kind: 'deregister', peerName: req.peerName, contentName: req.contentName, owner: proofOf(req, pdu, exchange) };
    case 'S':
      return { kind: 'search', contentName: req.contentName };
    case 'O':
      return { kind: 'page', cursor: req.cursor };
    case 'F':
      return { kind: 'name-search', query: req.query, cursor: req.cursor };
  }
}

/**
 * Ownership in the new form: the MAC must be made with the index key the peer name is bound to (one
 * HMAC, the everyday path). Otherwise the claim is opened (X25519, only then) and the MAC must be
 * made with the key it carries: for a free name that key is bound, for a taken one the registry
 * answers NAME_TAKEN. A MAC made with neither is BAD_PROOF: forged, altered or replayed elsewhere.
 */
function proofOf(req: RegisterRequest | DeregisterRequest, pdu: Buffer, exchange: ExchangeKeyPair): OwnerProof {
  return {
    prove: (bound) => {
      if (bound?.kind === 'secret' && macMatches(bound.digest, pdu)) return bound;
      const claimed = unwrapClaim(exchange, req);
      if (claimed && macMatches(claimed, pdu)) return ownerOfSecret(claimed);
      const against = bound?.kind === 'secret' ? `the key peer name "${req.peerName}" is bound to, nor with the key it claims` : 'the key it claims';
      throw new P2PError('BAD_PROOF', `the MAC of this ${req.type} was not made with ${against}`);
    },
  };
}

/** The new-form reply to request `requestId` that carries `outcome`. */
export function indexReply(requestId: number, outcome: Outcomes[IndexCommand['kind']]): IndexReply {
  switch (outcome.kind) {
    case 'register':
      return { type: 'A', requestId, leaseSeconds: outcome.leaseSeconds, message: registeredWord(outcome) };
    case 'deregister':
      return { type: 'A', requestId, leaseSeconds: 0, message: removedText(outcome) };
    case 'search':
      return { type: 'S', requestId, sources: outcome.sources.map(unpackSource) };
    case 'page':
      return { type: 'O', requestId, next: outcome.next, entries: outcome.entries.map(unpackEntry) };
    case 'name-search':
      return { type: 'F', requestId, next: outcome.next, hits: outcome.hits };
  }
}

/**
 * The bytes of `indexReply(requestId, outcome)`. S and O, nine requests in ten, are written straight
 * from the store's packed entries: no Source object, hash Buffer or claims object per source.
 */
export function encodeIndexOutcome(requestId: number, outcome: Outcomes[IndexCommand['kind']]): { reply: Buffer; type: IndexReply['type'] } {
  if (outcome.kind === 'search') return { reply: encodePackedSources(requestId, outcome.sources), type: 'S' };
  if (outcome.kind === 'page') return { reply: encodePackedPage(requestId, outcome.next, outcome.entries), type: 'O' };
  const r = indexReply(requestId, outcome);
  return { reply: encodeIndexReply(r), type: r.type };
}

function unpackSource(s: PackedSource): Source {
  return { peerName: s.peerName, host: s.host, port: s.port, size: s.size, sha256: Buffer.from(s.hash, 'latin1'), claims: unpackClaims(s.claims) };
}

function unpackEntry(e: PackedEntry): OnlineEntry {
  return { peerName: e.peerName, contentName: e.contentName, host: e.host, port: e.port, size: e.size, sha256: Buffer.from(e.hash, 'latin1') };
}

/** What a request is about, for the log line. */
export function describeIndexRequest(req: IndexCommandRequest): string {
  switch (req.type) {
    case 'R':
      return `${req.peerName} ${req.contentName}`;
    case 'T':
      return req.contentName === '' ? `${req.peerName} (all)` : `${req.peerName} ${req.contentName}`;
    case 'S':
      return req.contentName;
    case 'O':
      return `cursor ${req.cursor}`;
    case 'F':
      return `"${req.query}" from ${req.cursor}`;
  }
}
