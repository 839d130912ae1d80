/**
 * The one load generator every contender gets: wrk (Debian), one thread pinned to its own core so
 * it does not starve the contender, driven by wrk.lua which prints a WRKJSON summary line.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface LoadSpec { url: string; connections: number; seconds: number; cpus: string; method?: string; body?: string; auth?: string; rate?: number }
export interface LoadResult { requests: number; rps: number; errors: number; non2xx: number; p50_ms: number; p99_ms: number; p999_ms: number; mean_ms: number }

const script = fileURLToPath(new URL('../../../bench/harness/wrk.lua', import.meta.url));

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const args = ['-c', spec.cpus, 'wrk', '-t1', `-c${spec.connections}`, `-d${spec.seconds}s`, '--timeout', '10s', '-s', script, spec.url];
  const env = { ...process.env, WRK_METHOD: spec.method ?? 'GET', WRK_BODY: spec.body ?? '', WRK_AUTH: spec.auth ?? '' };
  return new Promise((resolve, reject) => {
    execFile('taskset', args, { env, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const line = /WRKJSON (\{.*\})/.exec(stdout);
      if (err || !line) return reject(new Error(`wrk failed: ${err?.message ?? ''} ${stderr} ${stdout}`));
      const j = JSON.parse(line[1]!) as Record<string, number>;
      const secs = j.duration_us! / 1e6;
      resolve({
        requests: j.requests!, rps: j.requests! / secs, errors: j.errors!, non2xx: j.non2xx!,
        p50_ms: j.p50_us! / 1000, p99_ms: j.p99_us! / 1000, p999_ms: j.p999_us! / 1000, mean_ms: j.mean_us! / 1000,
      });
    });
  });
}

/**
 * Fixed-rate latency (wrk only runs closed-loop flat out): `hey` with a per-worker QPS limit, its
 * per-request CSV turned into percentiles. Used for "added latency at half of the floor's maximum".
 */
export function runFixedRate(spec: LoadSpec & { rate: number }): Promise<LoadResult> {
  const workers = Math.min(spec.connections, Math.max(1, Math.round(spec.rate / 100)));
  const args = ['-c', spec.cpus, 'hey', '-z', `${spec.seconds}s`, '-c', String(workers), '-q', String(Math.max(1, Math.round(spec.rate / workers))), '-o', 'csv', '-t', '10'];
  if (spec.method) args.push('-m', spec.method);
  if (spec.body) args.push('-d', spec.body, '-T', 'application/json');
  if (spec.auth) args.push('-H', `Authorization: ${spec.auth}`);
  args.push(spec.url);
  return new Promise((resolve, reject) => {
    execFile('taskset', args, { maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`hey failed: ${err.message} ${stderr}`));
      const lat: number[] = [];
      let non2xx = 0;
      let last = 0;
      for (const line of stdout.split('\n').slice(1)) {
        const f = line.split(',');
        if (f.length < 8) continue;
        lat.push(Number(f[0]) * 1000);
        if (!f[6]!.startsWith('2')) non2xx++;
        last = Math.max(last, Number(f[7]));
      }
      lat.sort((a, b) => a - b);
      const pct = (p: number) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] ?? NaN;
      resolve({
        requests: lat.length, rps: lat.length / (last || spec.seconds), errors: 0, non2xx,
        p50_ms: pct(50), p99_ms: pct(99), p999_ms: pct(99.9), mean_ms: lat.reduce((a, b) => a + b, 0) / (lat.length || 1),
      });
    });
  });
}
