/**
 * `npm run bench:audit-encode`: the CPU an allowed request spends on its audit records before they
 * reach the store, in process: the policy input serialised (the text the Wasm evaluates and the
 * text the decision record keeps), then the decision and outcome records' canonical JSON through
 * the audit scrubber (src/app/audit-scrub.ts), as `AuditLog.append` writes them. CPU time
 * (`process.cpuUsage`), median of 9 batches of 5,000 requests, each build in its own process.
 *
 * Environment: BENCH_BASELINE=<checkout with `dist/` built>: the same measured with that build's
 * modules, the two builds taking turns over BENCH_ROUNDS (default 3) rounds; the table gives this
 * build ÷ the baseline.
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { PolicyInput } from '../src/contract/index.js';
import { typical } from './lib/inputs.js';
import { report, type Row } from './lib/report.js';

const here = fileURLToPath(new URL('../../', import.meta.url));
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const REQUESTS = 500;
const BATCHES = 9;

interface Figures { serialise_us: number; encode_us: number; request_us: number }

/** Measures the build at `root` (this process is a child: one build's modules per process). */
async function child(root: string): Promise<Figures> {
  const audit = await import(pathToFileURL(join(root, 'dist/src/audit/index.js')).href);
  const { auditScrub } = await import(pathToFileURL(join(root, 'dist/src/app/index.js')).href);
  // Builds before the input was serialised once wrote it twice.
  const serialise: (i: PolicyInput) => [string, string] = audit.serialiseInput
    ? (i) => { const s = audit.serialiseInput(i); return [s.evaluated, s.recorded]; }
    : (i) => [JSON.stringify(i), audit.recordInput(i)];
  const inputs = Array.from({ length: REQUESTS }, (_, n) => ({ ...typical(), time: { now_ns: 1_795_000_000_000_000_000 + n * 1_000_000 } }));
  const body = audit.captureBody(JSON.stringify(typical().request.body));
  const response = audit.captureBody('{"id":"txn_01","score":0.12,"decision":"approve","model":"fraud-v3","card":{"brand":"visa","last4":"1111"}}');
  // The records in the key order src/proxy/audit-records.ts builds them.
  const decisions = inputs.map((_, n) => ({
    type: 'request.decision', request_id: `5f0c8a7e-2b1d-4c4e-9a61-3c2f1d9e${String(n).padStart(4, '0')}`, subject: 'alice@example.com', groups: ['fraud-analysts', 'staff'], client: '10.0.0.7',
    route: 'fraud-model', upstream: 'stub', method: 'POST', path: '/v1/score',
    decision: { effect: 'mask', reason: 'POST /v1/score allowed for fraud-analysts', rules: ['allow.permitted', 'mask.card_data.response'], policy_revision: 'sha256:92b3844a939c88c9' },
    approval: null, request_body: body, policy_input: '',
  }));
  const outcomes = decisions.map((d, n) => ({ type: 'request.outcome', request_id: d.request_id, status: 200, bytes_in: 412, bytes_out: 107, duration_ms: n % 7, masked: {}, response_body: response, error: null }));
  let sink = 0;
  const encode = (n: number) => audit.eventJson(decisions[n], auditScrub).length + audit.eventJson(outcomes[n], auditScrub).length;
  const cases: Record<keyof Figures, (n: number) => number> = {
    serialise_us: (n) => serialise(inputs[n]!)[0].length,
    encode_us: (n) => ((decisions[n]!.policy_input = serialise(inputs[n]!)[1]), 0) + encode(n),
    request_us: (n) => {
      const [evaluated, recorded] = serialise(inputs[n]!);
      decisions[n]!.policy_input = recorded;
      return evaluated.length + encode(n);
    },
  };
  const out = {} as Figures;
  for (const [name, fn] of Object.entries(cases) as [keyof Figures, (n: number) => number][]) {
    for (let w = 0; w < 5; w++) for (let n = 0; n < REQUESTS; n++) sink += fn(n);
    const per: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const t = process.cpuUsage();
      for (let k = 0; k < 10; k++) for (let n = 0; n < REQUESTS; n++) sink += fn(n);
      const u = process.cpuUsage(t);
      per.push((u.user + u.system) / (10 * REQUESTS));
    }
    out[name] = per.sort((a, b) => a - b)[BATCHES >> 1]!;
  }
  // The encode case serialises too (the record needs its text): take that share out.
  out.encode_us -= out.serialise_us;
  if (sink === 0) throw new Error('nothing measured');
  return out;
}

async function main(): Promise<void> {
  const baseline = process.env.BENCH_BASELINE;
  const builds: [string, string][] = [['this build', here], ...(baseline ? [[`baseline (${baseline})`, baseline] as [string, string]] : [])];
  const runs = new Map<string, Figures[]>(builds.map(([label]) => [label, []]));
  const load: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [label, root] of builds) {
      const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), '--child', root]);
      runs.get(label)!.push(JSON.parse(stdout) as Figures);
      load.push(loadavg()[0]!);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
  const figures = builds.map(([label]) => {
    const f = runs.get(label)!;
    return { label, serialise: median(f.map((x) => x.serialise_us)), encode: median(f.map((x) => x.encode_us)), request: median(f.map((x) => x.request_us)) };
  });
  const base = figures[figures.length - 1]!;
  const rows: Row[] = figures.map((f) => ({
    build: f.label, input_serialised_us: f.serialise, records_encoded_us: f.encode, per_request_us: f.request, ...(baseline ? { x_baseline: f.request / base.request } : {}),
  }));
  report('audit-encode', rows, { rounds, requests_per_batch: REQUESTS * 10, batches: BATCHES, load_average: load });
  process.stdout.write(`load average during the runs: ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}\n`);
}

if (process.argv[2] === '--child') process.stdout.write(JSON.stringify(await child(process.argv[3]!)));
else await main();
