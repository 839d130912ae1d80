/**
 * regate's policy evaluation timed alone, for the row beside the Go peer's: `node wasm-eval.js
 * BUNDLE INPUT_JSON_FILE N` loads the bundle as `regate serve` does (loadBundle), evaluates the
 * input N times back to back with `evaluate` (the gateway's call: serialise, Wasm, decode,
 * validate) and prints one EVALJSON line with p50/p99 in microseconds. Run pinned by the caller.
 */
import { readFileSync } from 'node:fs';
import { loadBundle, type PolicyInput } from '../../src/policy/index.js';
import { percentile } from '../lib/report.js';

const [, , bundle, inputFile, count] = process.argv;
const engine = await loadBundle(readFileSync(bundle!));
const input = JSON.parse(readFileSync(inputFile!, 'utf8')) as PolicyInput;
const n = Number(count ?? 20_000);
for (let i = 0; i < Math.min(n, 5000); i++) engine.evaluate(input);
const samples = new Float64Array(n);
for (let i = 0; i < n; i++) {
  const t = process.hrtime.bigint();
  engine.evaluate(input);
  samples[i] = Number(process.hrtime.bigint() - t) / 1000;
}
samples.sort();
process.stdout.write(`EVALJSON ${JSON.stringify({ evals: n, p50_us: percentile(samples, 50), p99_us: percentile(samples, 99), allow: engine.evaluate(input).allow })}\n`);
