// The contract of a registry shared by several index servers: atomic writes far away, reads from a local copy.
import { EntryFields, Owner, RegistryStore } from './store';

/** One R as the shared store carries it out: the Registry has checked names and port already. */
export interface SharedRegistration {
  peerName: string;
  contentName: string;
  owner: Owner;
  fields: EntryFields;
  /** `sourceKey(host)`: the per-address cap's unit. */
  source: string;
}

/** The caps an R is held to, checked inside the store's one atomic write, so no two servers race past them. */
export interface SharedCaps {
  maxPerPeer: number;
  maxPerSecret: number;
  maxPerAddress: number;
  maxEntries: number;
}

/** A write's verdict: done, or which rule refused it and the count that made it refuse. */
export type SharedVerdict =
  | { code: 'OK'; refreshed: boolean; removed: number }
  | { code: 'NAME_TAKEN' | 'NOT_REGISTERED' | 'PEER_LIMIT' | 'SECRET_LIMIT' | 'ADDRESS_LIMIT' | 'INDEX_FULL'; count: number };

/**
 * Writes are asynchronous (a round trip to the store) and throw P2PError STORE_UNAVAILABLE when the
 * store cannot be reached; reads stay synchronous against `replica`, a local copy the store keeps
 * current from the changes of every server.
 */
export interface SharedStore {
  readonly replica: RegistryStore;
  /** Where the store is, for log lines ("redis://127.0.0.1:6379"). */
  readonly where: string;
  /** False while the store cannot be reached (writes fail fast); the admin /healthz reports it. */
  readonly reachable: boolean;
  register(r: SharedRegistration, caps: SharedCaps, now: number): Promise<SharedVerdict>;
  /** T of one content, or of every content of the name when `contentName` is ''. */
  deregister(peerName: string, contentName: string, owner: Owner): Promise<SharedVerdict>;
  close(): Promise<void>;
}
