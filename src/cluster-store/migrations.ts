/**
 * The cluster store's schema, as numbered migrations applied in order by `regate cluster migrate`.
 * Each runs in its own transaction together with the row recording it, under an advisory lock, so
 * running migrate twice (or on two machines at once) applies each step exactly once. A database
 * whose recorded version is newer than this build's last migration is refused, by migrate and by
 * a node starting up: an older binary must not write into a schema it does not understand.
 *
 * Migrations are append-only: a released step is never edited, a change is a new step.
 */
import type pg from 'pg';
import { ClusterSchemaMissing, ClusterSchemaTooNew, ClusterUnavailable } from './errors.js';

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Key of the session advisory lock migrate holds (an arbitrary constant: "regate-m"). */
const MIGRATE_LOCK = 0x72656761746d;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'holds, grants, replay uses, identities, nodes, usage, audit archive',
    sql: `
      -- One sequence orders every change; writers take it under the store's write lock (store.ts),
      -- so a reader that has seen change N has seen every change before it.
      CREATE SEQUENCE regate_change_seq;
      CREATE TABLE regate_holds (
        id text PRIMARY KEY,
        seq bigint NOT NULL,
        node text NOT NULL,
        subject_key text NOT NULL,
        request_key text NOT NULL,
        state text NOT NULL,
        created_at_ms bigint NOT NULL,
        expires_at_ms bigint NOT NULL,
        doc jsonb NOT NULL
      );
      CREATE INDEX regate_holds_seq ON regate_holds (seq);
      CREATE INDEX regate_holds_state ON regate_holds (state, expires_at_ms);
      CREATE TABLE regate_hold_approvals (
        hold_id text NOT NULL REFERENCES regate_holds (id),
        approver_iss text NOT NULL,
        approver_sub text NOT NULL,
        at_ms bigint NOT NULL,
        comment text NOT NULL,
        PRIMARY KEY (hold_id, approver_iss, approver_sub)
      );
      -- The one use an approval buys: the waiting client's forward or one replay, whichever
      -- claims it first. The primary key makes it exactly once across nodes.
      CREATE TABLE regate_replay_uses (
        hold_id text PRIMARY KEY REFERENCES regate_holds (id),
        kind text NOT NULL CHECK (kind IN ('waiting', 'replay')),
        node text NOT NULL,
        at_ms bigint NOT NULL
      );
      CREATE TABLE regate_grants (
        id text PRIMARY KEY,
        seq bigint NOT NULL,
        hold_id text NOT NULL,
        subject_key text NOT NULL,
        expires_at_ms bigint NOT NULL,
        doc jsonb NOT NULL
      );
      CREATE INDEX regate_grants_seq ON regate_grants (seq);
      CREATE TABLE regate_identities (
        subject_key text PRIMARY KEY,
        iss text NOT NULL,
        sub text NOT NULL,
        first_seen_ms bigint NOT NULL
      );
      CREATE TABLE regate_nodes (
        node_id text PRIMARY KEY,
        started_at_ms bigint NOT NULL,
        heartbeat_ms bigint NOT NULL,
        info jsonb NOT NULL
      );
      CREATE TABLE regate_usage (
        key text NOT NULL,
        second bigint NOT NULL,
        node text NOT NULL,
        count integer NOT NULL,
        PRIMARY KEY (key, second, node)
      );
      CREATE INDEX regate_usage_second ON regate_usage (second);
      CREATE TABLE regate_audit_checkpoints (
        origin text NOT NULL,
        tree_size bigint NOT NULL,
        root_hash text NOT NULL,
        checkpoint text NOT NULL,
        node text NOT NULL,
        received_at_ms bigint NOT NULL,
        PRIMARY KEY (origin, tree_size)
      );
      CREATE TABLE regate_audit_segments (
        origin text NOT NULL,
        segment integer NOT NULL,
        body bytea NOT NULL,
        sha256 text NOT NULL,
        node text NOT NULL,
        received_at_ms bigint NOT NULL,
        PRIMARY KEY (origin, segment)
      );
    `,
  },
  {
    version: 2,
    name: 'audit segments name the tree size of the checkpoint they were published with',
    sql: `ALTER TABLE regate_audit_segments ADD COLUMN tree_size bigint;`,
  },
  {
    version: 3,
    name: 'archived segments are stored uncompressed',
    // Segments are megabytes of JSON arriving every few seconds per node: compressing them
    // (pglz, the default) was most of the database's CPU in the bench, for space the archive
    // can afford (docs/cluster.md, sizing).
    sql: `ALTER TABLE regate_audit_segments ALTER COLUMN body SET STORAGE EXTERNAL;`,
  },
  {
    version: 4,
    name: 'the audit archive behind the AuditArchive interface: segments keep their base; logs keep their keys',
    // A segment carries what verifies it on its own (its first record number, the checkpoint
    // before it and the tree's compact range there), as the folder archive's files do, so
    // retention may delete older ones. The keys table is the witness's memory of who signs each
    // log: a checkpoint signed by another key is refused unless the log vouches for it
    // (a key.rotated record naming a key already held). Rows archived before this step have no
    // base; the archive derives it from the segments before them. A log with no key yet (new, or
    // archived before this step) takes the key of the first checkpoint it is given.
    sql: `
      ALTER TABLE regate_audit_segments
        ADD COLUMN first_seq bigint, ADD COLUMN base_checkpoint text, ADD COLUMN base_frontier bytea, ADD COLUMN sealed_at text;
      CREATE TABLE regate_audit_keys (
        origin text NOT NULL,
        kid text NOT NULL,
        public_key text NOT NULL,
        node text NOT NULL,
        vouched_by text,
        added_at_ms bigint NOT NULL,
        PRIMARY KEY (origin, kid)
      );
    `,
  },
  {
    version: 5,
    name: 'an archived segment\'s digest is computed by the database',
    // Segments are written with COPY (copy-row.ts: the body goes to the socket uncopied), which
    // cannot call sha256() on a value as an INSERT can; a generated column computes it on every
    // write instead. Dropping and adding the column recomputes it for the rows already held.
    sql: `
      ALTER TABLE regate_audit_segments DROP COLUMN sha256;
      ALTER TABLE regate_audit_segments ADD COLUMN sha256 text GENERATED ALWAYS AS (encode(sha256(body), 'hex')) STORED;
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const CREATE_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS regate_schema (
  version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;

/** The schema version the database records (0: none yet). */
export async function schemaVersion(db: pg.Pool | pg.PoolClient): Promise<number> {
  const exists = await db.query<{ t: string | null }>(`SELECT to_regclass('regate_schema')::text AS t`);
  if (exists.rows[0]?.t == null) return 0;
  const r = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM regate_schema');
  return r.rows[0]?.v ?? 0;
}

function tooNew(found: number): ClusterSchemaTooNew {
  return new ClusterSchemaTooNew(
    `the cluster store's schema is version ${found}, newer than this regate knows (${LATEST_VERSION}); upgrade regate instead of running an older build against it`,
  );
}

