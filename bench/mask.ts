/**
 * Masking throughput: MB/s on 1 MB of text with no matches and with dense matches (one PAN per
 * ~2 KB, and one per ~60 bytes), whole pipeline (find, validate, replace) per RE2 engine, against
 * JavaScript's RegExp doing the same work in the same run; the added latency per SSE event; and, by
 * string length, one native RE2 call against the JavaScript prefilter on strings it has not seen
 * (the µs rows give time in the MB/s column and a ratio of times: lower is better there); and
 * JSON bodies masked in one scan against the walk over their tree.
 */
import { performance } from 'node:perf_hooks';
import { report, type Row } from './lib/report.js';
import { compileMaskPlan, maskJsonText, maskText, type MaskPlan } from '../src/mask/index.js';
import { maskJsonWalk } from '../src/mask/json.js';
import type { RegexEngine } from '../src/mask/engine.js';
import { panPass } from '../src/mask/pan-pass.js';
import { maskWhole } from '../src/mask/pass.js';
import { SseMasker } from '../src/mask/stream-sse.js';

const MB = 1 << 20;
const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);
const prose = 'The quick brown fox paid order 12345 on 2024-01-02 at 10:30. ';
const texts: Record<string, string> = {
  'no match': fill(prose),
  'dense (1/2KB)': fill(prose.repeat(32) + 'card 4111 1111 1111 1111 '),
  'very dense (1/60B)': fill('ref 99 card 4111 1111 1111 1111 ok, '),
};

/** The same pipeline with JavaScript's RegExp (backtracking, ReDoS-prone) finding the runs: the baseline. */
const jsEngine: RegexEngine = {
  name: 'native',
  compile(source) {
    const re = new RegExp(source, 'gu');
    return {
      next(text, from) {
        re.lastIndex = from;
        const m = re.exec(text);
        return m ? { start: m.index, end: m.index + m[0].length } : null;
      },
    };
  },
};
const jsPass = panPass(jsEngine, 'pan', 'last4');
const jsMask = (text: string): string => maskWhole({ ...jsPass, firstCandidate: undefined }, text, {});

function mbps(fn: () => unknown): number {
  fn();
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1500 && runs < 50) {
    fn();
    runs++;
  }
  return runs / ((performance.now() - t0) / 1000);
}

const rows: Row[] = [];
const plans: Record<string, MaskPlan> = {
  native: compileMaskPlan([{ detector: 'pan', format: 'last4' }], [], { engine: 'native' }),
  wasm: compileMaskPlan([{ detector: 'pan', format: 'last4' }], [], { engine: 'wasm' }),
  'native, all detectors': compileMaskPlan([{ detector: 'pan', format: 'last4' }, { detector: 'cvv' }, { detector: 'expiry' }, { detector: 'track' }], [], { engine: 'native' }),
};
for (const [input, text] of Object.entries(texts)) {
  const base = mbps(() => jsMask(text));
  rows.push({ engine: 'js RegExp (baseline)', input, 'MB/s': base, 'x baseline': 1 });
  for (const [name, plan] of Object.entries(plans)) {
    const v = mbps(() => maskText(plan, text));
    rows.push({ engine: name, input, 'MB/s': v, 'x baseline': v / base });
  }
}

// Added latency per SSE event: a typical token stream through the SSE masker, against the
// RegExp pipeline masking each event's text alone (no SSE framing, no JSON) in the same run.
const events = Array.from({ length: 2000 }, (_, i) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: i % 50 === 7 ? ' 4111 1111' : ' token' }, finish_reason: null }] })}\n\n`);
/** µs per event over as many passes of the stream as fit in 1.5 s (after one to warm up). */
function usPerEvent(fn: () => void): number {
  return 1e6 / (mbps(fn) * events.length);
}
const sseBase = usPerEvent(() => events.forEach((e) => jsMask(e)));
rows.push({ engine: 'js RegExp (baseline)', input: 'SSE event (µs/event)', 'MB/s': sseBase, 'x baseline': 1 });
for (const [name, plan] of Object.entries(plans)) {
  const us = usPerEvent(() => {
    const m = new SseMasker(plan, {});
    for (const e of events) m.push(e);
    m.end();
  });
  rows.push({ engine: name, input: 'SSE event (µs/event)', 'MB/s': us, 'x baseline': us / sseBase });
}
// JSON bodies as the gateway masks them (the bench upstream's answers, bench/harness/upstream-stub.ts):
// in one scan of the source (json-scan.ts) against the walk over a parsed tree (json.ts, the design
// before round 5), µs per body, same plan and run.
const jsonBodies: Record<string, string> = {
  'JSON answer, no card number (µs/body)': JSON.stringify({ id: 'txn_01', score: 0.12, decision: 'approve', model: 'fraud-v3', card: { brand: 'visa', last4: '1111' } }),
  'JSON 20 card rows (µs/body)': JSON.stringify({ rows: Array.from({ length: 20 }, (_, i) => ({ id: i, pan: '4111 1111 1111 1111', cvv: '123', note: 'card 5500-0000-0000-0004 on file' })) }),
};
const cardPlan = plans['native, all detectors']!;
/** µs per body, walk and scan taking turns: median of 7 batches of 2,000 after 5,000 warm-up calls each. */
function turns(fns: (() => unknown)[]): number[] {
  for (const fn of fns) for (let i = 0; i < 5000; i++) fn();
  const times: number[][] = fns.map(() => []);
  for (let b = 0; b < 7; b++) {
    fns.forEach((fn, k) => {
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) fn();
      times[k]!.push(((performance.now() - t0) * 1000) / 2000);
    });
  }
  return times.map((t) => t.sort((x, y) => x - y)[3]!);
}
for (const [input, body] of Object.entries(jsonBodies)) {
  const [walk, scan] = turns([() => maskJsonWalk(cardPlan, body), () => maskJsonText(cardPlan, body)]) as [number, number];
  rows.push({ engine: 'walk over a tree (baseline)', input, 'MB/s': walk, 'x baseline': 1 });
  rows.push({ engine: 'native, all detectors: one scan', input, 'MB/s': scan, 'x baseline': scan / walk });
}
// Where the prefilter stops paying for native RE2 (engine-native.ts, PREFILTER_BELOW): µs per call
// on strings the engine has not seen (its UTF-8 copy is made per new string), by length.
const pass = plans.native!.passes[0]!;
for (const len of [64, 256, 512, 1024, 4096]) {
  const base = prose.repeat(Math.ceil(len / prose.length)).slice(0, len - 6);
  // Distinct, flat strings without a candidate (the suffix is letters).
  const strs = Array.from({ length: 2000 }, (_, i) => Buffer.from(base + String(100000 + i).replace(/\d/g, (d) => 'abcdefghij'[Number(d)]!)).toString());
  const usPerCall = (fn: (s: string) => unknown) => 1e6 / (mbps(() => strs.forEach(fn)) * strs.length);
  const pre = usPerCall((t) => pass.firstCandidate!(t, 0));
  rows.push({ engine: 'JS prefilter (baseline)', input: `new ${len}-char string (µs/call)`, 'MB/s': pre, 'x baseline': 1 });
  const re2 = usPerCall((t) => pass.pattern.next(t, 0));
  rows.push({ engine: 'native RE2 call', input: `new ${len}-char string (µs/call)`, 'MB/s': re2, 'x baseline': re2 / pre });
}
report('mask', rows);
