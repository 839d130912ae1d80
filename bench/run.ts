/**
 * `npm run bench`: every contender against the same upstream stub, the same load generator (wrk,
 * one thread, pinned), one after another, in one run; one table with ratios; results written to
 * bench/results/gateway-<date>.json and .md. See bench/README.md for method and figures.
 *
 * Each contender is measured BENCH_ROUNDS times, the contenders taking turns round by round, so a
 * noisy neighbour on a shared VM lands on all of them; a row is the round with the median req/s,
 * beside the range of all rounds.
 *
 * Environment: BENCH_SECONDS (per measurement, default 10), BENCH_CONNECTIONS (default 64),
 * BENCH_ROUNDS (default 3), BENCH_ONLY (comma-separated contender ids), BENCH_SSE_STREAMS (default 200),
 * BENCH_FIXED_RATE (default 1000), BENCH_BASELINE (a checkout of an earlier regate with `dist/` built:
 * its `regate serve` runs as one more contender on the same config, taking turns with the others).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findOpa } from '../src/policy-build/index.js';
import { report, type Row } from './lib/report.js';
import { CONTENDER_CPU, LOAD_CPU, startBareProxy, startNginx, startOpaServer, startStub } from './harness/contenders.js';
import { startGoPeer, type EvalFigures, type GoPeer } from './harness/go-peer.js';
import { startLiteLlm } from './harness/litellm.js';
import { runFixedRate, runLoad, type LoadResult } from './harness/load.js';
import { ownCpuSeconds, usage, type Started } from './harness/proc.js';
import { migrateCluster, prepareRegate, startRegate, type RegateSetup } from './harness/regate.js';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const sseStreams = Number(process.env.BENCH_SSE_STREAMS ?? 200);
const only = process.env.BENCH_ONLY?.split(',');
const regoDir = fileURLToPath(new URL('../../rego/', import.meta.url));
const sseClient = fileURLToPath(new URL('./harness/sse-client.js', import.meta.url));
const wasmEval = fileURLToPath(new URL('./harness/wasm-eval.js', import.meta.url));
const exec = promisify(execFile);

/** The request every contender serves: a card-scoring POST, as a fraud analyst sends it. */
const score = { path: '/v1/score', method: 'POST', body: JSON.stringify({ amount: 12.5, merchant: 'm-42', card: { last4: '1111' } }) };
const chat = { path: '/v1/chat/completions', method: 'POST', body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'Is this charge legitimate?' }] }) };

interface Running {
  base: string; procs: Started[]; auth?: string; cleanup?: () => void;
  /** Called after the warm-up, before the measured load (resets a contender's own counters). */
  beforeLoad?: () => Promise<void>;
  /** Figures a contender reports about itself after the measured load (the Go peer's policy timings). */
  collect?: () => Promise<Record<string, unknown>>;
}
interface Contender {
  id: string;
  label: string;
  request: { path: string; method: string; body?: string };
  start(upstream: string): Promise<Running>;
  /** Rounds for this contender when fewer than BENCH_ROUNDS are enough. */
  rounds?: number;
}

let regateSetup: RegateSetup | undefined;
let shadowSetup: RegateSetup | undefined;
let afterCommitSetup: RegateSetup | undefined;
const baseline = process.env.BENCH_BASELINE;
async function regate(upstream: string, role: 'analyst' | 'agent', variant?: 'shadow' | 'after_commit' | 'baseline'): Promise<Running> {
  const setup = variant === 'shadow' ? (shadowSetup ??= await prepareRegate(upstream, { shadow: true }))
    : variant === 'after_commit' ? (afterCommitSetup ??= await prepareRegate(upstream, { forward: 'after_commit' }))
    : (regateSetup ??= await prepareRegate(upstream));
  const p = await startRegate(setup, CONTENDER_CPU, variant === 'baseline' ? baseline : undefined);
  return { base: `http://127.0.0.1:${p.port}`, procs: [p], auth: setup.tokens[role] };
}

/**
 * The same regate joined to a cluster store (a throwaway PostgreSQL 15 on this machine): the allow
 * path must not touch the database (usage counts are batched, holds and grants come from the
 * node's view), so the target is within 10 % of row 3 in the same run (docs/cluster.md).
 * PostgreSQL stands in for the database machine of the production layout: it runs on the load
 * generator's CPU with its data in memory (/dev/shm), so neither its CPU nor its disk writes (the
 * archived segments) compete with the node's core and audit fsyncs. BENCH_PG_COLOCATED=1 lets it
 * float over both cores with its data on the node's disk instead (bench/README.md has both).
 */
