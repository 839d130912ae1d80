/**
 * What archiving to the cluster store costs a node (issue 16, item 8: the allow path within 10 % of
 * a single node): CPU per 10,000-record segment for the real writer appending the gateway's
 * decision/outcome records and sealing, with no archive (the same-run baseline), archived as it is
 * sealed (the log hands the segment's body and leaf hashes to the archiver: no read of LMDB, no
 * hashing again), and archived as a backlog (the archiver starts after the seal, as after an
 * outage or a restart: the segment is read back from LMDB into one buffer and hashed). Real
 * PostgreSQL (a throwaway cluster, as the tests start it), real LMDB, the real archiver and
 * PostgresArchive; the store's own CPU is not the node's and is not counted. Each figure is the
 * median over CLUSTER_ARCHIVE_ROUNDS (default 4) interleaved rounds of 3 segments after a warm-up.
 * Prints a table, writes bench/results/cluster-archive-<date>.json.
 */
import { createPublicKey } from 'node:crypto';
import { loadavg } from 'node:os';
import { Archiver, type AuditLog } from '../src/audit/index.js';
import { openPool, PostgresArchive } from '../src/cluster-store/index.js';
import { fixture, openLog, type Fixture } from '../test/audit/helpers.js';
import { startMigratedPostgres } from '../test/helpers/postgres.js';
import { decision, outcome } from './lib/audit-records.js';
import { report, type Row } from './lib/report.js';

const ROUNDS = Number(process.env.CLUSTER_ARCHIVE_ROUNDS ?? 4);
const SEGMENTS = 3;
const RECORDS = 10_000;
type Mode = 'none' | 'sealed' | 'backlog';

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function fill(log: AuditLog, segment: number): Promise<void> {
  for (let i = 0; i < RECORDS; i += 200) {
    await Promise.all(Array.from({ length: 200 }, (_, k) => {
      const n = segment * RECORDS + i + k;
      return log.append(n % 2 === 0 ? decision(n >> 1) : outcome(n >> 1));
    }));
  }
  await log.seal();
}

/** CPU ms of each segment after the first (a warm-up): appending, sealing and archiving it as `mode` says. */
async function run(mode: Mode, pool: ReturnType<typeof openPool>): Promise<number[]> {
  const f: Fixture = await fixture();
  const log = await openLog(f, { segmentRecords: RECORDS + 1 });
  const archive = new PostgresArchive(pool, { origin: log.origin, node: `bench-${mode}`, keys: [{ kid: f.key.keyId, key: createPublicKey(f.key.privateKey) }], target: 'bench' });
  const opts = { intervalMs: 3_600_000 };
  let archiver = mode === 'sealed' ? await Archiver.start(log, archive, opts) : null;
  const spent: number[] = [];
  try {
    for (let s = 0; s <= SEGMENTS; s++) {
      const before = cpuMs();
      await fill(log, s);
      if (mode === 'backlog') {
        await archiver?.close();
        archiver = await Archiver.start(log, archive, opts);
      }
      await archiver?.kick();
      if (s > 0) spent.push(cpuMs() - before);
      const stats = archiver?.stats();
      if (stats && (stats.pending > 0 || stats.failing > 0)) throw new Error(`segment ${s} was not archived: ${JSON.stringify(stats)}`);
    }
  } finally {
    await log.close();
    f.cleanup();
  }
  return spent;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const started = await startMigratedPostgres();
const pool = openPool(started.opts);
const loadBefore = loadavg()[0]!;
const figures: Record<Mode, number[]> = { none: [], sealed: [], backlog: [] };
try {
  for (let r = 1; r <= ROUNDS; r++) {
    for (const mode of ['none', 'sealed', 'backlog'] as const) {
      figures[mode].push(...await run(mode, pool));
      process.stderr.write(`round ${r}/${ROUNDS} ${mode}: ${median(figures[mode]).toFixed(1)} CPU ms a segment so far, load ${loadavg()[0]!.toFixed(1)}\n`);
    }
  }
} finally {
  await pool.end();
  await started.server.stop();
}
const base = median(figures.none);
const label: Record<Mode, string> = { none: 'append + seal, no archive (baseline)', sealed: 'archived as sealed (handed over)', backlog: 'archived as a backlog (read back, hashed)' };
const rows: Row[] = (['none', 'sealed', 'backlog'] as const).map((mode) => {
  const m = median(figures[mode]);
  return {
    mode: label[mode], 'CPU ms/segment': m, 'archive CPU ms/segment': mode === 'none' ? 0 : m - base,
    'archive CPU us/record': mode === 'none' ? 0 : ((m - base) * 1000) / RECORDS, 'x baseline': m / base,
  };
});
report('cluster-archive', rows, { records_per_segment: RECORDS, rounds: ROUNDS, samples: figures, loadavg_before: loadBefore, loadavg_after: loadavg()[0] });
