/**
 * What `regate cluster status` reports: the store's health (reachable, round trip, schema
 * version, last change number), every node that ever joined (heartbeat age, whether it counts as
 * alive, how far its view lags the store, whether its usage counts and audit publication are
 * current), pending holds, and the audit archive per log. Read from the store alone, so it works
 * from any machine that can reach PostgreSQL, and with nodes down.
 */
import type pg from 'pg';
import { describeTarget, openPool, type ClusterPostgresOptions } from './connect.js';
import { LATEST_VERSION, schemaVersion } from './migrations.js';

/** What each node publishes with its heartbeat (the `info` column). */
export interface NodeReport {
  listen_url: string;
  admin_url: string;
  version: string;
  /** Last change number its view applied. */
  view_seq: number;
  /** Whether its LISTEN connection is up (if not, it polls). */
  listening: boolean;
  usage_degraded: boolean;
  /** Audit checkpoints and segments waiting to be published. */
  audit_backlog: number;
  audit_origin: string | null;
  heartbeat_seconds: number;
}

export interface ClusterStatus {
  store: { target: string; reachable: boolean; error?: string; round_trip_ms?: number; schema_version?: number; build_schema_version: number; last_change?: number; server_version?: string };
  nodes: { node_id: string; alive: boolean; heartbeat_age_s: number; started_at: string; view_lag: number | null; report: Partial<NodeReport> }[];
  pending_holds?: number;
  archive: { origin: string; tree_size: number; checkpoints: number; segments: number; last_at: string }[];
}

async function gather(pool: pg.Pool, status: ClusterStatus): Promise<void> {
  const t0 = performance.now();
  const v = await pool.query<{ v: string }>('SHOW server_version');
  status.store.round_trip_ms = Math.round((performance.now() - t0) * 10) / 10;
  status.store.server_version = v.rows[0]?.v;
  status.store.reachable = true;
  status.store.schema_version = await schemaVersion(pool);
  if (status.store.schema_version === 0) return;
  const seq = await pool.query<{ n: string; called: boolean }>('SELECT last_value AS n, is_called AS called FROM regate_change_seq');
  const last = seq.rows[0]?.called ? Number(seq.rows[0].n) : 0;
  status.store.last_change = last;
  const now = Date.now();
  const nodes = await pool.query<{ node_id: string; started_at_ms: string; heartbeat_ms: string; info: Partial<NodeReport> }>(
    'SELECT node_id, started_at_ms, heartbeat_ms, info FROM regate_nodes ORDER BY node_id');
  status.nodes = nodes.rows.map((n) => {
    const age = (now - Number(n.heartbeat_ms)) / 1000;
    const beat = n.info.heartbeat_seconds ?? 2;
    return {
      node_id: n.node_id, alive: age < 3 * beat, heartbeat_age_s: Math.round(age * 10) / 10,
      started_at: new Date(Number(n.started_at_ms)).toISOString(),
      view_lag: typeof n.info.view_seq === 'number' ? Math.max(0, last - n.info.view_seq) : null, report: n.info,
    };
  });
  const pending = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM regate_holds WHERE state = 'pending' AND expires_at_ms > $1`, [now]);
  status.pending_holds = Number(pending.rows[0]!.n);
  const archive = await pool.query<{ origin: string; tree_size: string; checkpoints: string; segments: string; last_at: string }>(
    `SELECT c.origin, max(c.tree_size) AS tree_size, count(*) AS checkpoints, max(c.received_at_ms) AS last_at,
            (SELECT count(*) FROM regate_audit_segments s WHERE s.origin = c.origin) AS segments
     FROM regate_audit_checkpoints c GROUP BY c.origin ORDER BY c.origin`);
  status.archive = archive.rows.map((a) => ({
    origin: a.origin, tree_size: Number(a.tree_size), checkpoints: Number(a.checkpoints), segments: Number(a.segments),
    last_at: new Date(Number(a.last_at)).toISOString(),
  }));
}

/** Reads the cluster's status; an unreachable store is reported, not thrown. */
export async function clusterStatus(postgres: ClusterPostgresOptions): Promise<ClusterStatus> {
  const status: ClusterStatus = {
    store: { target: describeTarget(postgres.url), reachable: false, build_schema_version: LATEST_VERSION }, nodes: [], archive: [],
  };
  const pool = openPool({ ...postgres, pool_size: 1 });
  try {
    await gather(pool, status);
  } catch (err) {
    status.store.error = (err as Error).message;
  } finally {
    await pool.end().catch(() => undefined);
  }
  return status;
}

/** The status as the table `regate cluster status` prints. */
export function formatStatus(s: ClusterStatus): string {
  const lines: string[] = [];
  const st = s.store;
  lines.push(st.reachable
    ? `store ${st.target}: reachable, ${st.round_trip_ms} ms round trip, PostgreSQL ${st.server_version}, schema ${st.schema_version} (this build: ${st.build_schema_version}), last change ${st.last_change ?? '-'}`
    : `store ${st.target}: UNREACHABLE (${st.error})`);
  if (st.reachable && st.schema_version !== st.build_schema_version) lines.push(`  schema differs from this build's: run \`regate cluster migrate\` with the newer build`);
  if (s.pending_holds !== undefined) lines.push(`pending holds: ${s.pending_holds}`);
  lines.push(`nodes: ${s.nodes.filter((n) => n.alive).length} alive of ${s.nodes.length}`);
  for (const n of s.nodes) {
    const r = n.report;
    lines.push(`  ${n.node_id.padEnd(16)} ${n.alive ? 'alive' : 'DOWN '}  heartbeat ${n.heartbeat_age_s} s ago  view lag ${n.view_lag ?? '-'}  ${r.listening ? 'listening' : 'polling'}`
      + `  usage ${r.usage_degraded ? 'LOCAL ONLY' : 'cluster'}  audit backlog ${r.audit_backlog ?? '-'}  ${r.listen_url ?? ''}`);
  }
  lines.push(`audit archive: ${s.archive.length} logs`);
  for (const a of s.archive) lines.push(`  ${a.origin}  tree size ${a.tree_size}  ${a.checkpoints} checkpoints  ${a.segments} segments  last ${a.last_at}`);
  return lines.join('\n');
}
