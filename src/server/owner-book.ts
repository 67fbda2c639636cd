// Who owned a peer name before: the OwnerBook contract that keeps a name's owner past its last registration.
import { Owner } from './store';

/**
 * Name ownership that outlives registrations (and, kept on disk, restarts): a name whose last
 * registration lapsed still belongs to its secret's owner until `ownerTtl` after its last use.
 * Only secret owners are kept: a classic owner is an IP address, which proves nothing a day later.
 * The owner value is opaque here (a 32-byte digest or verifier); the book never interprets it.
 */
export interface OwnerBook {
  /** The kept owner of a name whose ownership has not yet lapsed at `now`, else undefined. */
  ownerOf(peerName: string, now: number): Owner | undefined;
  /** Records a use of the name by `owner` (binds it when free); cheap when called on every R. */
  touch(peerName: string, owner: Owner, now: number): void;
  /** Forgets up to `limit` owners unused for longer than their time; returns how many it forgot. */
  sweep(now: number, limit: number): number;
  close(): Promise<void>;
}

/** Default time a name stays its owner's after its last use: 30 days. */
export const DEFAULT_OWNER_TTL_SECONDS = 30 * 24 * 3600;
