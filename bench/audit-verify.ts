/**
 * Verify at scale (issue 15 item 10): how fast `regate audit verify` streams a large log and how much
 * memory it takes. The logs (decision and outcome pairs, as traffic writes them) are written once by
 * the real writer and cached under the temp folder, keyed by their size and record contents. Each
 * verify runs in a child process of its own, so its peak RSS is verify's alone: over a log ten times
 * smaller (the same-run baseline) and over the large one. Flat memory means the two peaks match; the
 * rate is compared with the 200k records/s target. Last, the real CLI over the large log, wall clock
 * (start-up included) and its peak RSS (VmHWM).
 *
 * AUDIT_BENCH_VERIFY_RECORDS (default 1,000,000) sets the large log's size. AUDIT_BENCH_VERIFY_BEFORE=DIR
 * (another build's `dist` folder, e.g. of an earlier commit) adds its verify over both logs, in the
 * same run, for a before/after comparison.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog, eventJson, loadOrCreateAuditKey, openStore, readTrustedKeys, storeInput, verifyLog } from '../src/audit/index.js';
import { decision, outcome } from './lib/audit-records.js';
import { report, type Row } from './lib/report.js';

const RECORDS = Number(process.env.AUDIT_BENCH_VERIFY_RECORDS ?? 1_000_000);
const TARGET = 200_000;
const self = fileURLToPath(import.meta.url);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** A state folder holding a log of `records` records (and its key), written by the real writer once and reused. */
async function cachedLog(records: number): Promise<string> {
  const contents = createHash('sha256').update(eventJson(decision(0))).update(eventJson(outcome(0))).digest('hex').slice(0, 12);
  const state = join(tmpdir(), 'regate-bench-audit-verify', `${records}-${contents}`);
  if (existsSync(join(state, 'complete'))) return state;
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  const key = await loadOrCreateAuditKey(state);
  const log = await AuditLog.open({ dir: join(state, 'audit'), signingKey: key.privateKey, keyId: key.keyId, durability: 'nosync' });
  const started = performance.now();
  // Batches of 1,000 decisions then their 1,000 outcomes: each decision meets its outcome within 1,000 records.
  for (let i = 0; i < records; i += 2000) {
    const n = Math.min(1000, (records - i) / 2);
    await Promise.all(Array.from({ length: n }, (_, j) => log.append(decision(i / 2 + j))));
    await Promise.all(Array.from({ length: n }, (_, j) => log.append(outcome(i / 2 + j))));
  }
  await log.close();
  writeFileSync(join(state, 'complete'), '');
  process.stderr.write(`wrote a ${records}-record log in ${((performance.now() - started) / 1000).toFixed(1)} s (cached in ${state})\n`);
  return state;
}

interface ChildResult {
  records: number;
  seconds: number;
  /** CPU time the verify took (user + system): on a shared, loaded machine, less disturbed than wall time. */
  cpu_seconds: number;
  anon_before_mb: number;
  anon_peak_mb: number;
  rss_peak_mb: number;
}

/** Resident anonymous memory (heap, buffers, native allocations) and the high-water mark of all resident memory, in MiB. */
function memory(pid: number | 'self' = 'self'): { anon: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { anon: kb('RssAnon'), hwm: kb('VmHWM') };
}

/** Runs in the child: verifies the store as `regate audit verify --state` does and reports time and peak RSS. */
async function child(state: string, dist?: string): Promise<void> {
  const before = memory().anon;
  let peak = before;
  // Another build's verifier (the before of a before/after), or this one.
  const audit = dist ? ((await import(join(dist, 'src/audit/index.js'))) as typeof import('../src/audit/index.js')) : { openStore, readTrustedKeys, storeInput, verifyLog };
  const { openStore: open, readTrustedKeys: keysOf, storeInput: input, verifyLog: verify } = audit;
  const keys = await keysOf([join(state, 'audit.pub.pem')]);
  const store = open(join(state, 'audit'), { readOnly: true });
  const start = performance.now();
  const cpu = process.cpuUsage();
  // Sampled every 50,000 records (every fifth progress callback): anonymous memory has no high-water mark of its own.
  let calls = 0;
  const result = await verify(input(store).input, { keys, fromGenesis: true, onProgress: () => void (calls++ % 5 === 0 && (peak = Math.max(peak, memory().anon))) });
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const end = memory();
  await store.env.close();
  if (!result.ok) throw new Error(`the benchmark log does not verify: ${result.fault.message}`);
  const out: ChildResult = { records: result.summary.records, seconds, cpu_seconds: (used.user + used.system) / 1e6, anon_before_mb: before, anon_peak_mb: Math.max(peak, end.anon), rss_peak_mb: end.hwm };
  process.stdout.write(JSON.stringify(out) + '\n');
}

