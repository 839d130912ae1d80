/**
 * This node's in-memory view of the cluster's live holds and grants, kept current by the change
 * feed. It answers the proxy's per-request questions ("is a replay owed for exactly this
 * request?", "which grants does this identity hold on this route?") with map lookups, so a caller
 * with no hold or grant costs no database round trip. It keeps only what can still matter: holds
 * pending or approved before their expiry, grants not revoked before theirs; the rest is dropped
 * as changes arrive and by `sweep()`.
 */
import { requestDigestOf, type Grant, type Hold } from '../hold/index.js';
import type { Change } from './store.js';

// The view's identity and grant keys are plain strings: the store hashes identities for its rows,
// but a SHA-256 per lookup would put hashing on every request's path for nothing (this map never
// leaves the process); JSON keeps the parts apart whatever characters they hold. Holds are keyed by
// the request digest they keep (a held path is stored masked), which the reader computes only for
// an identity the view `knows`.
const subjectKey = (iss: string, sub: string): string => JSON.stringify([iss, sub]);
const grantKeyOf = (iss: string, sub: string, route: string): string => JSON.stringify([iss, sub, route]);

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let ids = index.get(key);
  if (!ids) index.set(key, (ids = new Set()));
  ids.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(key);
}

export class ClusterView {
  readonly #holds = new Map<string, Hold>();
  readonly #grants = new Map<string, Grant>();
  readonly #byRequest = new Map<string, Set<string>>();
  readonly #byGrantKey = new Map<string, Set<string>>();
  /** Live holds and grants per identity, so everyone else is answered with one failed lookup. */
  readonly #subjects = new Map<string, number>();
  readonly #listeners = new Set<(change: Change) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Applies one change from the feed (newest wins: changes arrive in commit order). */
  apply(change: Change): void {
    if (change.kind === 'hold') this.putHold(change.hold);
    else this.putGrant(change.grant);
    for (const listener of this.#listeners) listener(change);
  }

  /** Calls `listener` after each applied change; returns the unsubscribe function. */
  onChange(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  private live(hold: Hold): boolean {
    return (hold.state === 'pending' || hold.state === 'approved') && hold.expires_at_ms > this.now();
  }

  private putHold(hold: Hold): void {
    const r = hold.requester;
    const key = requestDigestOf(hold);
    const had = this.#holds.has(hold.id);
    if (this.live(hold)) {
      this.#holds.set(hold.id, hold);
      if (!had) {
        addTo(this.#byRequest, key, hold.id);
        this.count(subjectKey(r.iss, r.sub), 1);
      }
    } else if (had) {
      this.#holds.delete(hold.id);
      removeFrom(this.#byRequest, key, hold.id);
      this.count(subjectKey(r.iss, r.sub), -1);
    }
  }

  private putGrant(grant: Grant): void {
    const s = grant.subject;
    const key = grantKeyOf(s.iss, s.sub, grant.route);
    const had = this.#grants.has(grant.id);
    if (grant.revoked === null && grant.expires_at_ms > this.now()) {
      this.#grants.set(grant.id, grant);
      if (!had) {
        addTo(this.#byGrantKey, key, grant.id);
        this.count(subjectKey(s.iss, s.sub), 1);
      }
    } else if (had) {
      this.#grants.delete(grant.id);
      removeFrom(this.#byGrantKey, key, grant.id);
      this.count(subjectKey(s.iss, s.sub), -1);
    }
  }

  private count(subject: string, delta: number): void {
    const n = (this.#subjects.get(subject) ?? 0) + delta;
    if (n > 0) this.#subjects.set(subject, n);
    else this.#subjects.delete(subject);
  }

  /** Drops holds and grants past their expiry. */
  sweep(): void {
    for (const hold of [...this.#holds.values()]) this.putHold(hold);
    for (const grant of [...this.#grants.values()]) this.putGrant(grant);
  }

  // ---- the questions HoldReader asks (same shape as the LMDB store's) ------------------------

  knows(iss: string, sub: string): boolean {
    return this.#subjects.has(subjectKey(iss, sub));
  }

  holdsForRequest(digest: string): Hold[] {
    const ids = this.#byRequest.get(digest);
    if (!ids) return [];
    return [...ids].map((id) => this.#holds.get(id)!).sort((a, b) => a.created_at_ms - b.created_at_ms);
  }

  grantsForSubject(iss: string, sub: string, route: string): Grant[] {
    const ids = this.#byGrantKey.get(grantKeyOf(iss, sub, route));
    return ids ? [...ids].map((id) => this.#grants.get(id)!) : [];
  }

  /** Live holds this view keeps (pending or approved, not expired). */
  liveHolds(): Hold[] {
    return [...this.#holds.values()];
  }

  get size(): { holds: number; grants: number } {
    return { holds: this.#holds.size, grants: this.#grants.size };
  }
}
