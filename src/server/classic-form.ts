// Classic 101-byte requests read into Commands, and Outcomes written back as classic replies.
import { P2PError } from '../protocol/errors';
import { ClassicReply, ClassicRequest } from '../protocol/messages';
import { classicPort } from './classic-address';
import { ClassicCommand, Outcomes, registeredWord, removedText } from './commands';
import { formatHostPort } from '../protocol/address-text';
import { ownerOfIp } from './registry';

/**
 * What `req` asks; `ip` is the datagram's source. A classic peer proves who it is by its IP alone.
 * Throws BAD_ADDRESS when an R's address field does not name the sender, BAD_NAME for a T without a content name.
 */
export function classicCommand(req: ClassicRequest, ip: string): ClassicCommand {
  switch (req.type) {
    case 'R':
      return {
        kind: 'register',
        peerName: req.peerName,
        contentName: req.contentName,
        owner: ownerOfIp(ip),
        host: ip,
        port: classicPort(req.address, ip),
        size: 0,
      };
    case 'T':
      // The report's quit sends one T per file; an empty name is a client with a short field, not "all".
      if (req.contentName === '') throw new P2PError('BAD_NAME', 'a classic T names one content; send one T per file');
      return { kind: 'deregister', peerName: req.peerName, contentName: req.contentName, owner: ownerOfIp(ip) };
    case 'S':
      // The peer name field names the requester, not the source wanted.
      return { kind: 'find', contentName: req.contentName, requester: req.peerName };
    case 'O':
      return { kind: 'classic-page', offset: req.offset };
  }
}

/** The classic reply that carries `outcome`. */
export function classicReply(outcome: Outcomes[ClassicCommand['kind']]): ClassicReply {
  switch (outcome.kind) {
    case 'register':
      return { type: 'A', message: `${registeredWord(outcome)} ${outcome.contentName} at ${formatHostPort(outcome.host, outcome.port)}` };
    case 'deregister':
      return { type: 'A', message: removedText(outcome) };
    case 'find':
      return { type: 'S', peerName: outcome.peerName, contentName: outcome.contentName, address: outcome.address };
    case 'classic-page':
      return { type: 'O', lines: outcome.lines, nextOffset: outcome.nextOffset };
  }
}

/** What a request is about, for the log line. */
export function describeClassicRequest(req: ClassicRequest): string {
  switch (req.type) {
    case 'R':
    case 'T':
      return `${req.peerName} ${req.contentName}`;
    case 'S':
      return `${req.peerName} ${req.contentName}`.trim();
    case 'O':
      return `offset ${req.offset}`;
  }
}
