/**
 * The floor under issue 17's fixed-rate target (added p99 ≤ 2 ms at 1,000 req/s): no response byte
 * leaves before its decision record is durable, and at 1,000 req/s nearly every commit carries one
 * request's record, so a request's tail latency includes the tail of one durable commit. Measured
 * on the disk the audit log lives on (the OS temp folder, or COMMIT_BENCH_DIR), one after another:
 * an fdatasync of a 4 KiB write (the disk alone), and an awaited AuditLog.append of a decision
 * record (the real writer: LMDB commit, its syncs, the record's encoding). COMMIT_BENCH_SAMPLES
 * (default 2,000) each. Prints a table, writes bench/results/commit-latency-<date>.json.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, loadOrCreateAuditKey } from '../src/audit/index.js';
import { decision } from './lib/audit-records.js';
import { percentile, report, type Row } from './lib/report.js';

const SAMPLES = Number(process.env.COMMIT_BENCH_SAMPLES ?? 2000);
const dir = mkdtempSync(join(process.env.COMMIT_BENCH_DIR ?? tmpdir(), 'regate-commit-'));

function row(what: string, ms: number[]): Row {
  const s = [...ms].sort((a, b) => a - b);
  return { what, samples: s.length, 'p50 ms': percentile(s, 50), 'p90 ms': percentile(s, 90), 'p99 ms': percentile(s, 99), 'p99.9 ms': percentile(s, 99.9), 'max ms': s[s.length - 1]! };
}

const loadBefore = loadavg()[0]!;
try {
  const fd = openSync(join(dir, 'sync-probe'), 'w');
  const page = Buffer.alloc(4096, 1);
  const syncs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    writeSync(fd, page);
    const t = performance.now();
    fdatasyncSync(fd);
    syncs.push(performance.now() - t);
  }
  closeSync(fd);

  const key = await loadOrCreateAuditKey(dir);
  const log = await AuditLog.open({ dir: join(dir, 'audit'), signingKey: key.privateKey, keyId: key.keyId });
  const appends: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    await log.append(decision(i));
    appends.push(performance.now() - t);
  }
  await log.close();
  report('commit-latency', [row('fdatasync of a 4 KiB write', syncs), row('AuditLog.append, awaited (one record a commit)', appends)], { dir, loadavg_before: loadBefore, loadavg_after: loadavg()[0] });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
