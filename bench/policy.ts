/**
 * Policy evaluation latency: the committed PCI bundle on a typical ~1 KB request and on a 64 KB
 * chat prompt, fed three ways (object, pre-serialised JSON string, pre-serialised UTF-8 bytes),
 * against the opa-wasm SDK's own `evaluate` on the same module in the same process as baseline.
 * Prints p50/p99 in microseconds and writes bench/results/policy-<date>.json.
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { percentile, report, type Row } from './lib/report.js';
import { DEFAULT_BUNDLE, loadBundle, type PolicyInput } from '../src/policy/index.js';
import { typical } from './lib/inputs.js';
import { parseBundle } from '../src/policy/bundle.js';
import { readTarGz } from '../src/policy/tar.js';

const opa = createRequire(import.meta.url)('@open-policy-agent/opa-wasm') as typeof import('@open-policy-agent/opa-wasm');

function chat(): PolicyInput {
  const base = typical();
  const content = 'Customer says card 4111 1111 1111 1111 exp 12/29 was charged twice; please check the last statement lines. '.repeat(600).slice(0, 64 * 1024);
  return {
    ...base,
    identity: { ...base.identity, groups: ['support-agents'] },
    request: { ...base.request, path: '/v1/chat/completions', body: { model: 'support-llm', stream: true, messages: [{ role: 'system', content: 'You are a support assistant.' }, { role: 'user', content }] }, body_bytes: content.length + 120 },
    route: { name: 'llm' },
  };
}

function measure(iterations: number, fn: () => unknown): { p50: number; p99: number; mean: number } {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn();
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    fn();
    samples[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  const sorted = samples.slice().sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: samples.reduce((a, b) => a + b, 0) / iterations };
}

const gz = await readFile(DEFAULT_BUNDLE);
const engine = await loadBundle(gz);
const bundle = parseBundle(readTarGz(gz), engine.entrypoint);
const sdk = opa.loadPolicySync(new WebAssembly.Module(bundle.wasm), { initial: 5 });
sdk.setData(bundle.data);

const rows: Row[] = [];
for (const [label, inp, iterations] of [['typical ~1 KB', typical(), 20_000], ['chat 64 KB', chat(), 2_000]] as const) {
  const json = JSON.stringify(inp);
  const bytes = new TextEncoder().encode(json);
  const bytesAb = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const expected = JSON.stringify(engine.evaluate(inp));
  const sdkDecision = JSON.stringify((sdk.evaluate(inp, engine.entrypoint) as { result: unknown }[])[0]?.result);
  if (sdkDecision !== expected) throw new Error(`SDK and engine disagree on ${label}`);
  const ways: [string, () => unknown][] = [
    ['opa-wasm SDK evaluate(object) [baseline]', () => sdk.evaluate(inp, engine.entrypoint)],
    ['opa-wasm SDK evaluate(ArrayBuffer)', () => sdk.evaluate(bytesAb, engine.entrypoint)],
    ['regate evaluate(object)', () => engine.evaluate(inp)],
    ['regate evaluateJson(string)', () => engine.evaluateJson(json)],
    ['regate evaluateJson(bytes)', () => engine.evaluateJson(bytes)],
  ];
  let baseline = NaN;
  for (const [way, fn] of ways) {
    const m = measure(iterations, fn);
    if (Number.isNaN(baseline)) baseline = m.p50;
    rows.push({ input: label, input_bytes: bytes.byteLength, feed: way, iterations, p50_us: m.p50, p99_us: m.p99, mean_us: m.mean, p50_vs_baseline: m.p50 / baseline });
  }
}
report('policy', rows, { bundle: DEFAULT_BUNDLE, revision: engine.revision, goal: 'p50 < 20 us for the typical 1 KB input' });