/**
 * `--workers 2` with the primary's own CPU measured apart from the workers': every audit record
 * passes the primary (numbered, chained, stored; the workers encode), so its CPU per record is the
 * ceiling of `--workers N` (issue 17). On this machine the workers share the contenders' one core;
 * the ceiling is a per-record cost, which sharing the core does not change.
 */
let workersSetup: RegateSetup | undefined;
async function regateWorkers(upstream: string): Promise<Running> {
  workersSetup ??= await prepareRegate(upstream, { workers: 2 });
  const p = await startRegate(workersSetup, CONTENDER_CPU);
  let before = 0;
  return {
    base: `http://127.0.0.1:${p.port}`, procs: [p], auth: workersSetup.tokens.analyst,
    beforeLoad: async () => { before = ownCpuSeconds(p.child.pid!); },
    collect: async () => ({ primary_cpu_s: ownCpuSeconds(p.child.pid!) - before }),
  };
}

let clusterSetup: RegateSetup | undefined;
let clusterPg: TestPostgres | undefined;
async function regateClustered(upstream: string): Promise<Running> {
  clusterPg ??= await startPostgres(process.env.BENCH_PG_COLOCATED === '1' ? {} : { under: '/dev/shm', cpus: LOAD_CPU });
  clusterSetup ??= await prepareRegate(upstream, { cluster: { url: clusterPg.url, passwordFile: clusterPg.passwordFile } });
  await migrateCluster(clusterSetup);
  const p = await startRegate(clusterSetup, CONTENDER_CPU);
  return { base: `http://127.0.0.1:${p.port}`, procs: [p], auth: clusterSetup.tokens.analyst };
}

/**
 * The Go peer's policy evaluation p50 beside regate's Wasm: under load (timed inside the peer),
 * and both engines evaluating the very input the peer last built, back to back, pinned to the
 * contenders' core (regate's with `evaluate`, as the gateway calls it, from the bench bundle).
 */
const EVAL_LOOP = 20_000;
async function evalFigures(g: GoPeer, setup: RegateSetup): Promise<Record<string, unknown>> {
  const underLoad = await g.evalStats();
  const loop = await g.evalLoop(EVAL_LOOP);
  const inputFile = join(setup.dir, 'peer-input.json');
  writeFileSync(inputFile, JSON.stringify(loop.input));
  const { stdout } = await exec('taskset', ['-c', CONTENDER_CPU, process.execPath, wasmEval, join(setup.dir, 'bench.tar.gz'), inputFile, String(EVAL_LOOP)]);
  const wasm = JSON.parse(/EVALJSON (\{.*\})/.exec(stdout)![1]!) as EvalFigures & { allow: boolean };
  if (!wasm.allow) throw new Error('regate\'s Wasm denies the input the Go peer allowed: the two do not evaluate the same policy');
  return { go_under_load: underLoad, go_loop: { evals: loop.evals, p50_us: loop.p50_us, p99_us: loop.p99_us }, regate_wasm_loop: wasm };
}

