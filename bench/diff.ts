/**
 * `regate policy diff` throughput: decisions compared per second on a real LMDB log of recorded
 * decisions (typical ~1 KB inputs, bodies included), the baseline found by revision in a bundle
 * store and a candidate that changes some decisions. Baseline row of the same run: reading and
 * parsing the records alone (what any pass over the log costs), then rebuilding inputs, then the
 * full diff (two evaluations a decision). Writes bench/results/policy-diff-<date>.json.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, captureBody, loadOrCreateAuditKey, openStore, recordInput, storeInput, type AuditRecord } from '../src/audit/index.js';
import { BundleStore, DEFAULT_BUNDLE, loadBundle, saveBundle } from '../src/policy/index.js';
import { readTarGz, writeTarGz } from '../src/policy/tar.js';
import { diffRecorded, logRecords, recordedDecision } from '../src/policy-diff/index.js';
import { typical } from './lib/inputs.js';
import { report, type Row } from './lib/report.js';

const DECISIONS = Number(process.env.DIFF_BENCH_DECISIONS ?? 20_000);
const root = mkdtempSync(join(tmpdir(), 'regate-bench-diff-'));

function* records(dir: string): Generator<AuditRecord> {
  const store = openStore(dir, { readOnly: true });
  try {
    yield* logRecords(storeInput(store).input);
  } finally {
    void store.env.close();
  }
}

try {
  const gz = readFileSync(DEFAULT_BUNDLE);
  const baseline = await loadBundle(gz);
  await saveBundle(join(root, 'bundles'), baseline.revision, gz);
  // The candidate: fraud analysts lose the transactions listing and bulk starts at 500.
  const candidate = await loadBundle(
    writeTarGz(
      readTarGz(gz).map((e) => {
        if (e.name === '.manifest') return { ...e, bytes: Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(e.bytes).toString()), revision: 'sha256:benchcandidate1' })) };
        if (e.name !== 'data.json') return e;
        const data = JSON.parse(Buffer.from(e.bytes).toString());
        data.pci.operations.transactions.groups = ['pci-admins'];
        data.pci.bulk.max_limit = 500;
        return { ...e, bytes: Buffer.from(JSON.stringify(data)) };
      }),
    ),
  );

  const key = await loadOrCreateAuditKey(root);
  const dir = join(root, 'audit');
  const log = await AuditLog.open({ dir, signingKey: key.privateKey, keyId: key.keyId, durability: 'commit' });
  const paths = ['/v1/score', '/v1/transactions', '/v1/chat/completions'];
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < DECISIONS; i++) {
    const inp = typical();
    inp.request.path = paths[i % 3]!;
    inp.request.method = inp.request.path === '/v1/transactions' ? 'GET' : 'POST';
    if (inp.request.method === 'GET') inp.request.query = { limit: [String((i * 37) % 1500)] };
    const d = baseline.evaluate(inp);
    writes.push(
      log.append({
        type: 'request.decision', request_id: `req-${i}`, subject: inp.identity.sub, groups: inp.identity.groups, client: '10.0.0.7', route: 'r', upstream: 'u',
        method: inp.request.method, path: inp.request.path, decision: { effect: d.hold ? 'hold' : d.allow ? 'mask' : 'deny', reason: d.reason, policy_revision: baseline.revision, rules: d.rules ?? [] },
        approval: null, request_body: captureBody(JSON.stringify(inp.request.body)), policy_input: recordInput(inp),
      }),
    );
  }
  await Promise.all(writes);
  await log.close();

  const store = new BundleStore([join(root, 'bundles')]);
  const timed = async (label: string, fn: () => Promise<number> | number): Promise<Row> => {
    await fn(); // warm-up pass
    const t = performance.now();
    const n = await fn();
    const s = (performance.now() - t) / 1000;
    return { pass: label, decisions: n, seconds: s, decisions_per_s: Math.round(n / s) };
  };
  const rows: Row[] = [
    await timed('read + parse records [baseline]', () => [...records(dir)].length),
    await timed('+ rebuild inputs', () => [...records(dir)].filter((r) => recordedDecision(r)?.input).length),
    await timed('+ decide twice and compare (policy diff)', async () => (await diffRecorded(records(dir), { candidate, baseline: (rev) => store.engine(rev) })).summary.compared),
  ];
  const base = rows[0]!.decisions_per_s as number;
  for (const r of rows) r.vs_baseline = (r.decisions_per_s as number) / base;
  const last = await diffRecorded(records(dir), { candidate, baseline: (rev) => store.engine(rev) });
  report('policy-diff', rows, { decisions: DECISIONS, changed: last.summary.changed, allow_to_deny: last.summary.allow_to_deny, input_bytes: Buffer.byteLength(recordInput(typical())) });
} finally {
  rmSync(root, { recursive: true, force: true });
}
