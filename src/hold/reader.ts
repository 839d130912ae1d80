/**
 * The two questions the proxy asks the holds stage on every request, before the policy decides:
 * "is a replay owed for exactly this request?" and "which grants does this identity hold here?",
 * answered from a HoldIndex: the LMDB store, or a cluster node's in-memory view.
 * They only read the store, so they live apart from the service that mutates it: a `--workers`
 * worker opens its own reader on the same LMDB environment (LMDB serves readers in many processes)
 * while the primary alone runs the HoldService that writes.
 */
import type { Approval, Identity } from '../contract/index.js';
import type { HoldIndex } from './backend.js';
import { requestDigest } from './request-digest.js';
import * as rules from './rules.js';
import { HoldStore } from './store.js';

const NS_PER_MS = 1_000_000;

export class HoldReader {
  constructor(
    private readonly store: HoldIndex,
    private readonly now: () => number = Date.now,
    private readonly release: () => Promise<void> = async () => undefined,
  ) {}

  /** A reader with its own handle on the store in `dir` (another process owns the HoldService). */
  static open(dir: string): HoldReader {
    const store = HoldStore.open(dir);
    return new HoldReader(store, Date.now, () => store.close());
  }

  /** The replay owed for exactly this request after a late approval, if any (not yet consumed). */
  approvalFor(identity: Identity, route: string, method: string, path: string, bodySha256: string): Approval | null {
    if (!this.store.knows(identity.iss, identity.sub)) return null;
    const now = this.now();
    const hold = this.store
      .holdsForRequest(requestDigest(identity.iss, identity.sub, route, method, path, bodySha256))
      .find((h) => rules.replayUsable(h, now));
    if (!hold) return null;
    return {
      hold_id: hold.id,
      approvers: hold.approvals.map((a) => a.by.sub),
      approved_at_ns: (hold.decided_at_ms ?? hold.created_at_ms) * NS_PER_MS,
      kind: 'replay',
      expires_at_ns: hold.expires_at_ms * NS_PER_MS,
    };
  }

  /** Active just-in-time grants for this identity on this route. */
  grantsFor(identity: Identity, route: string): Approval[] {
    if (!this.store.knows(identity.iss, identity.sub)) return [];
    const now = this.now();
    return this.store
      .grantsForSubject(identity.iss, identity.sub, route)
      .filter((g) => rules.isGrantActive(g, now))
      .map((g) => ({
        hold_id: g.hold_id,
        grant_id: g.id,
        approvers: g.approvers,
        approved_at_ns: g.created_at_ms * NS_PER_MS,
        kind: 'grant' as const,
        expires_at_ns: g.expires_at_ms * NS_PER_MS,
      }));
  }

  close(): Promise<void> {
    return this.release();
  }
}
