/**
 * Finding a record in a long archive (issue 20 item 3, the readers' index): `prove --seq N` over a
 * folder archive of ARCHIVE_BENCH_SEGMENTS (default 600) segments, with the live store pruned to
 * its newest segment. The same-run baseline is the reader before the index: a LogReader whose
 * segment walk starts at the archive's first segment whatever record is asked for (every archived
 * segment before the wanted one is read and gunzipped). After: the walk starts at the segment
 * holding the record, found by bisecting the listing (about log2(segments) probes), and records
 * in the live store are proved without reading the archive at all. Each proof is verified as it
 * is made (proveInclusion checks it), so both sides produce the same checked proof. Each figure is
 * the median of three runs with a fresh reader.
 *
 * The archive (real writer, real archiver, records as traffic writes them) is written once and
 * cached under the temp folder. Prints a table, writes bench/results/audit-archive-index-<date>.json.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Archiver, AuditLog, FolderArchive, LogReader, loadOrCreateAuditKey, openStore, proveInclusion, prunedThrough, readTrustedKeys,
} from '../src/audit/index.js';
import { CountingArchive, LinearReader } from '../test/audit/helpers.js';
import { decision, outcome } from './lib/audit-records.js';
import { report, type Row } from './lib/report.js';

const SEGMENTS = Number(process.env.ARCHIVE_BENCH_SEGMENTS ?? 600);
const PER_SEGMENT = 100;
const REPEATS = 3;

async function cachedArchive(): Promise<string> {
  const state = join(tmpdir(), 'regate-bench-archive-index', `${SEGMENTS}x${PER_SEGMENT}`);
  if (existsSync(join(state, 'complete'))) return state;
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  const key = await loadOrCreateAuditKey(state);
  const log = await AuditLog.open({ dir: join(state, 'audit'), signingKey: key.privateKey, keyId: key.keyId, durability: 'nosync', segmentRecords: 1_000_000 });
  const archiver = await Archiver.start(log, new FolderArchive(join(state, 'archive')), { retainLive: { seconds: 0 }, intervalMs: 3_600_000 });
  const started = performance.now();
  for (let s = 0; s < SEGMENTS; s++) {
    for (let i = 0; i < PER_SEGMENT / 2; i++) {
      const n = s * PER_SEGMENT / 2 + i;
      await log.append(decision(n));
      await log.append(outcome(n));
    }
    await log.seal();
    if (s % 50 === 49) await archiver.kick();
  }
  await archiver.kick();
  await log.close();
  writeFileSync(join(state, 'complete'), '');
  process.stderr.write(`wrote a ${SEGMENTS}-segment archive in ${((performance.now() - started) / 1000).toFixed(1)} s (cached in ${state})\n`);
  return state;
}

const state = await cachedArchive();
const store = openStore(join(state, 'audit'), { readOnly: true });
const keys = await readTrustedKeys([join(state, 'audit.pub.pem')]);
const pruned = prunedThrough(store);
const rows: Row[] = [];
const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
try {
  const positions: Array<[string, number]> = [
    ['first archived segment', 5],
    ['middle of the archive', Math.floor(SEGMENTS / 2) * PER_SEGMENT + 7],
    ['newest archived segment', pruned * PER_SEGMENT + 3],
    ['live store', (pruned + 1) * PER_SEGMENT + 3],
  ];
  for (const [where, seq] of positions) {
    // The median of REPEATS runs, each with a fresh reader (nothing cached between runs but the OS's page cache).
    const time = async (Reader: typeof LogReader) => {
      const runs: Array<{ ms: number; gets: number; path: string }> = [];
      for (let r = 0; r < REPEATS; r++) {
        const archive = new CountingArchive(join(state, 'archive'));
        const t = performance.now();
        const proof = await proveInclusion(new Reader(store, archive), seq, keys);
        runs.push({ ms: performance.now() - t, gets: archive.gets, path: proof.path.join() });
      }
      return runs.sort((x, y) => x.ms - y.ms)[Math.floor(REPEATS / 2)]!;
    };
    const before = await time(LinearReader);
    const after = await time(LogReader);
    if (before.path !== after.path) throw new Error(`the proofs of record ${seq} differ`);
    rows.push({ record: seq, where, before_ms: Math.round(before.ms), before_segments_read: before.gets, after_ms: Math.round(after.ms), after_segments_read: after.gets, speedup: Number((before.ms / Math.max(after.ms, 0.01)).toFixed(1)) });
  }
} finally {
  await store.env.close();
}
const load = loadavg().map((l) => l.toFixed(2)).join(' ');
report('audit-archive-index', rows, { segments: SEGMENTS, records_per_segment: PER_SEGMENT, pruned_through: pruned, loadavg_before: loadBefore, loadavg_after: load });
process.stdout.write(`load average ${loadBefore} before, ${load} after (2 cores shared with other work: the segments read and the ratios, not absolute times, are the result)\n`);