function inChild(state: string, dist?: string): ChildResult {
  return JSON.parse(execFileSync(process.execPath, [self, '--child', state, ...(dist ? [dist] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as ChildResult;
}

/** The real CLI over `state`: wall-clock seconds and its peak memory, read from /proc while it runs. */
async function viaCli(state: string): Promise<{ seconds: number; anon_peak_mb: number; rss_peak_mb: number }> {
  const start = performance.now();
  const p = spawn(process.execPath, [cli, 'audit', 'verify', '--state', state, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let anon = 0;
  let hwm = 0;
  const poll = setInterval(() => {
    try {
      const m = memory(p.pid!);
      // An exited process (a zombie until reaped) has no memory fields left.
      if (!Number.isNaN(m.anon)) anon = Math.max(anon, m.anon);
      if (!Number.isNaN(m.hwm)) hwm = Math.max(hwm, m.hwm);
    } catch {
      // it has exited
    }
  }, 50);
  let out = '';
  p.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
  clearInterval(poll);
  if (code !== 0) throw new Error(`regate audit verify exited ${code}: ${out}`);
  return { seconds: (performance.now() - start) / 1000, anon_peak_mb: anon, rss_peak_mb: hwm };
}

export async function benchVerify(): Promise<void> {
  const small = await cachedLog(RECORDS / 10);
  const large = await cachedLog(RECORDS);
  const rows: Row[] = [];
  inChild(small); // warm the page cache for both logs before timing
  inChild(large);
  const before = process.env.AUDIT_BENCH_VERIFY_BEFORE;
  const runs: Array<[string, ChildResult]> = [];
  if (before) runs.push([`before (${before}): the smaller log`, inChild(small, before)], [`before (${before}): the large log`, inChild(large, before)]);
  const base = inChild(small);
  const big = inChild(large);
  runs.push(['baseline: a log ten times smaller', base], ['the large log', big]);
  for (const [label, r] of runs) {
    const rate = r.records / r.seconds;
    rows.push({ log: label, records: r.records, seconds: r.seconds, records_per_s: Math.round(rate), vs_target_200k: rate / TARGET, records_per_cpu_s: Math.round(r.records / r.cpu_seconds), anon_start_mb: Math.round(r.anon_before_mb), anon_peak_mb: Math.round(r.anon_peak_mb), anon_vs_baseline: r.anon_peak_mb / base.anon_peak_mb, rss_peak_mb: Math.round(r.rss_peak_mb) });
  }
  const c = await viaCli(large);
  rows.push({ log: 'the large log, CLI (wall clock, start-up included)', records: big.records, seconds: c.seconds, records_per_s: Math.round(big.records / c.seconds), vs_target_200k: big.records / c.seconds / TARGET, anon_start_mb: 0, anon_peak_mb: Math.round(c.anon_peak_mb), anon_vs_baseline: c.anon_peak_mb / base.anon_peak_mb, rss_peak_mb: Math.round(c.rss_peak_mb) });
  // RSS counts the pages of the memory-mapped LMDB file verify has read (the kernel's page cache,
  // dropped under pressure); anonymous memory is what verify itself holds.
  report('audit-verify', rows, { load_avg: loadavg(), target_records_per_s: TARGET });
}

if (process.argv[1] === self) {
  if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]);
  else await benchVerify();
}
