// New-form requests read into Commands, and Outcomes written back as new-form replies.
import { createHash } from 'node:crypto';
import { IndexReply, IndexRequest } from '../protocol/messages';
import { IndexCommand, Outcomes, registeredWord, removedText } from './commands';
import { ownerOfSecret } from './registry';
import { Owner } from './store';

/** A decoded new-form request past the handshake. */
export type IndexCommandRequest = Exclude<IndexRequest, { type: 'H' }>;

/** What `req` asks; `ip` is the datagram's source, where a registration's content server is. */
export function indexCommand(req: IndexCommandRequest, ip: string): IndexCommand {
  switch (req.type) {
    case 'R':
      return {
        kind: 'register',
        peerName: req.peerName,
        contentName: req.contentName,
        owner: ownerOfSecretBytes(req.secret),
        host: ip,
        port: req.tcpPort,
        size: req.size,
        sha256: req.sha256,
        claims: req.claims,
      };
    case 'T':
      return { kind: 'deregister', peerName: req.peerName, contentName: req.contentName, owner: ownerOfSecretBytes(req.secret) };
    case 'S':
      return { kind: 'search', contentName: req.contentName };
    case 'O':
      return { kind: 'page', cursor: req.cursor };
  }
}

/** The server keeps only a hash of a peer's secret, so a leaked index never gives the secret away. */
function ownerOfSecretBytes(secret: Buffer): Owner {
  return ownerOfSecret(createHash('sha256').update(secret).digest());
}

/** The new-form reply to request `requestId` that carries `outcome`. */
export function indexReply(requestId: number, outcome: Outcomes[IndexCommand['kind']]): IndexReply {
  switch (outcome.kind) {
    case 'register':
      return { type: 'A', requestId, leaseSeconds: outcome.leaseSeconds, message: registeredWord(outcome) };
    case 'deregister':
      return { type: 'A', requestId, leaseSeconds: 0, message: removedText(outcome) };
    case 'search':
      return { type: 'S', requestId, sources: outcome.sources };
    case 'page':
      return { type: 'O', requestId, next: outcome.next, entries: outcome.entries };
  }
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
  }
}
