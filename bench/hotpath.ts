/**
 * `node dist/bench/hotpath.js`: regate's allow path (token verified, policy evaluated, response
 * masked, audit decision + outcome durable) against the bare undici proxy, both pinned to CPU 0 with
 * wrk and the upstream stub on CPU 1; then `--workers 1` against `--workers 2` with everything on
 * both cores. With BENCH_PROFILE=<dir> the single-core regate run is profiled (`--cpu-prof`) and
 * the top self-time entries are printed. Figures and method: bench/README.md.
 *
 * Environment: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 64), BENCH_PROFILE,
 * BENCH_DURABILITY (the config's audit.durability; default: the config's default), BENCH_WORKERS=0
 * (skip the --workers runs).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevIdentity } from '../src/identity/index.js';
import { report, type Row } from './lib/report.js';
import { CONTENDER_CPU, LOAD_CPU, startBareProxy, startStub } from './harness/contenders.js';
import { runLoad, type LoadResult } from './harness/load.js';
import { usage } from './harness/proc.js';
import { startServe, writeConfig } from '../test/helpers/serve.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const profileDir = process.env.BENCH_PROFILE;
const durability = process.env.BENCH_DURABILITY;
const scaling = process.env.BENCH_WORKERS !== '0';
const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const body = '{"amount":12.5,"card":{"pan":"4111 1111 1111 1111"}}';

const work = mkdtempSync(join(tmpdir(), 'regate-hotpath-'));

/** The default policy with the bulk rule's per-minute threshold out of the way (one identity sends everything). */
function benchBundle(): string {
  const rego = join(work, 'rego');
  cpSync(join(root, 'rego'), rego, { recursive: true });
  const data = JSON.parse(readFileSync(join(rego, 'data.json'), 'utf8'));
  data.pci.bulk.max_requests_per_minute = 1e9;
  writeFileSync(join(rego, 'data.json'), JSON.stringify(data));
  const out = join(work, 'bench.tar.gz');
  const r = spawnSync(process.execPath, [cli, 'build', '--rego', rego, '--out', out, '--wasm', join(work, 'bench.wasm')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`regate build failed: ${r.stderr}`);
  return out;
}

interface Regate { child: ChildProcess; url: string; stop(): Promise<void> }

async function startRegate(config: string, cpus: string, workers: number, nodeArgs: string[] = []): Promise<Regate> {
  const { child, ready, exited } = startServe(config, { cpus, nodeArgs, args: ['--workers', String(workers)] });
  const { url } = await ready;
  return { child, url, stop: () => { child.kill('SIGTERM'); return exited.then(() => undefined); } };
}

interface Measured { load: LoadResult; cpu: number }

async function measure(url: string, pid: number, cpus: string, auth?: string): Promise<Measured> {
  const spec = { url: `${url}/v1/score`, connections, cpus, method: 'POST', body, auth };
  await runLoad({ ...spec, seconds: 2 });
  const before = usage(pid).cpuSeconds;
  const load = await runLoad({ ...spec, seconds });
  return { load, cpu: usage(pid).cpuSeconds - before };
}

function row(label: string, m: Measured, base?: Measured): Row {
  return {
    contender: label,
    'req/s': Math.round(m.load.rps),
    p50_ms: m.load.p50_ms,
    p99_ms: m.load.p99_ms,
    cpu_s: m.cpu,
    cpu_ms_per_req: (1000 * m.cpu) / (m.load.rps * seconds),
    non2xx: m.load.non2xx + m.load.errors,
    ratio: base ? m.load.rps / base.load.rps : 1,
  };
}

/** Self time by function (name, file:line) from a V8 .cpuprofile, largest first. */
function topSelf(file: string, n: number): Row[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((x) => [x.id, x.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!;
    const where = f.url ? `${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    const dt = p.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ function: fn, self_ms: Math.round(us / 1000), self_pct: (100 * us) / total }));
}

const dev = await ensureDevIdentity(work);
const token = await dev.sign({ sub: 'bench', groups: ['fraud-analysts'], ttlSeconds: 3600 });
writeFileSync(join(work, 'jwks.json'), JSON.stringify(dev.jwks));
const stub = await startStub();
const upstream = `http://127.0.0.1:${stub.port}`;
const config = writeConfig(work, {
  listen: { port: 0 },
  admin: { port: 0 },
  state_dir: join(work, 'state'),
  upstreams: { models: { url: upstream, connections: 128 } },
  routes: [{ name: 'fraud-model', path_prefix: '/v1/score', upstream: 'models' }],
  identity: { issuer: DEV_ISSUER, audience: DEV_AUDIENCE, jwks_file: join(work, 'jwks.json') },
  policy: { bundle: benchBundle(), allow_unsigned: true },
  ...(durability ? { audit: { durability } } : {}),
  // One identity sends everything: its rate and concurrency limits are out of the way too.
  limits: { requests_per_second: 0, max_concurrent: 0 },
  logging: { level: 'info', requests: true },
}, 'regate.yaml');
const auth = `Bearer ${token}`;
process.stdout.write(`load: wrk -t1 -c${connections} -d${seconds}s POST /v1/score; single-core runs: proxy on CPU ${CONTENDER_CPU}, wrk + stub on CPU ${LOAD_CPU}\n`);

try {
  const bare = await startBareProxy(upstream);
  const bareM = await measure(`http://127.0.0.1:${bare.port}`, bare.child.pid!, LOAD_CPU).finally(() => bare.stop());

  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const profiled = profileDir ? readdirSync(profileDir).length : 0;
  const one = await startRegate(config, CONTENDER_CPU, 1, profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []);
  const oneM = await measure(one.url, one.child.pid!, LOAD_CPU, auth).finally(() => one.stop());
  report('hotpath-single-core', [row('bare undici proxy', bareM), row('regate allow path (--workers 1)', oneM, bareM)], { seconds, connections, body });
  if (profileDir) {
    const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort();
    if (files.length > profiled) report('hotpath-profile', topSelf(join(profileDir, files.at(-1)!), 15));
  }

  // Scaling: the whole machine for every run, so the load generator and the stub share the cores.
  if (scaling) {
    const all = `${CONTENDER_CPU},${LOAD_CPU}`;
    const w1 = await startRegate(config, all, 1);
    const w1M = await measure(w1.url, w1.child.pid!, all, auth).finally(() => w1.stop());
    const w2 = await startRegate(config, all, 2);
    const w2M = await measure(w2.url, w2.child.pid!, all, auth).finally(() => w2.stop());
    report('hotpath-workers', [row('regate --workers 1', w1M), row('regate --workers 2', w2M, w1M)], { seconds, connections, cpus: all });
  }
} finally {
  await stub.stop();
  rmSync(work, { recursive: true, force: true });
}
