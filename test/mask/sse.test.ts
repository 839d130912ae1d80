/**
 * SSE streams against the reference: random OpenAI-style streams (several choices, random fields
 * including ones never heard of, tool-call arguments, logprobs with bytes and alternatives),
 * Anthropic-style content blocks and non-JSON data, split into events and then into chunks at
 * random. Per stream (choice, JSON path) the text the client can reassemble must be exactly the
 * reference's masking of the text the upstream sent; every event stays valid JSON; logprob bytes
 * spell their tokens; alternatives beside a masked token show no digits.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan } from '../../src/mask/index.js';
import { SseMasker } from '../../src/mask/stream-sse.js';
import { cutsArb, splitAt, textArb } from './arbitraries.js';
import { REF_SEPARATORS, refDigit, refFind, refMask } from './reference.js';

const LABELS = new Set(['id', 'object', 'type', 'model', 'role', 'finish_reason', 'stop_reason', 'system_fingerprint', 'service_tier', 'created', 'index', 'name', 'provider']);
const FIELDS = ['content', 'reasoning_content', 'refusal', 'x_never_heard_of', 'tool', 'logprobs'] as const;
type Field = (typeof FIELDS)[number];

const streamArb = fc.record({ choice: fc.integer({ min: 0, max: 2 }), field: fc.constantFrom(...FIELDS), text: textArb, cuts: cutsArb });
const openaiArb = fc.record({ streams: fc.array(streamArb, { minLength: 1, maxLength: 4 }), order: fc.array(fc.nat(), { maxLength: 40 }), cuts: cutsArb, altDigits: fc.boolean() });

type Json = Record<string, unknown>;

/** Events carrying the streams' pieces, interleaved, then a finish per choice and [DONE]. */
interface Spec {
  streams: { choice: number; field: Field; text: string; cuts: number[] }[];
  order: number[];
  cuts: number[];
  altDigits: boolean;
}
function openaiBody(spec: Spec): string {
  const queues = spec.streams.map((s) => ({ ...s, pieces: splitAt(s.text, s.cuts) }));
  const events: string[] = [];
  const event = (choice: Json) => events.push(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [choice] })}\n\n`);
  let k = 0;
  while (queues.some((q) => q.pieces.length)) {
    const live = queues.filter((q) => q.pieces.length);
    const q = live[(spec.order[k++ % Math.max(1, spec.order.length)] ?? 0) % live.length]!;
    const piece = q.pieces.shift()!;
    const choice: Json = { index: q.choice, delta: {}, finish_reason: null };
    const delta = choice.delta as Json;
    if (q.field === 'tool') delta.tool_calls = [{ index: 0, function: { arguments: piece } }];
    else if (q.field === 'logprobs') {
      // One piece as one to three tokens, each with its bytes and two alternatives.
      const tokens = splitAt(piece, [1, 3].map((n) => Math.floor((piece.length * n) / 4)));
      choice.logprobs = { content: tokens.map((t) => ({ token: t, logprob: -0.5, bytes: [...Buffer.from(t)], top_logprobs: [{ token: t, logprob: -0.5, bytes: [...Buffer.from(t)] }, { token: spec.altDigits ? '7' : 'x', logprob: -3, bytes: [spec.altDigits ? 55 : 120] }] })) };
    } else delta[q.field] = piece;
    event(choice);
  }
  for (const c of new Set(spec.streams.map((s) => s.choice))) event({ index: c, delta: {}, finish_reason: 'stop' });
  return events.join('') + 'data: [DONE]\n\n';
}

/** Per stream key, every non-label string leaf in order (`pieces`) and their text (`streams`); alternatives apart. */
function texts(body: string): { streams: Map<string, string>; pieces: Map<string, string[]>; entries: Json[] } {
  const streams = new Map<string, string>();
  const pieces = new Map<string, string[]>();
  const entries: Json[] = [];
  const add = (key: string, s: string) => {
    streams.set(key, (streams.get(key) ?? '') + s);
    pieces.set(key, [...(pieces.get(key) ?? []), s]);
  };
  for (const e of body.split('\n\n').filter(Boolean)) {
    const data = e.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(6)).join('\n');
    if (data === '[DONE]' || data === '') continue;
    // An event is JSON when it is an object; anything else is a piece of the data text.
    let v: unknown;
    try {
      if (!data.trimStart().startsWith('{')) throw new Error('not an object');
      v = JSON.parse(data);
    } catch {
      add('<text>', data);
      continue;
    }
    const walk = (n: unknown, key: string, name: string | number) => {
      if (typeof n === 'string') {
        if (!(typeof name === 'string' && LABELS.has(name))) add(key, n);
      } else if (Array.isArray(n)) {
        n.forEach((x, i) => walk(x, key + (x && typeof x === 'object' && typeof (x as Json).index === 'number' ? `[#${(x as Json).index}]` : '[]'), i));
      } else if (n && typeof n === 'object') {
        if ('top_logprobs' in n) entries.push(n as Json);
        for (const [k, x] of Object.entries(n)) if (k !== 'top_logprobs') walk(x, `${key}.${k}`, k);
      }
    };
    const root = v as Json;
    walk(v, root && typeof root === 'object' && typeof root.index === 'number' ? `#${root.index}` : '', '');
  }
  return { streams, pieces, entries };
}

