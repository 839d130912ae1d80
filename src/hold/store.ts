/**
 * Durable storage of holds and grants in their own LMDB environment, so a pending hold survives a
 * gateway restart. Writes are synchronous transactions: a state change is on disk before anyone
 * (a waiting client, an approver) is told about it. Two index tables answer the proxy's per-request
 * questions ("is there a replay owed for exactly this request?", "which grants does this identity
 * hold on this route?") with a prefix scan instead of a walk over every hold; a third, of every
 * identity that ever had a hold or grant, lets the (nearly all) requests of everyone else skip both
 * scans with one key lookup.
 */
import { hash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment } from '../util/index.js';
import { HoldStoreError } from './errors.js';
import { requestDigestOf } from './request-digest.js';
import type { Grant, Hold } from './types.js';

/**
 * Index keys are a SHA-256 of the parts (fixed length, whatever a path holds, well under LMDB's key
 * size limit) plus a space, then the record id (base64url, all below DEL): a range ending at
 * prefix + DEL covers exactly the keys under a prefix.
 */
function indexKey(...parts: string[]): string {
  // One-shot: `knows` asks this of every request, and a Hash object each time showed in the profile.
  return hash('sha256', JSON.stringify(parts), 'hex') + ' ';
}

export function grantKey(iss: string, sub: string, route: string): string {
  return indexKey(iss, sub, route);
}

/** Key of an identity that has ever had a hold or a grant. */
function subjectKey(iss: string, sub: string): string {
  return indexKey(iss, sub);
}

function idsWithPrefix(db: Database<string, string>, prefix: string): string[] {
  return [...db.getRange({ start: prefix, end: prefix + '\u007f' })]
    .filter(({ key }) => key.startsWith(prefix))
    .map(({ value }) => value);
}

export class HoldStore {
  private constructor(
    private readonly env: RootDatabase,
    private readonly holds: Database<Hold, string>,
    private readonly grants: Database<Grant, string>,
    private readonly requestIndex: Database<string, string>,
    private readonly grantIndex: Database<string, string>,
    private readonly subjects: Database<true, string>,
  ) {}

  static open(dir: string): HoldStore {
    try {
      mkdirSync(dir, { recursive: true });
      const env = openEnvironment(dir);
      return new HoldStore(
        env,
        env.openDB<Hold, string>({ name: 'holds' }),
        env.openDB<Grant, string>({ name: 'grants' }),
        env.openDB<string, string>({ name: 'hold-requests' }),
        env.openDB<string, string>({ name: 'grant-subjects' }),
        env.openDB<true, string>({ name: 'subjects' }),
      );
    } catch (err) {
      throw new HoldStoreError(`cannot open the hold store in ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  private write(what: string, action: () => void): void {
    try {
      this.env.transactionSync(action);
    } catch (err) {
      throw new HoldStoreError(`cannot write ${what} to the hold store: ${(err as Error).message}`, { cause: err });
    }
  }

  getHold(id: string): Hold | undefined {
    return this.holds.get(id);
  }

  allHolds(): Hold[] {
    return [...this.holds.getRange()].map(({ value }) => value);
  }

  /** Inserts or replaces a hold; the request index is written with the first version. */
  putHold(hold: Hold): void {
    this.write(`hold ${hold.id}`, () => {
      const r = hold.requester;
      void this.subjects.put(subjectKey(r.iss, r.sub), true);
      // The request's digest is the key prefix indexKey gave it before holds kept it (the same SHA-256).
      void this.requestIndex.put(requestDigestOf(hold) + ' ' + hold.id, hold.id);
      void this.holds.put(hold.id, hold);
    });
  }

  /** Holds created for exactly this request (its `requestDigest`), oldest first. */
  holdsForRequest(digest: string): Hold[] {
    return idsWithPrefix(this.requestIndex, digest + ' ')
      .map((id) => this.holds.get(id))
      .filter((h): h is Hold => h !== undefined)
      .sort((a, b) => a.created_at_ms - b.created_at_ms);
  }

  getGrant(id: string): Grant | undefined {
    return this.grants.get(id);
  }

  allGrants(): Grant[] {
    return [...this.grants.getRange()].map(({ value }) => value);
  }

  /** Writes a grant together with the hold that earned it (one transaction). */
  putGrant(grant: Grant, hold?: Hold): void {
    this.write(`grant ${grant.id}`, () => {
      void this.subjects.put(subjectKey(grant.subject.iss, grant.subject.sub), true);
      void this.grantIndex.put(grantKey(grant.subject.iss, grant.subject.sub, grant.route) + grant.id, grant.id);
      void this.grants.put(grant.id, grant);
      if (hold) void this.holds.put(hold.id, hold);
    });
  }

  grantsForSubject(iss: string, sub: string, route: string): Grant[] {
    return idsWithPrefix(this.grantIndex, grantKey(iss, sub, route))
      .map((id) => this.grants.get(id))
      .filter((g): g is Grant => g !== undefined);
  }

  /** Whether this identity has ever had a hold or a grant (if not, it has no replay or grant to find). */
  knows(iss: string, sub: string): boolean {
    return this.subjects.doesExist(subjectKey(iss, sub));
  }

  /** Indexes the identities of holds and grants stored before the subject index existed. */
  indexSubjects(): void {
    const keys = [...this.allHolds().map((h) => subjectKey(h.requester.iss, h.requester.sub)), ...this.allGrants().map((g) => subjectKey(g.subject.iss, g.subject.sub))];
    const missing = [...new Set(keys)].filter((k) => !this.subjects.doesExist(k));
    if (missing.length > 0) this.write('the subject index', () => missing.forEach((k) => void this.subjects.put(k, true)));
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}
