/**
 * Audit log size and throughput: bytes per record by event type and per request from a real
 * `regate serve` under a representative mix (bench/audit-bytes.ts, part `bytes`); durable appends/s
 * under concurrent callers for each durability mode (the default, fsync, is the baseline the others
 * are compared with), the latency one request pays for
 * its decision record, one-caller-at-a-time appends for contrast, and streaming verify throughput
 * (bench/audit-verify.ts: records/s against the 200k/s target and peak RSS, over a large log).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, eventJson, loadOrCreateAuditKey, type Durability } from '../src/audit/index.js';
import { benchAuditBytes } from './audit-bytes.js';
import { benchVerify } from './audit-verify.js';
import { body, decision, input } from './lib/audit-records.js';
import { percentile, report, type Row } from './lib/report.js';

const APPENDS = Number(process.env.AUDIT_BENCH_APPENDS ?? 20_000);
/** Which parts to run (comma-separated): `bytes` (stored bytes per event type and request), `append` (append rate, record size, latency), `pages` (append rate by LMDB page size), `verify`; default all. */
const PARTS = new Set((process.env.AUDIT_BENCH_PARTS ?? 'bytes,append,pages,verify').split(','));
const CALLERS = 256;
const root = mkdtempSync(join(tmpdir(), 'regate-bench-audit-'));
const key = await loadOrCreateAuditKey(root);

/** `appends` appends from `callers` concurrent callers, each awaiting its own; returns rate and per-append latencies. */
async function run(dir: string, durability: Durability, callers: number, appends: number, withInput = true, pageSizeBytes?: number): Promise<{ rate: number; lat: Float64Array }> {
  const log = await AuditLog.open({ dir, signingKey: key.privateKey, keyId: key.keyId, durability, ...(pageSizeBytes ? { pageSizeBytes } : {}) });
  const lat = new Float64Array(appends);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = next++; i < appends; i = next++) {
        const t = performance.now();
        await log.append(decision(i, withInput));
        lat[i] = performance.now() - t;
      }
    }),
  );
  const rate = appends / ((performance.now() - start) / 1000);
  await log.close();
  return { rate, lat: lat.sort() };
}

const MODES: Array<[Durability, string, string]> = [
  ['fsync', 'yes', 'yes'],
  ['fsync-in-commit', 'yes', 'yes'],
  ['nometasync', 'yes', 'last commit may roll back'],
  ['commit', 'yes', 'no'],
  ['nosync', 'yes', 'no (may corrupt)'],
];

const ROUNDS = 2;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

try {
  if (PARTS.has('bytes')) await benchAuditBytes();
  if (PARTS.has('append')) {
    // Warm the JIT first, then alternate the modes over rounds, so neither warm-up nor a noisy
    // neighbour lands on one mode only; each row is the mean rate and the pooled latencies.
    await run(join(root, 'warmup'), 'fsync', CALLERS, Math.min(APPENDS, 5000));
    const results = new Map<Durability, { rates: number[]; lats: number[] }>(MODES.map(([m]) => [m, { rates: [], lats: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [mode] of MODES) {
        const { rate, lat } = await run(join(root, `${mode}-${round}`), mode, CALLERS, APPENDS);
        results.get(mode)!.rates.push(rate);
        results.get(mode)!.lats.push(...lat);
      }
    }
    const rows: Row[] = [];
    const baseline = mean(results.get('fsync')!.rates);
    for (const [mode, sigkill, power] of MODES) {
      const { rates, lats } = results.get(mode)!;
      const lat = Float64Array.from(lats).sort();
      rows.push({ durability: mode + (mode === 'fsync' ? ' (default)' : ''), callers: CALLERS, appends_per_s: Math.round(mean(rates)), vs_default: mean(rates) / baseline, p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99), survives_sigkill: sigkill, survives_power_loss: power });
    }
    report('audit-append', rows, { appends: APPENDS, rounds: ROUNDS, record_bytes_approx: Buffer.byteLength(JSON.stringify(decision(0))) });

    // What recording the policy input costs a decision record: bytes (the event's canonical JSON; the
    // envelope adds ~130) and the default-durability append rate, without and with it, same run.
    const size: Row[] = [];
    let before = NaN;
    for (const [label, withInput] of [['decision record without policy_input (before)', false], ['decision record with policy_input', true]] as const) {
      const bytes = Buffer.byteLength(eventJson(decision(0, withInput)));
      const { rate, lat } = await run(join(root, `size-${withInput}`), 'fsync', CALLERS, APPENDS, withInput);
      if (Number.isNaN(before)) before = rate;
      size.push({ record: label, event_bytes: bytes, input_bytes: withInput ? Buffer.byteLength(input) : 0, appends_per_s: Math.round(rate), vs_before: rate / before, p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99) });
    }
    report('audit-record-size', size, { body_bytes: body.bytes });

    // What one request waits for its decision record, by how many requests are in flight at once
    // (1 = one awaited append at a time: no batching), at the default durability and, one at a time,
    // with `commit` (acknowledged without awaiting the fsync), to show what that mode saves in latency.
    const latency: Row[] = [];
    const cases: Array<[Durability, number]> = [['fsync', 1], ['commit', 1], ['fsync', 16], ['fsync', 64], ['fsync', 256]];
    for (const [mode, callers] of cases) {
      const { rate, lat } = await run(join(root, `latency-${mode}-${callers}`), mode, callers, Math.min(APPENDS, callers === 1 ? 1000 : 5000));
      latency.push({ durability: mode, in_flight: callers, appends_per_s: Math.round(rate), vs_256: rate / baseline, p50_ms: percentile(lat, 50), p90_ms: percentile(lat, 90), p99_ms: percentile(lat, 99) });
    }
    report('audit-decision-latency', latency);
  }
  if (PARTS.has('pages')) {
    // What the store's page size costs the writer (the bytes it saves: part `bytes`): appends at the
    // default durability, many in flight and one at a time, page sizes taking turns over rounds.
    const pageRuns = new Map<string, { rates: number[]; lats: number[] }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const pageSize of [4096, 16384, 32768]) {
        for (const callers of [CALLERS, 1]) {
          const { rate, lat } = await run(join(root, `page-${pageSize}-${callers}-${round}`), 'fsync', callers, Math.min(APPENDS, callers === 1 ? 1000 : APPENDS), true, pageSize);
          const r = pageRuns.get(`${pageSize} ${callers}`) ?? { rates: [], lats: [] };
          r.rates.push(rate);
          r.lats.push(...lat);
          pageRuns.set(`${pageSize} ${callers}`, r);
        }
      }
    }
    report('audit-append-by-page-size', [...pageRuns].map(([k, r]) => {
      const [pageSize, callers] = k.split(' ').map(Number) as [number, number];
      const lat = Float64Array.from(r.lats).sort();
      return { page_size: pageSize, in_flight: callers, appends_per_s: Math.round(mean(r.rates)), vs_4096: mean(r.rates) / mean(pageRuns.get(`4096 ${callers}`)!.rates), p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99) };
    }), { rounds: ROUNDS });
  }
  if (PARTS.has('verify')) await benchVerify();
} finally {
  rmSync(root, { recursive: true, force: true });
}
