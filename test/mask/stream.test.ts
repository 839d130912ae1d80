/**
 * Streaming maskers: whatever the chunk or token boundaries, zero leaks and the same output as
 * masking the whole input at once; nothing held back that could not still become a match.
 */
import fc from 'fast-check';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileMaskPlan, containsPan, createResponseMasker, maskBody, maskJsonText, maskText, type MaskPlan } from '../../src/mask/index.js';
import { TextStreamMasker } from '../../src/mask/stream-text.js';
import { SseMasker } from '../../src/mask/stream-sse.js';
import { fillerArb, panArb } from './cards.js';
import { splitAt } from './arbitraries.js';
import { refFind } from './reference.js';

/** A value masked as the JSON text it serialises to, read back. */
function maskJson(plan: MaskPlan, value: unknown): { value: unknown; counts: Record<string, number> } {
  const r = maskJsonText(plan, JSON.stringify(value));
  return { value: JSON.parse(r.text) as unknown, counts: r.counts };
}


const RULES = [{ detector: 'pan', format: 'last4' as const }, { detector: 'cvv' }, { detector: 'expiry' }, { detector: 'track' }, { detector: 'ref' }];
const CUSTOM = [{ name: 'ref', pattern: 'REF-\\d{6}', maxLength: 10 }];
const PLANS: MaskPlan[] = [compileMaskPlan(RULES, CUSTOM, { engine: 'native' }), compileMaskPlan(RULES, CUSTOM, { engine: 'wasm' })];

const docArb = fc
  .array(fc.oneof(fillerArb, panArb.map((p) => ` ${p.printed} `), fc.constantFrom(' cvv: 123 ', ' exp 11/29 ', ' expires 2027-01 ', ' valid thru 2031 / 12 ', ' expires 2026-12-01T10:00Z ', ' exp 2027-01-15 ', ' REF-123456 ', ' ;4111111111111111=2912101? ')), { minLength: 1, maxLength: 8 })
  .map((a) => a.join(''));


function streamText(plan: MaskPlan, parts: string[]): { text: string; counts: Record<string, number> } {
  const counts = {};
  const m = new TextStreamMasker(plan, counts);
  let out = '';
  for (const p of parts) out += m.push(p);
  return { text: out + m.end(), counts };
}

test('raw text split at random: no leaks, same as one-shot (both engines)', () => {
  fc.assert(
    fc.property(docArb, fc.array(fc.nat(), { maxLength: 12 }), fc.constantFrom(...PLANS), (doc, cuts, plan) => {
      const whole = maskText(plan, doc);
      const streamed = streamText(plan, splitAt(doc, cuts));
      assert.is(streamed.text, whole.text);
      assert.equal(streamed.counts, whole.counts);
      assert.not.ok(containsPan(streamed.text));
    }),
    { numRuns: 300 },
  );
});

test('raw text split at every boundary and fed one character at a time', () => {
  const doc = 'a 😀 4111 1111 1111 1111 b 3782-822463-10005, cvv=123 REF-654321 ;4111111111111111=2912101? end 5500000000000004';
  for (const plan of PLANS) {
    const whole = maskText(plan, doc).text;
    for (let i = 0; i <= doc.length; i++) assert.is(streamText(plan, [doc.slice(0, i), doc.slice(i)]).text, whole, `cut ${i}`);
    assert.is(streamText(plan, [...doc]).text, whole);
  }
});

test('only what could still become a match is held back', () => {
  const plan = PLANS[0]!;
  const m = new TextStreamMasker(compileMaskPlan([{ detector: 'pan' }, { detector: 'cvv' }]), {});
  assert.is(m.push('Hello, world. '), 'Hello, world. ');
  assert.is(m.push('Card 4111 11'), 'Card ');
  assert.is(m.push('11 1111 1111. Your c'), '****. Your ');
  assert.is(m.end(), 'c');
  // With a custom detector the pass cannot tell, and holds back at most its longest match.
  const c = new TextStreamMasker(plan, {});
  const out = c.push('x'.repeat(100));
  assert.ok(out.length >= 100 - 11 && c.held <= 11 + 1);
});

