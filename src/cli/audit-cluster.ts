/**
 * `regate audit verify --cluster` and `regate audit export --cluster`: every node's log as the
 * cluster store's archive holds it (docs/cluster.md), verified per node with public keys the
 * auditor trusts, or written out as an ordinary export (for a node that is gone).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileInput, verifyLog, type TrustedKey } from '../audit/index.js';
import { archivedLogs, openPool, writeArchivedExport, type ClusterPostgresOptions } from '../cluster-store/index.js';
import { postgresOf } from './cluster.js';
import { UsageError, VerificationFailed } from './exit.js';

/** `--cluster` names a gateway config file (its cluster.postgres) or a postgres:// URL. */
export async function archiveTarget(cluster: string, passwordFile: string | undefined): Promise<ClusterPostgresOptions> {
  if (/^postgres(ql)?:\/\//.test(cluster)) return { url: cluster, ...(passwordFile ? { password_file: passwordFile } : {}) };
  return postgresOf(cluster);
}

export interface NodeVerdict { node: string; origin: string; ok: boolean; records: number; segments: number; message: string }

/** Verifies each archived log; throws VerificationFailed naming the nodes whose log is not intact. */
export async function verifyArchive(target: ClusterPostgresOptions, keys: readonly TrustedKey[]): Promise<NodeVerdict[]> {
  if (keys.length === 0) throw new UsageError('give the nodes\' audit public keys with --key (the archive is verified with keys you trust, not keys found in it)');
  const pool = openPool(target);
  const verdicts: NodeVerdict[] = [];
  try {
    const logs = await archivedLogs(pool);
    if (logs.length === 0) throw new VerificationFailed('the cluster store\'s archive holds no audit log');
    for (const log of logs) {
      const dir = mkdtempSync(join(tmpdir(), 'regate-archive-'));
      try {
        const segments = await writeArchivedExport(pool, log.origin, dir);
        const result = await verifyLog(fileInput([dir]).input, { keys, fromGenesis: true });
        verdicts.push(result.ok
          ? { node: log.node, origin: log.origin, ok: true, records: result.summary.records, segments: segments.length, message: 'intact' }
          : { node: log.node, origin: log.origin, ok: false, records: 0, segments: segments.length, message: result.fault.message });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
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
