/**
 * The cluster store proper: holds, grants, replay uses, identities, node heartbeats, usage counts
 * and the audit archive, in PostgreSQL. Every hold or grant write runs in `write()`: one
 * transaction holding the store's write lock (a transaction-scoped advisory lock), which
 *   - serialises read-rules-audit-write steps across nodes, as the holds stage's promise chain
 *     does within one node (hold changes come from humans: a few a second at most);
 *   - numbers each change from one sequence *under the lock*, so change numbers commit in order
 *     and a node that has read up to N has every change before N (the view relies on it);
 *   - notifies `regate_changes` on commit, waking every node's view.
 * Connection failures surface as ClusterUnavailable, so callers can fail closed.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { requestDigestOf, type Grant, type Hold } from '../hold/index.js';
import { openPool, type ClusterPostgresOptions, describeTarget } from './connect.js';
import { RegateError } from '../util/index.js';
import { ClusterUnavailable } from './errors.js';
import { checkSchema } from './migrations.js';
import { inTransaction } from './transaction.js';

/** Channel every committed hold or grant change is announced on (payload: its change number). */
export const CHANGES_CHANNEL = 'regate_changes';
/** Key of the transaction advisory lock every hold/grant write takes ("regate-w"). */
const WRITE_LOCK = 0x726567617477;

function digest(parts: string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export function subjectKey(iss: string, sub: string): string {
  return digest([iss, sub]);
}

/** A change read back from the store, in commit order. */
export type Change = { seq: number; kind: 'hold'; hold: Hold } | { seq: number; kind: 'grant'; grant: Grant };

export interface NodeInfo {
  node_id: string;
  started_at_ms: number;
  heartbeat_ms: number;
  info: Record<string, unknown>;
}

function unavailable(what: string, err: unknown): ClusterUnavailable {
  return err instanceof ClusterUnavailable ? err : new ClusterUnavailable(`cannot ${what} in the cluster store: ${(err as Error).message}`, { cause: err });
}

/** The statements a write transaction may run, on that transaction's connection. */
export class ClusterTx {
  constructor(
    private readonly client: pg.PoolClient,
    private readonly node: string,
  ) {}

  async getHold(id: string): Promise<Hold | undefined> {
    const r = await this.client.query<{ doc: Hold }>('SELECT doc FROM regate_holds WHERE id = $1', [id]);
    return r.rows[0]?.doc;
  }

  async getGrant(id: string): Promise<Grant | undefined> {
    const r = await this.client.query<{ doc: Grant }>('SELECT doc FROM regate_grants WHERE id = $1', [id]);
    return r.rows[0]?.doc;
  }

  private async nextSeq(): Promise<number> {
    const r = await this.client.query<{ n: string }>(`SELECT nextval('regate_change_seq') AS n`);
    const seq = Number(r.rows[0]!.n);
    await this.client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, String(seq)]);
    return seq;
  }

  private async knowIdentity(iss: string, sub: string, nowMs: number): Promise<string> {
    const key = subjectKey(iss, sub);
    await this.client.query(
      'INSERT INTO regate_identities (subject_key, iss, sub, first_seen_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [key, iss, sub, nowMs],
    );
    return key;
  }

  /** Inserts or replaces a hold, with its approvals in their own table. */
  async putHold(hold: Hold): Promise<void> {
    const r = hold.requester;
    const subject = await this.knowIdentity(r.iss, r.sub, hold.created_at_ms);
    const seq = await this.nextSeq();
    await this.client.query(
      `INSERT INTO regate_holds (id, seq, node, subject_key, request_key, state, created_at_ms, expires_at_ms, doc)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, state = EXCLUDED.state, expires_at_ms = EXCLUDED.expires_at_ms, doc = EXCLUDED.doc`,
      [hold.id, seq, this.node, subject, requestDigestOf(hold),
        hold.state, hold.created_at_ms, hold.expires_at_ms, JSON.stringify(hold)],
    );
    for (const a of hold.approvals) {
      await this.client.query(
        `INSERT INTO regate_hold_approvals (hold_id, approver_iss, approver_sub, at_ms, comment) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING`,
        [hold.id, a.by.iss, a.by.sub, a.at_ms, a.comment],
      );
    }
  }

  /** Writes a grant, and the hold that earned it, in this transaction. */
  async putGrant(grant: Grant, hold?: Hold): Promise<void> {
    if (hold) await this.putHold(hold);
    const subject = await this.knowIdentity(grant.subject.iss, grant.subject.sub, grant.created_at_ms);
    const seq = await this.nextSeq();
    await this.client.query(
      `INSERT INTO regate_grants (id, seq, hold_id, subject_key, expires_at_ms, doc) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, expires_at_ms = EXCLUDED.expires_at_ms, doc = EXCLUDED.doc`,
      [grant.id, seq, grant.hold_id, subject, grant.expires_at_ms, JSON.stringify(grant)],
    );
  }

  /**
   * Claims the one use an approval buys (the waiting client's forward, or a replay). True for
   * exactly one caller across the cluster, whatever the interleaving: the primary key decides.
   */
  async claimUse(holdId: string, kind: 'waiting' | 'replay', nowMs: number): Promise<boolean> {
    const r = await this.client.query(
      'INSERT INTO regate_replay_uses (hold_id, kind, node, at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [holdId, kind, this.node, nowMs],
    );
    return r.rowCount === 1;
  }
}

