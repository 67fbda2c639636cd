// Moving every registration at once: under a new peer name, or to another index server (R at the new, then T at the old).
import { P2PError } from '../protocol/errors';
import { HostPort, formatAddress } from './address';
import type { LogLevel, Share } from './api';
import type { IndexClient } from './index-client';
import { IndexLink, MOVE_PROBE, RegisterResult, isNetworkFailure } from './index-link';
import type { Leases } from './leases';

/** The parts of a peer a move works with; the caller holds its registration queue, each move pauses the leases. */
export interface MoveParts {
  link: IndexLink;
  leases: Leases;
  /** Aborted when the peer quits. */
  lifetime: AbortSignal;
  closedOr: (err: unknown) => P2PError;
  log: (level: LogLevel, message: string) => void;
}

/**
 * Registers every share under `newName`, then removes the old name's entries. NAME_TAKEN (or any failure)
 * on the new name leaves everything under the old name and throws; `adopt` is called once the new name holds.
 */
export function renameShares(parts: MoveParts, oldName: string, newName: string, shares: Share[], adopt: () => void): Promise<void> {
  return whileLeasesPaused(parts.leases, () => renameNow(parts, oldName, newName, shares, adopt));
}

async function renameNow(parts: MoveParts, oldName: string, newName: string, shares: Share[], adopt: () => void): Promise<void> {
  const { link, leases } = parts;
  if (shares.length === 0) {
    adopt();
    parts.log('info', `peer name is now "${newName}"`);
    return;
  }
  const results = await link.registerAll(link.client, newName, shares);
  const failed = results.find((r) => r.error)?.error;
  if (failed) {
    if (results.some((r) => r.lease !== undefined)) {
      await link.bestEffort(link.deregisterAll(link.client, newName, parts.lifetime), `removing the entries under "${newName}"`);
    }
    if (isNetworkFailure(failed)) link.fail(failed);
    throw parts.closedOr(failed);
  }
  link.setState('connected');
  adopt();
  for (const r of results) leases.renewed(r.contentName, r.lease ?? 0);
  await link.bestEffort(link.deregisterAll(link.client, oldName, parts.lifetime), `removing the entries under "${oldName}"`);
  parts.log('info', `peer name is now "${newName}"; ${shares.length} share(s) registered under it`);
}

/**
 * Moves every share of `peerName` to the index at `next`. The switch happens even when the new index does
 * not answer (state 'unreachable'; the shares register as soon as it does), but NAME_TAKEN there leaves
 * everything at the old index and throws.
 */
export function moveShares(parts: MoveParts, peerName: string, next: HostPort, shares: Share[]): Promise<void> {
  return whileLeasesPaused(parts.leases, () => moveNow(parts, peerName, next, shares));
}

async function moveNow(parts: MoveParts, peerName: string, next: HostPort, shares: Share[]): Promise<void> {
  const { link, leases } = parts;
  const client = link.newClient(next);
  // A short handshake first: a dead index is known within seconds instead of after every R's full
  // retry schedule (16 s); the shares then register there once it answers.
  const silent = shares.length === 0 ? undefined : await link.unanswered(client, MOVE_PROBE);
  const results: RegisterResult[] = silent
    ? shares.map((s) => ({ contentName: s.contentName, error: silent }))
    : await link.registerAll(client, peerName, shares);
  const refusal = results.find((r) => r.error && !isNetworkFailure(r.error))?.error;
  if (refusal) {
    if (results.some((r) => r.lease !== undefined)) {
      await link.bestEffort(link.deregisterAll(client, peerName, parts.lifetime), `undoing the move to ${formatAddress(next)}`);
    }
    await client.close();
    throw parts.closedOr(refusal);
  }
  const old = link.client;
  const oldAddress = link.addressText;
  link.switchTo(client, next);
  for (const r of results) {
    if (r.lease !== undefined) leases.renewed(r.contentName, r.lease);
    else leases.lapsed(r.contentName);
  }
  if (shares.length > 0) await link.bestEffort(link.deregisterAll(old, peerName, parts.lifetime), `leaving index server ${oldAddress}`);
  await old.close();
  parts.log('info', `index server is now ${link.addressText}`);
  // Announced even when the state word stays the same: it now describes another server.
  const timeout = results.find((r) => r.error)?.error;
  if (results.some((r) => r.lease !== undefined)) link.setState('connected', undefined, true);
  else if (timeout) link.fail(timeout, true);
  else await link.probe(client, true, MOVE_PROBE.tries, MOVE_PROBE.timeoutMs);
}

/**
 * The index in use stopped answering and `client` (at `next`) answered: every share registers there
 * under the same name and secret, and it becomes the index in use. No T at the old one, which does not
 * answer; its entries lapse with their leases. A refusal there (NAME_TAKEN when the servers do not
 * share a store and someone else holds the name) goes to `refused` for that share, and its lease keeps
 * retrying as after an index restart.
 */
export function failOver(
  parts: MoveParts,
  peerName: string,
  client: IndexClient,
  next: HostPort,
  shares: Share[],
  refused: (contentName: string, err: P2PError) => void,
): Promise<void> {
  return whileLeasesPaused(parts.leases, async () => {
    const { link, leases } = parts;
    const results = await link.registerAll(client, peerName, shares);
    const old = link.client;
    const oldAddress = link.addressText;
    link.switchTo(client, next);
    await old.close();
    for (const r of results) {
      if (r.lease !== undefined) leases.renewed(r.contentName, r.lease);
      else if (r.error && !isNetworkFailure(r.error)) {
        refused(r.contentName, r.error);
        leases.failed(r.contentName);
      } else leases.lapsed(r.contentName);
    }
    const held = results.filter((r) => r.lease !== undefined).length;
    parts.log('warn', `index server ${oldAddress} stopped answering; now using ${link.addressText} (${held} of ${shares.length} share(s) registered there)`);
    const timeout = results.find((r) => r.error && isNetworkFailure(r.error))?.error;
    if (timeout && held === 0) link.fail(timeout, true);
    else link.setState('connected', undefined, true);
  });
}

/** Runs a move with no lease refresh in between: a refresh meanwhile would register at the old place or name. */
async function whileLeasesPaused(leases: Leases, work: () => Promise<void>): Promise<void> {
  await leases.pause();
  try {
    await work();
  } finally {
    leases.resume();
  }
}
