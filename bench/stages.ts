/**
 * `npm run bench:stages`: where regate's CPU per request goes. A ladder of gateways built from
 * regate's own pipeline (bench/harness/stage-gateway.ts), each rung adding one stage — policy,
 * masking, holds lookups and the request log, the durable audit log — measured one after another
 * like the contenders (wrk -t1 -c64 and the stub on CPU 1, the gateway alone on CPU 0), with the
 * bare undici proxy of the same run as the baseline and `regate serve` itself as a cross-check of
 * the last rung. Writes bench/results/stages-<date>.json and prints one table.
 *
 * Environment: BENCH_SECONDS (per rung, default 8), BENCH_CONNECTIONS (default 64), BENCH_PROFILE=<dir>
 * (each rung runs under `--cpu-prof` and writes its profile there; the figures then include the
 * profiler's cost), BENCH_BASELINE=<checkout> (an earlier build with `dist/` built: each rung is
 * measured again from it right after this build's, rows marked [earlier build]).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { report, type Row } from './lib/report.js';
import { CONTENDER_CPU, LOAD_CPU, startBareProxy, startStub } from './harness/contenders.js';
import { runLoad, type LoadResult } from './harness/load.js';
import { startPinned, usage, type Started } from './harness/proc.js';
import { prepareRegate, startRegate } from './harness/regate.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const profileDir = process.env.BENCH_PROFILE;
const baseline = process.env.BENCH_BASELINE;
const rungScript = fileURLToPath(new URL('./harness/stage-gateway.js', import.meta.url));
/** What each rung of bench/harness/stage-gateway.ts adds, in order. */
const RUNGS = ['pipeline only (token cache, body, forward)', '+ policy (Wasm)', '+ masking', '+ holds lookups, request log', '+ audit log (durable): every stage'];
const body = JSON.stringify({ amount: 12.5, merchant: 'm-42', card: { last4: '1111' } });

interface Measured { label: string; load: LoadResult; cpuMsPerReq: number }

async function measure(label: string, p: Started, auth?: string): Promise<Measured> {
  try {
    const spec = { url: `http://127.0.0.1:${p.port}/v1/score`, connections, cpus: LOAD_CPU, method: 'POST', body, auth };
    await runLoad({ ...spec, seconds: 2 });
    const before = usage(p.child.pid!).cpuSeconds;
    const load = await runLoad({ ...spec, seconds });
    if (load.non2xx + load.errors > 0) throw new Error(`${label}: ${load.non2xx} non-2xx answers, ${load.errors} errors`);
    return { label, load, cpuMsPerReq: (1000 * (usage(p.child.pid!).cpuSeconds - before)) / load.requests };
  } finally {
    await p.stop();
  }
}

const stub = await startStub();
const upstream = `http://127.0.0.1:${stub.port}`;
const setup = await prepareRegate(upstream);
const afterCommit = await prepareRegate(upstream, { forward: 'after_commit' });
const auth = setup.tokens.analyst;
process.stdout.write(`load: wrk -t1 -c${connections} -d${seconds}s POST /v1/score; gateways on CPU ${CONTENDER_CPU}, wrk + stub on CPU ${LOAD_CPU}\n`);
try {
  const bare = await measure('bare undici proxy (baseline)', await startBareProxy(upstream));
  const rungs: Measured[] = [];
  const before: Measured[] = [];
  for (const [i, label] of RUNGS.entries()) {
    process.stdout.write(`rung ${i}: ${label}\n`);
    const p = await startPinned(CONTENDER_CPU, process.execPath, [...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `rung-${i}.cpuprofile`] : []), rungScript, setup.config, String(i)], { env: { BENCH_UPSTREAM_KEY: 'bench-upstream-secret' } });
    rungs.push(await measure(label, p, auth));
    if (baseline) {
      // The same rung from an earlier build, right after this one: before and after in one run.
      const b = await startPinned(CONTENDER_CPU, process.execPath, [join(baseline, 'dist/bench/harness/stage-gateway.js'), setup.config, String(i)], { env: { BENCH_UPSTREAM_KEY: 'bench-upstream-secret' } });
      before.push(await measure(`${label} [earlier build]`, b, auth));
    }
  }
  // Issue 17's overlap, before and after in the same run: the last rung with the record committed before forwarding.
  process.stdout.write('rung 4 again with forward: after_commit (record, then forward)\n');
  const recordFirst = await measure(`${RUNGS[4]}, forward: after_commit`, await startPinned(CONTENDER_CPU, process.execPath, [rungScript, afterCommit.config, '4'], { env: { BENCH_UPSTREAM_KEY: 'bench-upstream-secret' } }), afterCommit.tokens.analyst);
  const serve = await measure('regate serve (cross-check of the last rung)', await startRegate(setup, CONTENDER_CPU), auth);
  const row = (m: Measured, prev?: Measured): Row => ({
    gateway: m.label,
    'req/s': Math.round(m.load.rps),
    p50_ms: m.load.p50_ms,
    p99_ms: m.load.p99_ms,
    cpu_ms_per_req: m.cpuMsPerReq,
    added_cpu_ms: prev ? m.cpuMsPerReq - prev.cpuMsPerReq : '',
    'x bare': m.load.rps / bare.load.rps,
  });
  report('stages', [row(bare), ...rungs.map((m, i) => row(m, i === 0 ? bare : rungs[i - 1])), row(recordFirst, rungs[3]), row(serve), ...before.map((m, i) => row(m, i === 0 ? bare : before[i - 1]))], { seconds, connections, body, baseline });
} finally {
  setup.cleanup();
  afterCommit.cleanup();
  await stub.stop();
}
