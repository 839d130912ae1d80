/**
 * The central archive of every node's audit log (PCI DSS 10.3.3: a prompt central copy), which is
 * also a witness: it accepts a node's checkpoint only with a consistency proof from the last
 * checkpoint it holds for that log (same origin), so a node whose log was rewritten cannot
 * publish the rewrite. Each accepted checkpoint comes with its sealed segment's records, so the
 * archive alone rebuilds an export (docs/audit-format.md §5) an auditor verifies with the nodes'
 * public keys: `regate audit verify --cluster`, `regate audit export --cluster`.
 *
 * Checkpoint signatures are not checked here (the archive holds no keys); the auditor's verify
 * does that, with keys it trusts, not keys found in the archive.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { checkConsistency, parseNoteCheckpoint, segmentFileName } from '../audit/index.js';
import { CheckpointRefused, ClusterUnavailable } from './errors.js';

export interface ArchivedLog {
  origin: string;
  node: string;
  tree_size: number;
  segments: number;
}

/** The archive's last checkpoint for `origin`: its tree size and note (null: none yet). */
export async function lastArchived(pool: pg.Pool, origin: string): Promise<{ size: number; note: string } | null> {
  try {
    const r = await pool.query<{ tree_size: string; checkpoint: string }>(
      'SELECT tree_size, checkpoint FROM regate_audit_checkpoints WHERE origin = $1 ORDER BY tree_size DESC LIMIT 1', [origin]);
    const row = r.rows[0];
    return row ? { size: Number(row.tree_size), note: row.checkpoint } : null;
  } catch (err) {
    throw new ClusterUnavailable(`cannot read the audit archive: ${(err as Error).message}`, { cause: err });
  }
}

export interface Publication {
  node: string;
  segment: number;
  /** The segment's records as exported: each record's bytes and a newline. */
  body: Buffer;
  note: string;
  /** The archive's tree size this proof starts from (0 for the first checkpoint). */
  fromSize: number;
  proof: Buffer[];
}

/**
 * Accepts one checkpoint and its segment if it extends the last one held for its log. Republishing
 * what is already archived is a no-op; anything else that does not extend it is refused.
 */
export async function archiveCheckpoint(pool: pg.Pool, p: Publication, nowMs: number): Promise<void> {
  const cp = parseNoteCheckpoint(p.note);
  if (typeof cp === 'string') throw new CheckpointRefused(`node ${p.node} segment ${p.segment}: ${cp}`);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new ClusterUnavailable(`cannot reach the audit archive: ${(err as Error).message}`, { cause: err });
  }
  try {
    await client.query('BEGIN');
    // One publisher at a time per log: the check and the insert see the same last checkpoint.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [cp.origin]);
    const last = await client.query<{ tree_size: string; checkpoint: string }>(
      'SELECT tree_size, checkpoint FROM regate_audit_checkpoints WHERE origin = $1 ORDER BY tree_size DESC LIMIT 1', [cp.origin]);
    const held = last.rows[0];
    const heldSize = held ? Number(held.tree_size) : 0;
    if (held && heldSize >= cp.size) {
      await client.query('ROLLBACK');
      if (heldSize === cp.size && held.checkpoint.split('\n\n')[0] === p.note.split('\n\n')[0]) return;
      throw new CheckpointRefused(`node ${p.node}: a checkpoint of size ${cp.size} for ${cp.origin} does not extend the archived size ${heldSize}`);
    }
    if (p.fromSize !== heldSize) throw new ClusterUnavailable(`the archive moved on (size ${heldSize}, proof from ${p.fromSize}): publish again`);
    const heldRoot = held ? (parseNoteCheckpoint(held.checkpoint) as { root: Buffer }).root : null;
    const why = checkConsistency(heldSize, cp.size, heldRoot, cp.root, p.proof);
    if (why !== null) throw new CheckpointRefused(`node ${p.node}: tree size ${cp.size} of ${cp.origin} is not consistent with the archived size ${heldSize}: ${why}`);
    await client.query(
      'INSERT INTO regate_audit_checkpoints (origin, tree_size, root_hash, checkpoint, node, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6)',
      [cp.origin, cp.size, cp.root.toString('hex'), p.note, p.node, nowMs]);
    await client.query(
      `INSERT INTO regate_audit_segments (origin, segment, body, sha256, node, received_at_ms, tree_size) VALUES ($1, $2, $3, encode(sha256($3), 'hex'), $4, $5, $6)`,
      [cp.origin, p.segment, p.body, p.node, nowMs, cp.size]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (err instanceof CheckpointRefused || err instanceof ClusterUnavailable) throw err;
    throw new ClusterUnavailable(`cannot write to the audit archive: ${(err as Error).message}`, { cause: err });
  } finally {
    client.release();
  }
}

/** Every log the archive holds, with the node that published it. */
export async function archivedLogs(pool: pg.Pool): Promise<ArchivedLog[]> {
  const r = await pool.query<{ origin: string; node: string; tree_size: string; segments: string }>(
    `SELECT c.origin, max(c.node) AS node, max(c.tree_size) AS tree_size,
            (SELECT count(*) FROM regate_audit_segments s WHERE s.origin = c.origin) AS segments
     FROM regate_audit_checkpoints c GROUP BY c.origin ORDER BY max(c.node), c.origin`);
  return r.rows.map((x) => ({ origin: x.origin, node: x.node, tree_size: Number(x.tree_size), segments: Number(x.segments) }));
}

/**
 * Writes the archived segments of `origin` as an export folder (segment files and their
 * checkpoints, docs/audit-format.md §5), to be verified like any export. Returns the segment numbers.
 */
export async function writeArchivedExport(pool: pg.Pool, origin: string, out: string): Promise<number[]> {
  mkdirSync(out, { recursive: true });
  const r = await pool.query<{ segment: number; body: Buffer; checkpoint: string }>(
    `SELECT s.segment, s.body, c.checkpoint FROM regate_audit_segments s
     JOIN regate_audit_checkpoints c ON c.origin = s.origin AND c.tree_size = s.tree_size
     WHERE s.origin = $1 ORDER BY s.segment`, [origin]);
  for (const row of r.rows) {
    writeFileSync(join(out, segmentFileName(row.segment, 'jsonl')), row.body);
    writeFileSync(join(out, segmentFileName(row.segment, 'checkpoint.json')), JSON.stringify({ note: row.checkpoint }) + '\n');
  }
  return r.rows.map((x) => x.segment);
}