const contenders: Contender[] = [
  { id: 'direct', label: '1 direct to upstream', request: score, start: async (up) => ({ base: up, procs: [] }) },
  {
    id: 'bare', label: '2 bare undici proxy', request: score,
    start: async (up) => { const p = await startBareProxy(up); return { base: `http://127.0.0.1:${p.port}`, procs: [p] }; },
  },
  { id: 'regate', label: '3 regate allow (JWT, policy, mask, audit)', request: score, start: (up) => regate(up, 'analyst') },
  { id: 'regate-cluster', label: '3c regate node with cluster store', request: score, start: regateClustered },
  { id: 'regate-workers', label: '3w regate --workers 2 (one core; primary measured apart)', request: score, start: regateWorkers },
  // Shadow mode's cost: the same bundle also runs as the shadow policy, deciding every request a second time off the response path.
  { id: 'regate-shadow', label: '3b regate allow + shadow policy', request: score, start: (up) => regate(up, 'analyst', 'shadow') },
  // Issue 17's first design change, before and after in one run: the decision record committed before the request is forwarded.
  ...(baseline
    ? [{ id: 'regate-baseline', label: `3z regate, earlier build (${baseline})`, request: score, start: (up: string) => regate(up, 'analyst', 'baseline') }]
    : []),
  { id: 'regate-after-commit', label: '3a regate allow, forward: after_commit (record, then forward)', request: score, start: (up) => regate(up, 'analyst', 'after_commit') },
  {
    id: 'regate-dense', label: '4 regate dense masking (20 PAN rows)', request: { path: '/v1/transactions?limit=20', method: 'GET' },
    start: (up) => regate(up, 'analyst'),
  },
  // Dense masking before and after in one run (the masking rounds measure against an earlier build).
  ...(baseline
    ? [{ id: 'regate-dense-baseline', label: `4z regate dense masking, earlier build (${baseline})`, request: { path: '/v1/transactions?limit=20', method: 'GET' }, start: (up: string) => regate(up, 'analyst', 'baseline') }]
    : []),
  {
    id: 'opa-rest', label: '5 bare proxy + opa run --server', request: score,
    start: async (up) => {
      const opa = await startOpaServer(await findOpa(), regoDir);
      const p = await startBareProxy(up, `http://127.0.0.1:${opa.port}`);
      return { base: `http://127.0.0.1:${p.port}`, procs: [p, opa] };
    },
  },
  {
    id: 'go-opa', label: '8 Go net/http + OPA Go SDK (JWT, policy; no masking, no audit)', request: score,
    start: async (up) => {
      const setup = (regateSetup ??= await prepareRegate(up));
      const g = await startGoPeer(setup, up, CONTENDER_CPU);
      return { base: g.base, procs: [g.proc], auth: setup.tokens.analyst, beforeLoad: async () => { await g.evalStats(); }, collect: () => evalFigures(g, setup) };
    },
  },
  {
    id: 'nginx', label: '6 nginx proxy_pass', request: score,
    start: async (up) => { const p = await startNginx(up); return { base: `http://127.0.0.1:${p.port}`, procs: [p] }; },
  },
  {
    // One round: at about 1/150 of the others' rate its ratios do not hinge on noise.
    id: 'litellm', label: '7 LiteLLM proxy, card masking guardrail', request: chat, rounds: 1,
    start: async (up) => { const l = await startLiteLlm(up, CONTENDER_CPU); return { base: l.base, procs: [l.proc], auth: l.auth, cleanup: l.cleanup }; },
  },
];

interface Measured { c: Contender; load: LoadResult; cpu: number; rss: number; range: [number, number]; own?: Record<string, unknown> }

async function measure(c: Contender, upstream: string): Promise<Measured> {
  const r = await c.start(upstream);
  try {
    const spec = { url: r.base + c.request.path, connections, cpus: LOAD_CPU, method: c.request.method, body: c.request.body, auth: r.auth };
    await runLoad({ ...spec, seconds: 2 }); // warm-up: JIT, pools, token cache
    await r.beforeLoad?.();
    const before = r.procs.map((p) => usage(p.child.pid!).cpuSeconds);
    const load = await runLoad({ ...spec, seconds });
    const after = r.procs.map((p) => usage(p.child.pid!));
    const own = await r.collect?.();
    return { c, load, cpu: after.reduce((a, u, i) => a + u.cpuSeconds - before[i]!, 0), rss: after.reduce((a, u) => a + u.rssBytes, 0), range: [load.rps, load.rps], own };
  } finally {
    for (const p of r.procs) await p.stop();
    r.cleanup?.();
  }
}

/** Latency at a fixed rate, below saturation, where queueing does not dominate. */
async function fixedRate(c: Contender, upstream: string, rate: number): Promise<LoadResult> {
  const r = await c.start(upstream);
  try {
    const spec = { url: r.base + c.request.path, connections, cpus: LOAD_CPU, method: c.request.method, body: c.request.body, auth: r.auth, rate };
    await runFixedRate({ ...spec, seconds: 2 });
    return await runFixedRate({ ...spec, seconds });
  } finally {
    for (const p of r.procs) await p.stop();
  }
}

/** Time to first SSE event and per event, through `base`, for a 200-token stream. */
async function sse(base: string, auth?: string): Promise<Record<string, number>> {
  const { stdout } = await exec('taskset', ['-c', LOAD_CPU, process.execPath, sseClient, `${base}/v1/chat/completions`, String(sseStreams), auth ?? '']);
  return JSON.parse(/SSEJSON (\{.*\})/.exec(stdout)![1]!);
}

