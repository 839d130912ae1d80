/**
 * Audit log throughput: durable appends/s under concurrent callers for each durability mode (the
 * default, fsync, is the baseline the others are compared with), the latency one request pays for
 * its decision record, one-caller-at-a-time appends for contrast, and streaming verify throughput
 * (records/s against the 200k/s target, heap growth) over a log of decision and outcome pairs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, captureBody, eventJson, loadOrCreateAuditKey, openStore, readTrustedKeys, recordInput, storeInput, verifyLog, type AuditEvent, type Durability } from '../src/audit/index.js';
import { percentile, report, type Row } from './lib/report.js';
import { typical } from './lib/inputs.js';

const APPENDS = Number(process.env.AUDIT_BENCH_APPENDS ?? 20_000);
const VERIFY_RECORDS = Number(process.env.AUDIT_BENCH_VERIFY_RECORDS ?? 200_000);
const CALLERS = 256;
const root = mkdtempSync(join(tmpdir(), 'regate-bench-audit-'));
const key = await loadOrCreateAuditKey(root);
const body = captureBody(JSON.stringify({ transaction: { amount: 1234, card: '411111******1111', merchant: 'x'.repeat(600) } }));

// The policy input a decision record carries (`policy_input`, for `regate policy diff`), as the gateway records it.
const input = recordInput(typical());

/** A decision record as the gateway writes it; `withInput: false` is the record before inputs were recorded. */
function decision(i: number, withInput = true): AuditEvent {
  return {
    type: 'request.decision', request_id: `req-${i}`, subject: 'alice@example.com', groups: ['fraud-analysts'], client: '10.0.0.7',
    route: 'fraud-model', upstream: 'http://fraud-model.internal:8080', method: 'POST', path: '/v1/score',
    decision: { effect: 'mask', reason: 'fraud analysts may score; PAN masked', policy_revision: 'sha256:3f1c…', rules: ['allow.permitted', 'mask.card_data.response'] }, approval: null, request_body: body,
    ...(withInput ? { policy_input: input } : {}),
  };
}

/** `appends` appends from `callers` concurrent callers, each awaiting its own; returns rate and per-append latencies. */
async function run(dir: string, durability: Durability, callers: number, appends: number, withInput = true): Promise<{ rate: number; lat: Float64Array }> {
  const log = await AuditLog.open({ dir, signingKey: key.privateKey, keyId: key.keyId, durability });
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

try {
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
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
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

  // Verify: a log of VERIFY_RECORDS records (decision and outcome pairs, as traffic writes them),
  // streamed through the whole check (canonical form, chain, whole-log tree, signed checkpoints);
  // the target is 200k records/s. Memory is sampled while it runs: it must stay flat with the log's size.
  const verifyDir = join(root, 'verify');
  const log = await AuditLog.open({ dir: verifyDir, signingKey: key.privateKey, keyId: key.keyId, durability: 'nosync' });
  for (let i = 0; i < VERIFY_RECORDS; i += 2000) {
    await Promise.all(Array.from({ length: 1000 }, (_, j) => log.append(decision(i / 2 + j))));
    await Promise.all(Array.from({ length: 1000 }, (_, j) => log.append({ type: 'request.outcome', request_id: `req-${i / 2 + j}`, status: 200, bytes_in: 700, bytes_out: 120, duration_ms: 4, masked: { pan: 1 }, response_body: null, error: null })));
  }
  await log.close();
  const store = openStore(verifyDir, { readOnly: true });
  const keys = await readTrustedKeys([join(root, 'audit.pub.pem')]);
  const heap0 = process.memoryUsage().heapUsed;
  let heapPeak = heap0;
  const start = performance.now();
  const result = await verifyLog(storeInput(store).input, { keys, fromGenesis: true, onProgress: () => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)) });
  const seconds = (performance.now() - start) / 1000;
  await store.env.close();
  if (!result.ok) throw new Error(`the benchmark log does not verify: ${result.fault.message}`);
  const rate = result.summary.records / seconds;
  report('audit-verify', [{ records: result.summary.records, segments: result.summary.segments!.last + 1, seconds, records_per_s: Math.round(rate), vs_target_200k: rate / 200_000, heap_growth_mb: (heapPeak - heap0) / 2 ** 20, load_avg_1m: loadavg()[0] ?? 0 }]);
} finally {
  rmSync(root, { recursive: true, force: true });
}