function sse(parts: string[]): string {
  return parts.map((content, i) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content } : { content }, finish_reason: null }] })}\n\n`).join('') + 'data: [DONE]\n\n';
}

function sseText(stream: string): string {
  let text = '';
  const events = stream.split('\n\n').filter(Boolean);
  for (const e of events) {
    assert.ok(e.startsWith('data: '), e);
    const data = e.slice(6);
    if (data === '[DONE]') continue;
    const chunk = JSON.parse(data); // every event is valid JSON
    for (const c of chunk.choices) text += c.delta.content ?? '';
  }
  assert.is(events.at(-1), 'data: [DONE]');
  return text;
}

test('SSE token streams split at random (tokens and bytes): valid events, no leaks, each token masked alone and then the text as one', () => {
  fc.assert(
    fc.property(docArb, fc.array(fc.nat(), { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom(...PLANS), (doc, tokenCuts, byteCuts, plan) => {
      const tokens = splitAt(doc, tokenCuts);
      const body = sse(tokens);
      const m = new SseMasker(plan, {});
      let out = '';
      for (const piece of splitAt(body, byteCuts)) out += m.push(piece);
      out += m.end();
      assert.not.ok(containsPan(out));
      assert.is(sseText(out), maskText(plan, tokens.map((t) => maskText(plan, t).text).join('')).text);
    }),
    { numRuns: 200 },
  );
});

test('SSE: card numbers in id, event and comment lines of random events, under any split: masked, whether or not the data has anything to mask', () => {
  const lineArb = fc.tuple(fc.constantFrom('id: ', 'event: ', ': ', 'retry: '), panArb).map(([field, p]) => `${field}${p.printed}\n`);
  const dataArb = fc.oneof(fc.constant('data: {"a":1}'), fc.constant('data: plain'), panArb.map((p) => `data: {"n":"${p.printed}"}`), fc.constant('data: [DONE]'));
  const eventArb = fc.tuple(fc.array(lineArb, { maxLength: 2 }), dataArb).map(([lines, data]) => `${lines.join('')}${data}\n\n`);
  fc.assert(
    fc.property(fc.array(eventArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom(...PLANS), (events, cuts, plan) => {
      const m = new SseMasker(plan, {});
      let out = '';
      for (const piece of splitAt(events.join(''), cuts)) out += m.push(piece);
      out += m.end();
      assert.not.ok(containsPan(out), out);
      assert.equal(refFind(out), [], out);
    }),
    { numRuns: 300 },
  );
});

test('SSE: held-back text goes out in an extra event before the finish_reason event; other events are masked whole', () => {
  const m = new SseMasker(compileMaskPlan([{ detector: 'pan', format: 'last4' }]), {});
  let out = m.push(`data: {"id":"c","choices":[{"index":0,"delta":{"content":"pay 4111 1111"}}]}\n\n`);
  out += m.push(`data: {"id":"c","choices":[{"index":0,"delta":{"content":" 1111 1111"},"finish_reason":null}]}\n\n`);
  out += m.push(`data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\nevent: error\ndata: {"error":"card 5500 0000 0000 0004 declined"}\n\n: 4111 1111 1111 1111\n\n`);
  const events = out.split('\n\n').filter(Boolean);
  assert.equal(events, [
    'data: {"id":"c","choices":[{"index":0,"delta":{"content":"pay "}}]}',
    'data: {"id":"c","choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}',
    'data: {"id":"c","choices":[{"index":0,"delta":{"content":"**** **** **** 1111"}}]}',
    'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
    'event: error\ndata: {"error":"card **** **** **** 0004 declined"}',
    ': **** **** **** 1111',
  ]);
});

test('SSE: a card number whole in one event is masked there, though the next event starts with digits (one card record per event)', () => {
  const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }]);
  for (const body of [
    'data: {"card":"4111111111111111"}\n\ndata: {"card":"5500000000000004"}\n\n',
    'data: {"choices":[{"index":0,"delta":{"content":"4111111111111111"}}]}\n\ndata: {"choices":[{"index":0,"delta":{"content":"5500000000000004"}}]}\n\n',
    'data: 4111111111111111\n\ndata: 5500000000000004\n\n',
  ]) {
    const m = new SseMasker(plan, {});
    const out = m.push(body) + m.end();
    const digits = out.replace(/\D/g, '');
    assert.ok(out.includes('1111') && out.includes('0004') && out.includes('*'.repeat(12)), `masked to their last four: ${out}`);
    assert.not.ok(digits.includes('4111111111111111') || digits.includes('5500000000000004'), out);
  }
});

test('SSE: a card number in an event\'s id, its name or a comment is masked, beside JSON data with nothing to mask too', () => {
  const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }]);
  const body = 'event: card 4111111111111111\ndata: {"a":1}\n\nid: 4111-1111-1111-1111\ndata: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n: note 5500 0000 0000 0004\ndata: {"a":2}\n\nid: 7\ndata: {"a":3}\n\n';
  const out = new SseMasker(plan, {}).push(body);
  assert.equal(out.split('\n\n').filter(Boolean), [
    'event: card ************1111\ndata: {"a":1}',
    'id: ****-****-****-1111\ndata: {"choices":[{"index":0,"delta":{"content":"ok"}}]}',
    ': note **** **** **** 0004\ndata: {"a":2}',
    'id: 7\ndata: {"a":3}',
  ]);
  assert.equal(refFind(out), []);
});

async function through(plan: MaskPlan, type: string, body: Buffer, encoding?: string, chunk = 7) {
  const masker = createResponseMasker(plan, encoding);
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += chunk) pieces.push(body.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const b of Readable.from(pieces).pipe(masker)) out.push(b as Buffer);
  return { text: Buffer.concat(out).toString('utf8'), counts: masker.counts() };
}

test('maskBody gives, in one call, the bytes and counts the streaming masker gives', async () => {
  const types = ['application/json', 'text/event-stream', 'text/plain'];
  await fc.assert(
    fc.asyncProperty(docArb, fc.constantFrom(...types), fc.boolean(), fc.integer({ min: 1, max: 40 }), async (doc, type, asJson, chunk) => {
      const body = Buffer.from(asJson ? JSON.stringify({ note: doc, n: 1 }) : type === 'text/event-stream' ? `data: ${doc}\n\n` : doc);
      for (const plan of PLANS) {
        const streamed = await through(plan, type, body, undefined, chunk);
        const whole = maskBody(plan, body);
        assert.is(whole.body.toString('utf8'), streamed.text);
        assert.equal(whole.counts, streamed.counts);
      }
    }),
    { numRuns: 60 },
  );
});

test('maskBody: an unchanged body goes out as its bytes; a stray invalid byte after the first KB becomes U+FFFD, as streamed', async () => {
  const plan = PLANS[0]!;
  const clean = Buffer.from('\ufeff{"id":"txn_01","score":0.12,"note":"é😀"}');
  const r = maskBody(plan, clean);
  assert.ok(r.body.equals(clean));
  assert.equal(r.counts, {});
  for (const tail of ['{"ok":1}', '{"p":"4111 1111 1111 1111"}']) {
    const body = Buffer.concat([Buffer.from(' '.repeat(1100)), Buffer.from(tail.slice(0, 3)), Buffer.from([0xff, 0xc3]), Buffer.from(tail.slice(3))]);
    const whole = maskBody(plan, body);
    const streamed = await through(plan, 'application/json', body, undefined, 7);
    assert.is(whole.body.toString('utf8'), streamed.text);
    assert.ok(whole.body.equals(Buffer.from(streamed.text, 'utf8')), 'the same bytes');
    assert.ok(whole.body.toString('utf8').includes('\ufffd'));
  }
});

test('response masker: JSON bodies parsed (paths apply), gzip and br decoded, identity out', async () => {
  const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }, { path: '$.card.cvv' }]);
  const value = { card: { number: 4111111111111111, cvv: '123' }, note: 'é😀 5500 0000 0000 0004' };
  const expected = maskJson(plan, value);
  const body = Buffer.from(JSON.stringify(value));
  for (const [enc, bytes] of [[undefined, body], ['gzip', gzipSync(body)], ['br', brotliCompressSync(body)]] as const) {
    const r = await through(plan, 'application/json; charset=utf-8', bytes, enc, 3);
    assert.equal(JSON.parse(r.text), expected.value);
    assert.equal(r.counts, expected.counts);
  }
  const plain = Buffer.from('{"ok":true,  "n": 1}');
  assert.is((await through(plan, 'application/json', plain)).text, plain.toString(), 'untouched bytes when nothing is masked');
  assert.throws(() => createResponseMasker(plan, 'zstd'), (e: Error & { code?: string }) => e.code === 'ERR_MASK_BODY');
});

test('response masker: a burst of SSE events lets the first one out before masking the rest', async () => {
  const plan = PLANS[0]!;
  const tokens = Array.from({ length: 40 }, (_, i) => (i === 20 ? 'card 4111 1111 1111 1111 ' : `tok${i} `));
  const burst = sse(tokens);
  const masker = createResponseMasker(plan);
  const seen: string[] = [];
  masker.on('data', (b: Buffer) => seen.push(b.toString('utf8')));
  // One read holding every event, then many reads written back to back in the same turn.
  masker.write(Buffer.from(burst));
  for (const t of tokens) masker.write(Buffer.from(sse([t])));
  // Only the first event (its text held back where a card number could still be forming) is out
  // before the event loop turns.
  assert.is(seen.length, 1);
  assert.equal(seen[0]!.split('\n\n'), [seen[0]!.slice(0, -2), '']);
  assert.is(JSON.parse(seen[0]!.slice(6)).choices[0].delta.role, 'assistant');
  masker.end();
  for await (const _ of masker);
  const out = seen.join('');
  assert.not.ok(containsPan(out));
  assert.is(sseText(out), maskText(plan, tokens.join('').repeat(2)).text);
});

test('response masker: text and SSE bodies byte-split inside multibyte characters', async () => {
  const plan = PLANS[0]!;
  const doc = '😀é 4111 1111 1111 1111 é😀 cvv 999';
  const r = await through(plan, 'text/plain', Buffer.from(doc), undefined, 1);
  assert.is(r.text, maskText(plan, doc).text);
  assert.equal(r.counts, { pan: 1, cvv: 1 });
  const s = await through(plan, 'text/event-stream', Buffer.from(sse(['😀 4111 11', '11 1111 1111 é'])), undefined, 1);
  assert.is(sseText(s.text), '😀 **** **** **** 1111 é');
});

test('response masker: an event stream is one whatever its label; binary bodies are refused', async () => {
  const plan = PLANS[0]!;
  const body = Buffer.from(sse(['card 4111 11', '11 1111 1111 ok']));
  for (const type of ['text/plain', 'application/octet-stream', 'application/x-ndjson', '', 'application/json']) {
    for (const chunk of [1, 5, 64]) {
      const r = await through(plan, type, body, undefined, chunk);
      assert.is(sseText(r.text), 'card **** **** **** 1111 ok', `${type} / ${chunk}`);
      assert.is(maskBody(plan, body).body.toString(), r.text);
    }
  }
  const json = Buffer.from('{"pan": 6548686408882000464}');
  assert.is((await through(plan, 'text/plain', json, undefined, 3)).text, '{"pan": "***************0464"}');
  for (const binary of [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe]), Buffer.from('abc\u0000def')]) {
    assert.throws(() => maskBody(plan, binary), (e: Error & { code?: string }) => e.code === 'ERR_MASK_BODY');
    let failed: (Error & { code?: string }) | undefined;
    try {
      await through(plan, 'text/plain', binary);
    } catch (err) {
      failed = err as Error & { code?: string };
    }
    assert.is(failed?.code, 'ERR_MASK_BODY');
  }
});

test.run();