/**
 * What a stream must read as: each event's piece masked on its own (a card number complete in one
 * event is masked there, whatever digits the next event starts with), then the pieces' text masked
 * as one (a card number spread over events). By the reference, which shares no code with the masker.
 */
const expected = (pieces: string[]) => refMask(pieces.map((p) => refMask(p, 'last4')).join(''), 'last4');

/**
 * No card number an input event held whole reaches the output: its digits are not in any output
 * stream as a run, whatever separators stand between them. (`expected` pins the text down
 * exactly; this says what it is for.)
 */
function assertNoCard(input: ReturnType<typeof texts>, output: ReturnType<typeof texts>): void {
  for (const [key, ps] of input.pieces) {
    const out = [...(output.streams.get(key) ?? '')].filter((c) => !REF_SEPARATORS.includes(c)).map((c) => (refDigit(c) >= 0 ? c : ' ')).join('');
    for (const p of ps) for (const pan of refFind(p)) assert.not.ok(out.includes(pan.positions.map((i) => p[i]).join('')), `${key}: ${JSON.stringify(p)}`);
  }
}

const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }]);

function run(body: string, cuts: number[]): string {
  const m = new SseMasker(plan, {});
  let out = '';
  for (const piece of splitAt(body, cuts)) out += m.push(piece);
  return out + m.end();
}

test('random OpenAI streams split at random: per (choice, path) exactly the reference masking', () => {
  fc.assert(
    fc.property(openaiArb, (spec) => {
      const body = openaiBody(spec);
      const out = run(body, spec.cuts);
      const input = texts(body);
      const output = texts(out);
      assert.equal([...output.streams.keys()].sort(), [...input.streams.keys()].sort());
      for (const [key, ps] of input.pieces) assert.is(output.streams.get(key), expected(ps), key);
      assertNoCard(input, output);
      for (const entry of output.entries) {
        assert.equal(entry.bytes, [...Buffer.from(entry.token as string)], 'bytes follow the token');
        for (const alt of entry.top_logprobs as Json[]) assert.equal(alt.bytes, [...Buffer.from(alt.token as string)]);
      }
    }),
    { numRuns: 400 },
  );
});

test('alternatives beside a changed token show no digits', () => {
  const body = openaiBody({ streams: [{ choice: 0, field: 'logprobs', text: 'card 4111 1111 1111 1111 ok', cuts: [5, 7, 9, 12, 20, 25] }], order: [], cuts: [], altDigits: true });
  const { entries } = texts(run(body, []));
  const changed = entries.filter((e) => (e.token as string).includes('*'));
  assert.ok(changed.length > 0);
  for (const e of changed) for (const alt of e.top_logprobs as Json[]) assert.not.match(alt.token as string, /\d/);
});

const anthropicArb = fc.record({ blocks: fc.array(fc.record({ text: textArb, cuts: cutsArb, json: fc.boolean() }), { minLength: 1, maxLength: 3 }), cuts: cutsArb });

test('Anthropic-style content blocks (text and input_json_delta) split at random', () => {
  fc.assert(
    fc.property(anthropicArb, ({ blocks, cuts }) => {
      let body = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"m"}}\n\n';
      blocks.forEach((b, i) => {
        for (const piece of splitAt(b.text, b.cuts)) {
          const delta = b.json ? { type: 'input_json_delta', partial_json: piece } : { type: 'text_delta', text: piece };
          body += `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: i, delta })}\n\n`;
        }
        body += `event: content_block_stop\ndata: {"type":"content_block_stop","index":${i}}\n\n`;
      });
      body += 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
      const input = texts(body);
      const output = texts(run(body, cuts));
      for (const [key, ps] of input.pieces) assert.is(output.streams.get(key), expected(ps), key);
      assertNoCard(input, output);
    }),
    { numRuns: 300 },
  );
});

test('non-JSON data lines are one text across events; under any split', () => {
  fc.assert(
    fc.property(textArb, cutsArb, cutsArb, (text, eventCuts, cuts) => {
      const events = splitAt(text.replace(/\n/g, ' '), eventCuts);
      const body = events.map((p) => `data: ${p}\n\n`).join('');
      const out = texts(run(body, cuts));
      assert.is(out.streams.get('<text>') ?? '', expected(events.filter((p) => p !== '')));
      assertNoCard(texts(body), out);
    }),
    { numRuns: 300 },
  );
});

test.run();