export interface MigrateResult {
  from: number;
  to: number;
  applied: { version: number; name: string }[];
}

/** Applies every migration the database lacks; refuses a newer schema. Idempotent. */
export async function migrate(pool: pg.Pool): Promise<MigrateResult> {
  const client = await pool.connect().catch((err: Error) => {
    throw new ClusterUnavailable(`cannot connect to the cluster store: ${err.message}`, { cause: err });
  });
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
    try {
      await client.query(CREATE_VERSION_TABLE);
      const from = await schemaVersion(client);
      if (from > LATEST_VERSION) throw tooNew(from);
      const applied: MigrateResult['applied'] = [];
      for (const m of MIGRATIONS.filter((x) => x.version > from)) {
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO regate_schema (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        applied.push({ version: m.version, name: m.name });
      }
      return { from, to: Math.max(from, LATEST_VERSION), applied };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** Refuses to run a node against a database that migrate has not brought to this build's version. */
export async function checkSchema(pool: pg.Pool): Promise<number> {
  const found = await schemaVersion(pool);
  if (found > LATEST_VERSION) throw tooNew(found);
  if (found < LATEST_VERSION) {
    throw new ClusterSchemaMissing(
      `the cluster store's schema is version ${found}, this regate needs ${LATEST_VERSION}: run \`regate cluster migrate --config FILE\` first`,
    );
  }
  return found;
}
