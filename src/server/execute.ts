// Runs one Command against the registry: one handler per command kind, whichever PDU form carried it.
import { P2PError } from '../protocol/errors';
import { Command, DeregisterCommand, Outcome, Outcomes, RegisterCommand } from './commands';
import { Registry } from './registry';

/** The part of the Registry that commands use. */
export type CommandTarget = Pick<
  Registry,
  'register' | 'deregister' | 'searchEntries' | 'pageEntries' | 'searchNames' | 'classicFind' | 'classicPage' | 'ttlSeconds' | 'size'
>;

/** The part of the Registry that writes to a shared store use. */
export type SharedTarget = Pick<Registry, 'registerShared' | 'deregisterShared' | 'ttlSeconds'>;

type Handlers = { [K in Command['kind']]: (target: CommandTarget, cmd: Extract<Command, { kind: K }>) => Outcomes[K] };

const handlers: Handlers = {
  register: (target, cmd) => {
    const { refreshed } = target.register(cmd); // a RegisterCommand is a Registration with its kind
    return { kind: 'register', refreshed, contentName: cmd.contentName, host: cmd.host, port: cmd.port, leaseSeconds: target.ttlSeconds };
  },
  deregister: (target, cmd) => ({ kind: 'deregister', removed: target.deregister(cmd.peerName, cmd.contentName, cmd.owner) }),
  search: (target, cmd) => ({ kind: 'search', sources: target.searchEntries(cmd.contentName) }),
  find: (target, cmd) => ({ kind: 'find', ...target.classicFind(cmd.contentName, cmd.requester) }),
  page: (target, cmd) => ({ kind: 'page', ...target.pageEntries(cmd.cursor) }),
  'name-search': (target, cmd) => ({ kind: 'name-search', ...target.searchNames(cmd.query, cmd.cursor) }),
  'classic-page': (target, cmd) => {
    const { lines, nextOffset } = target.classicPage(cmd.offset);
    // An empty classic O page is byte for byte an O request for offset 0: sent to another server it would be answered in kind.
    if (lines.length === 0 && nextOffset === 0) {
      throw new P2PError('NOT_FOUND', target.size === 0 ? 'nothing is registered' : `nothing at offset ${cmd.offset}`);
    }
    return { kind: 'classic-page', lines, nextOffset };
  },
};

/** Runs `cmd`; a refusal is thrown as a P2PError for the caller's form to turn into its E. */
export function execute<C extends Command>(target: CommandTarget, cmd: C): Outcome<C> {
  // The table is typed per kind; looked up by a kind only known at run time it needs the wider type.
  return (handlers[cmd.kind] as (t: CommandTarget, c: Command) => Outcome)(target, cmd) as Outcome<C>;
}

/** Runs an R or T against a shared store: the same outcomes as `execute`, a round trip later. */
export async function executeShared(target: SharedTarget, cmd: RegisterCommand | DeregisterCommand): Promise<Outcomes['register'] | Outcomes['deregister']> {
  if (cmd.kind === 'deregister') return { kind: 'deregister', removed: await target.deregisterShared(cmd.peerName, cmd.contentName, cmd.owner) };
  const { refreshed } = await target.registerShared(cmd);
  return { kind: 'register', refreshed, contentName: cmd.contentName, host: cmd.host, port: cmd.port, leaseSeconds: target.ttlSeconds };
}
