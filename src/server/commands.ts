// The index server's one command shape: what a request asks of the registry, whichever PDU form carried it.
import { NameHit } from '../protocol/messages';
import { PackedEntry, PackedSource } from '../protocol/packed-replies';
import { OwnerProof, Registration } from './registry';
import { Owner } from './store';

/** Add or refresh one registration at the datagram's source IP. */
export interface RegisterCommand extends Registration {
  kind: 'register';
}

/** Remove one registration of a peer, or all of them when `contentName` is ''. */
export interface DeregisterCommand { kind: 'deregister'; peerName: string; contentName: string; owner: Owner | OwnerProof }

/** Every source of one content that fits a new-form S reply. */
export interface SearchCommand { kind: 'search'; contentName: string }

/** F: one page of content names that contain `query`, from a name cursor (new form only). */
export interface NameSearchCommand { kind: 'name-search'; query: string; cursor: number }

/** The classic S: one source of a content, preferably not the requester's own. */
export interface FindCommand { kind: 'find'; contentName: string; requester: string }

/** One page of the online list from an opaque cursor (new form). */
export interface PageCommand { kind: 'page'; cursor: number }

/** One 100-byte page of the online list from a positional offset (classic form). */
export interface ClassicPageCommand { kind: 'classic-page'; offset: number }

export type Command = RegisterCommand | DeregisterCommand | SearchCommand | FindCommand | PageCommand | ClassicPageCommand | NameSearchCommand;
/** What a new-form request can ask; H never reaches the registry. */
export type IndexCommand = RegisterCommand | DeregisterCommand | SearchCommand | PageCommand | NameSearchCommand;
/** What a classic request can ask. */
export type ClassicCommand = RegisterCommand | DeregisterCommand | FindCommand | ClassicPageCommand;

/** The result of each command kind, before any form turns it into a reply. */
export interface Outcomes {
  register: { kind: 'register'; refreshed: boolean; contentName: string; host: string; port: number; leaseSeconds: number };
  deregister: { kind: 'deregister'; removed: number };
  /** Sources as the store keeps them: the new form writes them to the wire as they are. */
  search: { kind: 'search'; sources: readonly PackedSource[] };
  find: { kind: 'find'; peerName: string; contentName: string; address: string };
  page: { kind: 'page'; entries: readonly PackedEntry[]; next: number };
  'name-search': { kind: 'name-search'; hits: NameHit[]; next: number };
  'classic-page': { kind: 'classic-page'; lines: { peerName: string; contentName: string }[]; nextOffset: number };
}

export type Outcome<C extends Command = Command> = Outcomes[C['kind']];

/** The word both forms' A to an R starts with. */
export function registeredWord(o: Outcomes['register']): string {
  return o.refreshed ? 'refreshed' : 'registered';
}

/** Both forms' A to a T. */
export function removedText(o: Outcomes['deregister']): string {
  return `removed ${o.removed} registration${o.removed === 1 ? '' : 's'}`;
}
