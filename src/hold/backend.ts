/**
 * Where the holds stage keeps its state, as an interface with two implementations: this machine's
 * LMDB (`LocalHoldBackend`, the single-node default) and the cluster store's PostgreSQL (in
 * src/cluster-store, joined in by the composition root). The service never learns which one it has.
 *
 *  - `index` answers the proxy's per-request questions synchronously, from memory or LMDB: never
 *    a network round trip on the request path.
 *  - `mutate` runs one read-rules-audit-write step; the cluster backend runs it in a transaction
 *    under a cluster-wide lock, so two nodes approving one hold cannot both act on the old state.
 *  - `onRemoteChange` reports changes other nodes made (the local backend has none), so a client
 *    waiting here is released by an approval made anywhere.
 */
import type { Grant, Hold } from './types.js';

/** The questions asked on every request; answered without I/O beyond local memory or LMDB. */
export interface HoldIndex {
  /** Whether this identity has any hold or grant that could matter (if not, skip the rest). */
  knows(iss: string, sub: string): boolean;
  /** Holds created for the request with this digest (`requestDigest`), oldest first. */
  holdsForRequest(digest: string): Hold[];
  grantsForSubject(iss: string, sub: string, route: string): Grant[];
}

/** What one mutation step may read and write (all within its transaction). */
export interface HoldWriter {
  getHold(id: string): Promise<Hold | undefined>;
  getGrant(id: string): Promise<Grant | undefined>;
  putHold(hold: Hold): Promise<void>;
  /** Writes a grant with the hold that earned it, atomically. */
  putGrant(grant: Grant, hold?: Hold): Promise<void>;
  /**
   * Claims the one use an approval buys: the waiting client's forward or one replay. True for
   * exactly one claim per hold, across every node sharing the backend.
   */
  claimUse(holdId: string, kind: 'waiting' | 'replay', nowMs: number): Promise<boolean>;
}

export type RemoteChange = { kind: 'hold'; hold: Hold } | { kind: 'grant'; grant: Grant };

export interface HoldBackend {
  readonly index: HoldIndex;
  /** Runs `fn` as one atomic step; the holds service calls it one step at a time per node. */
  mutate<T>(fn: (w: HoldWriter) => Promise<T>): Promise<T>;
  getHold(id: string): Promise<Hold | undefined>;
  getGrant(id: string): Promise<Grant | undefined>;
  allHolds(): Promise<Hold[]>;
  allGrants(): Promise<Grant[]>;
  pendingHolds(): Promise<Hold[]>;
  /** Calls `listener` with each change another node made; returns the unsubscribe function. */
  onRemoteChange(listener: (change: RemoteChange) => void): () => void;
  close(): Promise<void>;
}
