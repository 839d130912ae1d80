/**
 * `regate audit verify --cluster` and `regate audit export --cluster`: every node's log as the
 * cluster store's archive holds it (docs/cluster.md), verified per node with public keys the
 * auditor trusts, or written out as an ordinary export (for a node that is gone).
 */
import { archiveOnlyInput, verifyLog, type TrustedKey } from '../audit/index.js';
import { archivedLogs, describeTarget, openPool, PostgresArchive, writeArchivedExport, type ClusterPostgresOptions } from '../cluster-store/index.js';
import { postgresOf } from './cluster.js';
import { UsageError, VerificationFailed } from './exit.js';

/** `--cluster` names a gateway config file (its cluster.postgres) or a postgres:// URL. */
export async function archiveTarget(cluster: string, passwordFile: string | undefined): Promise<ClusterPostgresOptions> {
  if (cluster === '') throw new UsageError('--cluster names the cluster store: a gateway config file (its cluster.postgres) or a postgres:// URL; alone, it takes the store of --config FILE');
  if (/^postgres(ql)?:\/\//.test(cluster)) return { url: cluster, ...(passwordFile ? { password_file: passwordFile } : {}) };
  return postgresOf(cluster);
}

export interface NodeVerdict { node: string; origin: string; ok: boolean; records: number; segments: number; message: string }

/**
 * Verifies each archived log, streamed from the store through its `AuditArchive` (a page of the
 * listing and one segment in memory at a time, nothing written to disk); throws VerificationFailed
 * when the archive holds no log. A log whose segments end before the last checkpoint the store
 * witnessed for it lost its newest segments: not intact, though what is left verifies.
 */
export async function verifyArchive(target: ClusterPostgresOptions, keys: readonly TrustedKey[]): Promise<NodeVerdict[]> {
  if (keys.length === 0) throw new UsageError('give the nodes\' audit public keys with --key (the archive is verified with keys you trust, not keys found in it)');
  const pool = openPool(target);
  const verdicts: NodeVerdict[] = [];
  try {
    const logs = await archivedLogs(pool);
    if (logs.length === 0) throw new VerificationFailed('the cluster store\'s archive holds no audit log');
    for (const log of logs) {
      // Reading needs no keys: the archive's own checks are for writers; the verifier trusts `keys` only.
      const archive = new PostgresArchive(pool, { origin: log.origin, node: log.node, keys: [], target: describeTarget(target.url) });
      let segments = 0;
      const counted = (async function* () {
        for await (const item of archiveOnlyInput(archive)) {
          if (item.kind === 'segment') segments++;
          yield item;
        }
      })();
      const result = await verifyLog(counted, { keys, fromGenesis: true });
      const size = result.summary.treeHead?.size ?? 0;
      const verdict = (message: string): NodeVerdict => ({ node: log.node, origin: log.origin, ok: false, records: result.summary.records, segments, message });
      if (!result.ok) verdicts.push({ ...verdict(result.fault.message), records: 0 });
      else if (size < log.tree_size) verdicts.push(verdict(`its archived segments end at tree size ${size}, but the store witnessed a checkpoint of tree size ${log.tree_size}: the segments after tree size ${size} were deleted`));
      else verdicts.push({ node: log.node, origin: log.origin, ok: true, records: result.summary.records, segments, message: 'intact' });
    }
  } finally {
    await pool.end().catch(() => undefined);
  }
  return verdicts;
}

export function describeVerdicts(verdicts: readonly NodeVerdict[]): string {
  return verdicts.map((v) => `${v.node}  ${v.origin}  ${v.ok ? `intact: ${v.records} records in ${v.segments} segments` : `NOT intact: ${v.message}`}\n`).join('');
}

/** Writes one node's archived log (by node id or origin) as an export folder. */
export async function exportArchive(target: ClusterPostgresOptions, which: string, out: string): Promise<{ origin: string; segments: number[] }> {
  const pool = openPool(target);
  try {
    const logs = await archivedLogs(pool);
    const log = logs.find((l) => l.node === which || l.origin === which);
    if (!log) throw new UsageError(`the archive holds no log of node or origin "${which}" (it holds: ${logs.map((l) => `${l.node} ${l.origin}`).join(', ') || 'none'})`);
    return { origin: log.origin, segments: await writeArchivedExport(pool, log.origin, out) };
  } finally {
    await pool.end().catch(() => undefined);
  }
}