const stub = await startStub();
const upstream = `http://127.0.0.1:${stub.port}`;
process.stdout.write(`load: wrk -t1 -c${connections} -d${seconds}s pinned to CPU ${LOAD_CPU} (with the upstream stub); contenders pinned to CPU ${CONTENDER_CPU}\n`);
const results: Measured[] = [];
const skipped: Record<string, string> = {};
const rows: Row[] = [];
const perRound: Record<string, { rps: number; cpu_ms_per_req: number }[]> = {};
const extra: Record<string, unknown> = { rounds: perRound, load_generator: `wrk 4.1.0, 1 thread, ${connections} connections, ${seconds} s, CPU ${LOAD_CPU}; ${rounds} rounds, median shown` };
try {
  const runs = new Map<Contender, Measured[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const c of contenders) {
      if ((only && !only.includes(c.id)) || skipped[c.id] || round > (c.rounds ?? rounds)) continue;
      process.stdout.write(`round ${round}/${rounds}: measuring ${c.label}...\n`);
      try {
        const m = await measure(c, upstream);
        runs.set(c, [...(runs.get(c) ?? []), m]);
        // Each round's figures, so rows measured in turn can be compared round by round on a shared machine.
        process.stdout.write(`  ${Math.round(m.load.rps)} req/s, ${((m.cpu * 1000) / m.load.requests).toFixed(3)} CPU ms/req, load average ${loadavg()[0]!.toFixed(1)}\n`);
      } catch (err) {
        skipped[c.id] = (err as Error).message.split('\n')[0]!;
        process.stdout.write(`  skipped: ${skipped[c.id]}\n`);
      }
    }
  }
  for (const [c, ms] of runs) {
    if (skipped[c.id]) continue;
    const sorted = [...ms].sort((a, b) => a.load.rps - b.load.rps);
    results.push({ ...sorted[(sorted.length - 1) >> 1]!, range: [sorted[0]!.load.rps, sorted[sorted.length - 1]!.load.rps] });
    perRound[c.id] = ms.map((m) => ({ rps: Math.round(m.load.rps), cpu_ms_per_req: (m.cpu * 1000) / m.load.requests }));
  }
  const byId = (id: string) => results.find((r) => r.c.id === id);
  const cpuPerReq = (m: Measured) => m.cpu / m.load.requests;
  const direct = byId('direct');
  const bare = byId('bare');
  const opa = byId('opa-rest');
  for (const r of results) {
    rows.push({
      contender: r.c.label,
      'req/s': Math.round(r.load.rps),
      'req/s range': r.range[0] === r.range[1] ? '' : `${Math.round(r.range[0]).toLocaleString('en-US')}–${Math.round(r.range[1]).toLocaleString('en-US')}`,
      'p50 ms': r.load.p50_ms,
      'p99 ms': r.load.p99_ms,
      'p99.9 ms': r.load.p999_ms,
      'added p50 ms': direct ? r.load.p50_ms - direct.load.p50_ms : NaN,
      'CPU s': r.cpu,
      'CPU ms/req': (r.cpu * 1000) / r.load.requests,
      'peak RSS MiB': Math.round(r.rss / 2 ** 20),
      'x bare': bare ? r.load.rps / bare.load.rps : NaN,
      'x opa-rest': opa ? r.load.rps / opa.load.rps : NaN,
      'x regate': byId('regate') ? r.load.rps / byId('regate')!.load.rps : NaN,
      'x go-opa': byId('go-opa') ? r.load.rps / byId('go-opa')!.load.rps : NaN,
      // The headline ratios: requests per CPU second, i.e. req/s on a dedicated core (the rows above
      // divide req/s, which a loaded machine moves with whatever CPU the contender happened to get).
      'x bare CPU': bare && r.cpu > 0 ? cpuPerReq(bare) / cpuPerReq(r) : NaN,
      'x opa-rest CPU': opa && r.cpu > 0 ? cpuPerReq(opa) / cpuPerReq(r) : NaN,
      'x go-opa CPU': byId('go-opa') && r.cpu > 0 ? cpuPerReq(byId('go-opa')!) / cpuPerReq(r) : NaN,
      errors: r.load.errors + r.load.non2xx,
    });
  }

  const go = byId('go-opa')?.own as { go_under_load: EvalFigures; go_loop: EvalFigures; regate_wasm_loop: EvalFigures } | undefined;
  if (go) {
    const evalRows: Row[] = [
      { engine: 'OPA Go SDK (PreparedEvalQuery.Eval), inside the Go peer under load', evals: go.go_under_load.evals, 'p50 us': go.go_under_load.p50_us, 'p99 us': go.go_under_load.p99_us },
      { engine: 'OPA Go SDK, the same input back to back', evals: go.go_loop.evals, 'p50 us': go.go_loop.p50_us, 'p99 us': go.go_loop.p99_us },
      { engine: 'regate Wasm (evaluate), the same input back to back', evals: go.regate_wasm_loop.evals, 'p50 us': go.regate_wasm_loop.p50_us, 'p99 us': go.regate_wasm_loop.p99_us },
    ];
    extra.policy_eval = evalRows;
    report('gateway-policy-eval', evalRows);
  }

  // The --workers ceiling: the primary's CPU per audit record (a decision and an outcome per request).
  const w = byId('regate-workers');
  const primary = w?.own as { primary_cpu_s: number } | undefined;
  if (w && primary) {
    const records = w.load.requests * 2;
    const usPerRecord = (primary.primary_cpu_s * 1e6) / records;
    const ceilingReqs = 1e6 / usPerRecord / 2;
    const single = byId('regate');
    // One worker's rate on a core of its own: the single process's CPU per request (it also does the primary's part).
    const perCore = single ? 1000 / ((single.cpu * 1000) / single.load.requests) : NaN;
    const workerRows: Row[] = [{
      'primary CPU s': primary.primary_cpu_s, 'audit records': records, 'primary CPU us/record': usPerRecord,
      'primary share of CPU': primary.primary_cpu_s / w.cpu, 'ceiling req/s (primary saturated)': Math.round(ceilingReqs),
      'one core req/s (row 3, CPU-bound)': Math.round(perCore), 'projected N (ceiling / one core)': ceilingReqs / perCore,
    }];
    extra.workers = workerRows;
    report('gateway-workers', workerRows);
  }

  // Fixed rates (hey): 1,000 req/s, issue 17's target (added p99 over direct <= 2 ms), then half the
  // bare proxy's maximum, the row rounds 1-3 reported (regate saturates there).
  const fixedRates = [
    { rate: Number(process.env.BENCH_FIXED_RATE ?? 1000), what: 'the fixed-rate target' },
    ...(bare ? [{ rate: Math.round(bare.load.rps / 2), what: "half the bare proxy's maximum" }] : []),
  ];
  if (!only || only.includes('fixed')) {
    const fixed: Row[] = [];
    for (const { rate, what } of fixedRates) {
      const workers = Math.min(connections, Math.max(1, Math.round(rate / 100)));
      process.stdout.write(`fixed rate ${rate} req/s (${what}): hey -c ${workers} -q ${Math.round(rate / workers)}, pinned to CPU ${LOAD_CPU}...\n`);
      const lat: Record<string, LoadResult> = {};
      for (const id of ['direct', 'bare', 'regate', 'go-opa']) {
        if (skipped[id]) continue;
        try {
          lat[id] = await fixedRate(contenders.find((c) => c.id === id)!, upstream, rate);
        } catch (err) {
          skipped[id] = (err as Error).message.split('\n')[0]!;
          process.stdout.write(`  skipped: ${skipped[id]}\n`);
        }
      }
      for (const [id, l] of Object.entries(lat)) {
        fixed.push({
          'rate req/s': rate, contender: contenders.find((c) => c.id === id)!.label, 'req/s': Math.round(l.rps), 'p50 ms': l.p50_ms, 'p99 ms': l.p99_ms,
          'added p50 ms': l.p50_ms - lat.direct!.p50_ms, 'added p99 ms': l.p99_ms - lat.direct!.p99_ms, non2xx: l.non2xx,
        });
      }
    }
    extra.fixed_rate = { rates: fixedRates.map((f) => f.rate), rows: fixed };
    report('gateway-fixed-rate', fixed, { rates: fixedRates });
  }

  if (!only || only.includes('sse')) {
    process.stdout.write(`SSE: ${sseStreams} sequential 200-token streams, direct, bare undici proxy, regate (masking on) and regate with forward: after_commit, ${rounds} rounds taking turns...\n`);
    /** One SSE measurement of a contender started for it (and stopped after). */
    const through = async (start: () => Promise<Running>): Promise<Record<string, number>> => {
      const r = await start();
      try { return await sse(r.base, r.auth); } finally { for (const p of r.procs) await p.stop(); }
    };
    const runs: Record<'d' | 'b' | 'g' | 'a' | 'z', Record<string, number>[]> = { d: [], b: [], g: [], a: [], z: [] };
    for (let round = 1; round <= rounds; round++) {
      runs.d.push(await sse(upstream));
      runs.b.push(await through(async () => { const p = await startBareProxy(upstream); return { base: `http://127.0.0.1:${p.port}`, procs: [p] }; }));
      runs.g.push(await through(() => regate(upstream, 'agent')));
      runs.a.push(await through(() => regate(upstream, 'agent', 'after_commit')));
      // BENCH_BASELINE: the earlier build's streams take their turn too, so a change is judged before and after in one run.
      if (baseline) runs.z.push(await through(() => regate(upstream, 'agent', 'baseline')));
    }
    // Each row is the round with the median first-event p50.
    const median = (ms: Record<string, number>[]) => [...ms].sort((x, y) => x.first_event_p50_ms! - y.first_event_p50_ms!)[(ms.length - 1) >> 1]!;
    const [d, b, g, a] = [median(runs.d), median(runs.b), median(runs.g), median(runs.a)];
    const row = (path: string, m: Record<string, number>, minus?: Record<string, number>): Row => ({
      path,
      'first event p50 ms': m.first_event_p50_ms! - (minus?.first_event_p50_ms ?? 0),
      'first event p99 ms': m.first_event_p99_ms! - (minus?.first_event_p99_ms ?? 0),
      'per event p50 ms': m.per_event_p50_ms! - (minus?.per_event_p50_ms ?? 0),
    });
    const sseRows: Row[] = [
      row('direct', d),
      row('2 bare undici proxy', b),
      row('regate (SSE masked)', g),
      row('regate, forward: after_commit', a),
      row('added by the bare proxy', b, d),
      row('added by regate', g, d),
      row('added by regate, forward: after_commit', a, d),
      ...(baseline ? [row(`added by regate, earlier build (${baseline})`, median(runs.z), d)] : []),
    ];
    extra.sse = sseRows;
    report('gateway-sse', sseRows);
  }
} finally {
  await stub.stop();
  regateSetup?.cleanup();
  clusterSetup?.cleanup();
  await clusterPg?.stop();
  shadowSetup?.cleanup();
  afterCommitSetup?.cleanup();
}