export class ClusterStore {
  private constructor(
    readonly pool: pg.Pool,
    readonly nodeId: string,
    readonly target: string,
  ) {}

  /** Connects and checks the schema is this build's (run `regate cluster migrate` first). */
  static async open(postgres: ClusterPostgresOptions, nodeId: string): Promise<ClusterStore> {
    const pool = openPool(postgres);
    try {
      await checkSchema(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw unavailableUnlessTyped(err, describeTarget(postgres.url));
    }
    return new ClusterStore(pool, nodeId, describeTarget(postgres.url));
  }

  private async query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (err) {
      throw unavailable(what, err);
    }
  }

  /** Runs `fn` in one transaction under the store's write lock; rolls back if it throws. */
  async write<T>(fn: (tx: ClusterTx) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, 'BEGIN', async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK]);
      return fn(new ClusterTx(client, this.nodeId));
    },
    // A typed refusal from `fn` (rules, audit) passes through; a driver error means the store is unavailable.
    (err) => (isDriverError(err) ? unavailable('write', err) : (err as Error)));
  }

  async getHold(id: string): Promise<Hold | undefined> {
    const r = await this.query<{ doc: Hold }>('read a hold', 'SELECT doc FROM regate_holds WHERE id = $1', [id]);
    return r.rows[0]?.doc;
  }

  async allHolds(): Promise<Hold[]> {
    const r = await this.query<{ doc: Hold }>('list holds', 'SELECT doc FROM regate_holds ORDER BY created_at_ms DESC');
    return r.rows.map((x) => x.doc);
  }

  async pendingHolds(): Promise<Hold[]> {
    const r = await this.query<{ doc: Hold }>('list pending holds', `SELECT doc FROM regate_holds WHERE state = 'pending'`);
    return r.rows.map((x) => x.doc);
  }

  async getGrant(id: string): Promise<Grant | undefined> {
    const r = await this.query<{ doc: Grant }>('read a grant', 'SELECT doc FROM regate_grants WHERE id = $1', [id]);
    return r.rows[0]?.doc;
  }

  async allGrants(): Promise<Grant[]> {
    const r = await this.query<{ doc: Grant }>('list grants', 'SELECT doc FROM regate_grants');
    return r.rows.map((x) => x.doc);
  }

  /** Whether the one use of `holdId`'s approval was claimed, and by which path. */
  async useOf(holdId: string): Promise<{ kind: string; node: string; at_ms: number } | undefined> {
    const r = await this.query<{ kind: string; node: string; at_ms: string }>('read a replay use', 'SELECT kind, node, at_ms FROM regate_replay_uses WHERE hold_id = $1', [holdId]);
    const row = r.rows[0];
    return row ? { kind: row.kind, node: row.node, at_ms: Number(row.at_ms) } : undefined;
  }

  /** Hold and grant changes after `seq`, in commit order (at most `limit`). */
  async changesSince(seq: number, limit = 1000): Promise<Change[]> {
    const r = await this.query<{ seq: string; kind: 'hold' | 'grant'; doc: Hold & Grant }>(
      'read changes',
      `(SELECT seq, 'hold' AS kind, doc FROM regate_holds WHERE seq > $1 ORDER BY seq LIMIT $2)
       UNION ALL
       (SELECT seq, 'grant' AS kind, doc FROM regate_grants WHERE seq > $1 ORDER BY seq LIMIT $2)
       ORDER BY seq LIMIT $2`,
      [seq, limit],
    );
    return r.rows.map((row) =>
      row.kind === 'hold' ? { seq: Number(row.seq), kind: 'hold', hold: row.doc } : { seq: Number(row.seq), kind: 'grant', grant: row.doc });
  }

  /**
   * What a starting node's view needs, read in one snapshot: the holds and grants that can still
   * matter at `nowMs` (pending or approved before expiry; grants not revoked before theirs) and
   * the change number the snapshot is complete up to. Change numbers commit in order (write()),
   * so every change up to the largest number visible is visible, and the feed goes on from there:
   * a node joining a long-lived cluster reads its live rows, not the whole change history.
   */
  async snapshot(nowMs: number): Promise<{ seq: number; changes: Change[] }> {
    return inTransaction(this.pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => {
      const top = await client.query<{ n: string }>(
        'SELECT greatest((SELECT coalesce(max(seq), 0) FROM regate_holds), (SELECT coalesce(max(seq), 0) FROM regate_grants)) AS n');
      const holds = await client.query<{ seq: string; doc: Hold }>(
        `SELECT seq, doc FROM regate_holds WHERE state IN ('pending', 'approved') AND expires_at_ms > $1 ORDER BY seq`, [nowMs]);
      const grants = await client.query<{ seq: string; doc: Grant }>(
        `SELECT seq, doc FROM regate_grants WHERE expires_at_ms > $1 AND coalesce(doc->'revoked', 'null'::jsonb) = 'null'::jsonb ORDER BY seq`, [nowMs]);
      const changes: Change[] = [
        ...holds.rows.map((r) => ({ seq: Number(r.seq), kind: 'hold' as const, hold: r.doc })),
        ...grants.rows.map((r) => ({ seq: Number(r.seq), kind: 'grant' as const, grant: r.doc })),
      ].sort((a, b) => a.seq - b.seq);
      return { seq: Number(top.rows[0]!.n), changes };
    }, (err) => unavailable('read a snapshot', err));
  }

  // ---- nodes ---------------------------------------------------------------------------------

  async heartbeat(startedAtMs: number, nowMs: number, info: Record<string, unknown>): Promise<void> {
    await this.query(
      'record this node\'s heartbeat',
      `INSERT INTO regate_nodes (node_id, started_at_ms, heartbeat_ms, info) VALUES ($1, $2, $3, $4)
       ON CONFLICT (node_id) DO UPDATE SET started_at_ms = EXCLUDED.started_at_ms, heartbeat_ms = EXCLUDED.heartbeat_ms, info = EXCLUDED.info`,
      [this.nodeId, startedAtMs, nowMs, JSON.stringify(info)],
    );
  }

  async nodes(): Promise<NodeInfo[]> {
    const r = await this.query<{ node_id: string; started_at_ms: string; heartbeat_ms: string; info: Record<string, unknown> }>(
      'list nodes', 'SELECT node_id, started_at_ms, heartbeat_ms, info FROM regate_nodes ORDER BY node_id');
    return r.rows.map((x) => ({ node_id: x.node_id, started_at_ms: Number(x.started_at_ms), heartbeat_ms: Number(x.heartbeat_ms), info: x.info }));
  }

  // ---- usage ---------------------------------------------------------------------------------

  /** Adds this node's counts (key, epoch second, count) in one statement. */
  async addUsage(rows: { key: string; second: number; count: number }[]): Promise<void> {
    if (rows.length === 0) return;
    await this.query(
      'add usage counts',
      `INSERT INTO regate_usage (key, second, node, count)
       SELECT k, s, $4, c FROM unnest($1::text[], $2::bigint[], $3::int[]) AS t(k, s, c)
       ON CONFLICT (key, second, node) DO UPDATE SET count = regate_usage.count + EXCLUDED.count`,
      [rows.map((r) => r.key), rows.map((r) => r.second), rows.map((r) => r.count), this.nodeId],
    );
  }

  /** Other nodes' counts per key since `sinceSecond` (inclusive). */
  async otherNodesUsage(keys: string[], sinceSecond: number): Promise<Map<string, number>> {
    const sums = new Map<string, number>();
    if (keys.length === 0) return sums;
    const r = await this.query<{ key: string; n: string }>(
      'read usage counts',
      `SELECT key, sum(count) AS n FROM regate_usage WHERE key = ANY($1::text[]) AND second >= $2 AND node <> $3 GROUP BY key`,
      [keys, sinceSecond, this.nodeId],
    );
    for (const row of r.rows) sums.set(row.key, Number(row.n));
    return sums;
  }

  async pruneUsage(beforeSecond: number): Promise<void> {
    await this.query('prune usage counts', 'DELETE FROM regate_usage WHERE second < $1', [beforeSecond]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** pg's own failures (server errors, refused or dropped connections), as opposed to a refusal regate raised on purpose. */
function isDriverError(err: unknown): boolean {
  return !(err instanceof RegateError);
}

function unavailableUnlessTyped(err: unknown, target: string): Error {
  if (err instanceof RegateError) return err;
  return new ClusterUnavailable(`cannot reach the cluster store ${target}: ${(err as Error).message}`, { cause: err });
}
