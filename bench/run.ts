/**
 * `npm run bench`: every contender against the same upstream stub, the same load generator (wrk,
 * one thread, pinned), one after another, in one run; one table with ratios; results written to
 * bench/results/<date>.json and .md. See bench/README.md for method and figures.
 *
 * Environment: BENCH_SECONDS (per measurement, default 10), BENCH_CONNECTIONS (default 64),
 * BENCH_ONLY (comma-separated contender ids).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findOpa } from '../src/policy/toolchain.js';
import { report, type Row } from './lib/report.js';
import { CONTENDER_CPU, LOAD_CPU, startBareProxy, startNginx, startOpaServer, startStub } from './harness/contenders.js';
import { runLoad, type LoadResult } from './harness/load.js';
import { usage, type Started } from './harness/proc.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const only = process.env.BENCH_ONLY?.split(',');
const regoDir = fileURLToPath(new URL('../../rego/', import.meta.url));

interface Contender {
  id: string;
  label: string;
  /** Starts the contender (null: the stub itself) and returns the base URL plus what to charge. */
  start(upstream: string): Promise<{ base: string; procs: Started[] }>;
  path: string;
  method?: string;
  body?: string;
  auth?: string;
}

const contenders: Contender[] = [
  { id: 'direct', label: '1 direct to upstream', path: '/json', start: async (up) => ({ base: up, procs: [] }) },
  {
    id: 'bare', label: '2 bare undici proxy', path: '/json',
    start: async (up) => { const p = await startBareProxy(up); return { base: `http://127.0.0.1:${p.port}`, procs: [p] }; },
  },
  {
    id: 'opa-rest', label: '5 bare proxy + opa run --server', path: '/v1/score', method: 'POST', body: '{"amount":12.5}',
    start: async (up) => {
      const opa = await startOpaServer(await findOpa(), regoDir);
      const p = await startBareProxy(up, `http://127.0.0.1:${opa.port}`);
      return { base: `http://127.0.0.1:${p.port}`, procs: [p, opa] };
    },
  },
  {
    id: 'nginx', label: '6 nginx proxy_pass', path: '/json',
    start: async (up) => { const p = await startNginx(up); return { base: `http://127.0.0.1:${p.port}`, procs: [p] }; },
  },
];

interface Measured { c: Contender; load: LoadResult; cpu: number; rss: number }

async function measure(c: Contender, upstream: string): Promise<Measured> {
  const { base, procs } = await c.start(upstream);
  try {
    const spec = { url: base + c.path, connections, cpus: LOAD_CPU, method: c.method, body: c.body, auth: c.auth };
    await runLoad({ ...spec, seconds: 2 }); // warm-up: JIT, pools, caches
    const before = procs.map((p) => usage(p.child.pid!).cpuSeconds);
    const load = await runLoad({ ...spec, seconds });
    const after = procs.map((p) => usage(p.child.pid!));
    return { c, load, cpu: after.reduce((a, u, i) => a + u.cpuSeconds - before[i]!, 0), rss: after.reduce((a, u) => a + u.rssBytes, 0) };
  } finally {
    for (const p of procs) await p.stop();
  }
}

const stub = await startStub();
const upstream = `http://127.0.0.1:${stub.port}`;
process.stdout.write(`load: wrk -t1 -c${connections} -d${seconds}s pinned to CPU ${LOAD_CPU} (with the upstream stub); contenders pinned to CPU ${CONTENDER_CPU}\n`);
const results: Measured[] = [];
try {
  for (const c of contenders) {
    if (only && !only.includes(c.id)) continue;
    process.stdout.write(`measuring ${c.label}...\n`);
    results.push(await measure(c, upstream));
  }
} finally {
  await stub.stop();
}

const byId = (id: string) => results.find((r) => r.c.id === id);
const direct = byId('direct');
const bare = byId('bare');
const rows: Row[] = results.map((r) => ({
  contender: r.c.label,
  'req/s': Math.round(r.load.rps),
  'p50 ms': r.load.p50_ms,
  'p99 ms': r.load.p99_ms,
  'p99.9 ms': r.load.p999_ms,
  'added p50 ms': direct ? r.load.p50_ms - direct.load.p50_ms : NaN,
  'CPU s': r.cpu,
  'peak RSS MiB': Math.round(r.rss / 2 ** 20),
  'x bare': bare ? r.load.rps / bare.load.rps : NaN,
  errors: r.load.errors + r.load.non2xx,
}));
const file = report('gateway', rows, { load_generator: `wrk 4.1.0, 1 thread, ${connections} connections, ${seconds} s, CPU ${LOAD_CPU}`, raw: results.map((r) => ({ id: r.c.id, ...r.load, cpu: r.cpu, rss: r.rss })) });
writeFileSync(file.replace(/\.json$/, '.md'), `| ${Object.keys(rows[0]!).join(' | ')} |\n|${Object.keys(rows[0]!).map(() => '---').join('|')}|\n${rows.map((r) => `| ${Object.values(r).map((v) => (typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(3)) : v)).join(' | ')} |`).join('\n')}\n`);