extra.skipped = skipped;
const file = report('gateway', rows, { ...extra, raw: results.map((r) => ({ id: r.c.id, ...r.load, cpu: r.cpu, rss: r.rss })) });
const md = (rs: Row[]) => rs.length === 0 ? '' : `| ${Object.keys(rs[0]!).join(' | ')} |\n|${Object.keys(rs[0]!).map(() => '---').join('|')}|\n${rs.map((r) => `| ${Object.values(r).map((v) => (typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(3)) : v)).join(' | ')} |`).join('\n')}\n`;
writeFileSync(file.replace(/\.json$/, '.md'), [
  `# regate benchmark ${new Date().toISOString().slice(0, 10)}`, '', `Load: ${extra.load_generator as string}.`, '', md(rows),
  ...(extra.fixed_rate ? ['', `## Fixed rates (${(extra.fixed_rate as { rates: number[] }).rates.join(', ')} req/s, hey)`, '', md((extra.fixed_rate as { rows: Row[] }).rows)] : []),
  ...(extra.policy_eval ? ['', '## Policy evaluation, Go peer vs regate', '', md(extra.policy_eval as Row[])] : []),
  ...(extra.workers ? ['', '## `--workers`: the primary\'s ceiling', '', md(extra.workers as Row[])] : []),
  ...(extra.sse ? ['', '## SSE', '', md(extra.sse as Row[])] : []),
  ...(Object.keys(skipped).length ? ['', '## Skipped', '', ...Object.entries(skipped).map(([k, v]) => `- ${k}: ${v}`)] : []),
].join('\n'));
