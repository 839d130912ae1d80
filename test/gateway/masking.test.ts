/**
 * Masking through the running gateway, with an upstream double that answers chosen text: JSON
 * (numbers beyond 2^53 included), text, and event streams under any label, read with the openai
 * SDK (streaming, logprobs) and curl; prompts masked without loss on the way up; a lone surrogate
 * body decided like any other; a binary answer refused with 502 and recorded, or passed where the
 * route says so; and no audit record holding a card number, checked with the reference detector.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { refFind } from '../mask/reference.js';
import { startRig, type Rig } from './harness.js';

const run = promisify(execFile);
/** A Diners Club number printed 4-4-4-2, and a 19-digit Discover printed 4-4-4-7 (both leaked before). */
const DINERS = '3622 7206 2716 67';
const DISCOVER19 = '6011 0000 0000 0000001';
const BIG = '6548686408882000464';
type Json = Record<string, any>;

let rig: Rig;
const sam = () => rig.idp.token({ sub: 'sam', groups: ['support-agents'] });

test.before(async () => {
  rig = await startRig({ keepState: true });
});
test.after(async () => {
  await rig.stop();
});

/** Every card number the reference finds in `text`, as digits. */
const pans = (text: string) => refFind(text).map((p) => p.positions.map((i) => text[i]).join(''));

function sseChunk(choice: Json): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [choice] })}\n\n`;
}

/** An OpenAI stream spelling `text` two characters a token, with logprobs (bytes, alternatives). */
function openaiStream(text: string): string {
  let body = '';
  for (let i = 0; i < text.length; i += 2) {
    const t = text.slice(i, i + 2);
    const lp = { token: t, logprob: -0.1, bytes: [...Buffer.from(t)], top_logprobs: [{ token: t, logprob: -0.1, bytes: [...Buffer.from(t)] }] };
    body += sseChunk({ index: 0, delta: i === 0 ? { role: 'assistant', content: t } : { content: t }, logprobs: { content: [lp] }, finish_reason: null });
  }
  return body + sseChunk({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }) + 'data: [DONE]\n\n';
}

const SAID = `Card ${DINERS}, and ${DISCOVER19} too.`;

test('openai SDK streaming with logprobs: content and every logprob token masked, the stream intact', async () => {
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(openaiStream(SAID)));
  const client = new OpenAI({ baseURL: `${rig.gw.url}/v1`, apiKey: await sam(), maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'm', stream: true, logprobs: true, top_logprobs: 1, messages: [{ role: 'user', content: 'hi' }] });
  let content = '';
  let tokens = '';
  const alternatives: string[] = [];
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    content += c?.delta?.content ?? '';
    for (const lp of c?.logprobs?.content ?? []) {
      tokens += lp.token;
      assert.equal(lp.bytes, [...Buffer.from(lp.token)], 'bytes spell the token');
      alternatives.push(...lp.top_logprobs.map((t) => t.token));
    }
  }
  assert.is(content, 'Card **** **** **16 67, and **** **** **** ***0001 too.');
  assert.is(tokens, content, 'the logprob tokens spell the masked text');
  assert.equal(pans(alternatives.join('')), []);
});

test('openai SDK without streaming: JSON masked from its source, a PAN sent as a big number included', async () => {
  const answer = `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(SAID)}},"finish_reason":"stop"}],"x_pan":${BIG},"x_exact":1.50,"x_big":12345678901234567890123}`;
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  const res = await fetch(`${rig.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${await sam()}`, 'content-type': 'application/json' }, body: '{"messages":[]}' });
  const text = await res.text();
  assert.ok(text.includes('"x_pan":"***************0464","x_exact":1.50,"x_big":12345678901234567890123'), text);
  const client = new OpenAI({ baseURL: `${rig.gw.url}/v1`, apiKey: await sam(), maxRetries: 0 });
  const done = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  assert.is(done.choices[0]!.message.content, 'Card **** **** **16 67, and **** **** **** ***0001 too.');
});

test('curl: card numbers in the upstream\'s response headers are masked like the body (one-shot and streamed)', async () => {
  const headers = {
    'x-debug-card': `card ${DINERS}`, location: '/v1/cards/4111111111111111/charges', 'set-cookie': ['last=4111-1111-1111-1111; Path=/', 'plain=ok'], 'x-clean': 'no digits here',
    'x-card-cvv': '123',
    'x-4111111111111111': 'named after the card',
  };
  for (const [type, body] of [['application/json', '{"ok":true}'], ['text/event-stream', openaiStream('hello')]] as const) {
    rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': type, ...headers }).end(body));
    const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '-X', 'POST', '-H', `authorization: Bearer ${await sam()}`, '-H', 'content-type: application/json', '--data', '{}', `${rig.gw.url}/v1/chat/completions`]);
    assert.equal(pans(stdout), [], `${type}: ${stdout}`);
    assert.match(stdout, /x-debug-card: card \*\*\*\* \*\*\*\* \*\*16 67\r\n/i, type);
    assert.match(stdout, /location: \/v1\/cards\/\*{12}1111\/charges\r\n/i, type);
    assert.match(stdout, /set-cookie: last=\*{4}-\*{4}-\*{4}-1111; Path=\/\r\n/i, type);
    assert.match(stdout, /set-cookie: plain=ok\r\n/i, type);
    assert.match(stdout, /x-clean: no digits here\r\n/i, type);
    assert.match(stdout, /x-card-cvv: \*{4}\r\n/i, `${type}: a header's name is its value's label`);
    assert.match(stdout, /x-\*{12}1111: named after the card\r\n/i, `${type}: a card number in a header's name`);
  }
});

test('curl: a masked request is masked whole: card numbers in its path, query and headers do not reach the upstream; a request the policy does not mask goes up as sent', async () => {
  rig.upstream.handlers.delete('/v1/chat/completions');
  const seen = rig.upstream.seen.length;
  const curl = (path: string, token: string, ...headers: string[]) =>
    run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', `authorization: Bearer ${token}`, '-H', 'content-type: application/json', ...headers.flatMap((h) => ['-H', h]), '--data', '{}', `${rig.gw.url}${path}`]);
  // Chat masks both directions (the default policy): the query's card, percent-encoded, and a header's.
  const chat = await curl('/v1/chat/completions?card=4111%201111%201111%201111&note=ok', await sam(), `x-note: card ${DINERS}`, 'x-order: 2026-12-01/7', 'x-card-cvv: 123', 'x-5500000000000004: named');
  assert.is(chat.stdout, '200');
  const up = rig.upstream.seen.at(-1)!;
  assert.is(up.url, '/v1/chat/completions?card=****%20****%20****%201111&note=ok');
  assert.equal(pans(decodeURIComponent(up.url)), []);
  assert.is(up.headers['x-note'], 'card **** **** **16 67');
  assert.is(up.headers['x-order'], '2026-12-01/7', 'a header without card data goes up as sent');
  assert.is(up.headers['x-card-cvv'], '****', "a header's name is its value's label");
  assert.is(up.headers['x-************0004'], 'named', "a card number in a header's name");
  assert.equal(pans(Object.keys(up.headers).join(' ')), []);
  // Percent-encoded card data whose mask changes its length cannot be masked in place: refused, never sent.
  const refused = await run('curl', ['-s', '-X', 'POST', '-H', `authorization: Bearer ${await sam()}`, '-H', 'content-type: application/json', '--data', '{}', `${rig.gw.url}/v1/chat/completions?cvv=%31%32%33`]);
  assert.is(JSON.parse(refused.stdout).error, 'unmaskable_request');
  assert.is(rig.upstream.seen.length, seen + 1, 'the refused request never reached the upstream');
  // A form body is masked as its reader decodes it (`+` a space, `%XX` a byte), fields kept.
  const form = 'name=A+Cardholder&card=4111+1111+1111+1111&alt=%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31&n=3';
  const posted = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', `authorization: Bearer ${await sam()}`, '-H', 'content-type: application/x-www-form-urlencoded', '--data', form, `${rig.gw.url}/v1/chat/completions`]);
  assert.is(posted.stdout, '200');
  const upForm = rig.upstream.seen.at(-1)!.body;
  assert.is(upForm, 'name=A+Cardholder&card=****+****+****+1111&alt=************%31%31%31%31&n=3');
  assert.equal(pans(decodeURIComponent(upForm.replaceAll('+', ' '))), []);
  // Scoring masks only the answer: its request goes up as the client sent it.
  const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const score = await curl('/v1/score?ref=4111111111111111', alice, 'x-note: 4111 1111 1111 1111');
  assert.is(score.stdout, '200');
  assert.is(rig.upstream.seen.at(-1)!.url, '/v1/score?ref=4111111111111111');
  assert.is(rig.upstream.seen.at(-1)!.headers['x-note'], '4111 1111 1111 1111');
  // ...and its form body too; the audit record keeps it masked (checked with every record below).
  const scored = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', `authorization: Bearer ${alice}`, '-H', 'content-type: application/x-www-form-urlencoded', '--data', 'card=4111+1111+1111+1111', `${rig.gw.url}/v1/score`]);
  assert.is(scored.stdout, '200');
  assert.is(rig.upstream.seen.at(-1)!.body, 'card=4111+1111+1111+1111');
});

test('curl: an event stream labelled text/plain, octet-stream or x-ndjson is masked as one; plain text across chunks', async () => {
  for (const type of ['text/plain', 'application/octet-stream', 'application/x-ndjson']) {
    rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => {
      res.writeHead(200, { 'content-type': type });
      const body = openaiStream(SAID);
      // Written in pieces, so the number is split across writes as well as events.
      for (let i = 0; i < body.length; i += 97) res.write(body.slice(i, i + 97));
      res.end();
    });
    const { stdout } = await run('curl', ['-sN', '-X', 'POST', '-H', `authorization: Bearer ${await sam()}`, '-H', 'content-type: application/json', '--data', '{}', `${rig.gw.url}/v1/chat/completions`]);
    let content = '';
    for (const e of stdout.split('\n\n')) if (e.startsWith('data: {')) content += JSON.parse(e.slice(6)).choices[0].delta.content ?? '';
    assert.is(content, 'Card **** **** **16 67, and **** **** **** ***0001 too.', type);
  }
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('Card 3622 7206');
    setTimeout(() => res.end(' 2716 67 ok'), 20);
  });
  const { stdout } = await run('curl', ['-sN', '-X', 'POST', '-H', `authorization: Bearer ${await sam()}`, '--data', '{}', `${rig.gw.url}/v1/chat/completions`]);
  assert.is(stdout, 'Card **** **** **16 67 ok');
});

test('prompts: masked without loss on the way up; a lone surrogate escape is decided like any other body', async () => {
  rig.upstream.handlers.delete('/v1/chat/completions');
  const sent = `{"messages":[{"role":"user","content":"my card is ${DINERS}"}],"n":${BIG},"t":0.50,"e":"\\u0041"}`;
  const res = await fetch(`${rig.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${await sam()}`, 'content-type': 'application/json' }, body: sent });
  assert.is(res.status, 200);
  assert.is(rig.upstream.seen.at(-1)!.body, '{"messages":[{"role":"user","content":"my card is **** **** **16 67"}],"n":"***************0464","t":0.50,"e":"\\u0041"}');
  const lone = '{"messages":[{"role":"user","content":"\\ud800"}]}';
  const r2 = await fetch(`${rig.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${await sam()}`, 'content-type': 'application/json' }, body: lone });
  assert.is(r2.status, 200);
  assert.is(rig.upstream.seen.at(-1)!.body, lone, 'the upstream gets the body as sent');
});

test('a binary answer to be masked is refused with 502 masking_failed', async () => {
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00, 0x01])));
  const res = await fetch(`${rig.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${await sam()}`, 'content-type': 'application/json' }, body: '{}' });
  assert.is(res.status, 502);
  assert.is(((await res.json()) as Json).error, 'masking_failed');
});

test('curl: a card object as payment APIs write it (exp_month/exp_year, an ISO expiry): its PAN and cvc masked for the client, its expiry in the audit record', async () => {
  const card = '{"card":{"number":"4111 1111 1111 1111","cvc":"123","exp_month":7,"exp_year":2029,"expiry":"2029-07","brand":"visa"}}';
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(card));
  const { stdout } = await run('curl', ['-s', '-X', 'POST', '-H', `authorization: Bearer ${await sam()}`, '-H', 'content-type: application/json', '--data', '{}', `${rig.gw.url}/v1/chat/completions`]);
  assert.equal(JSON.parse(stdout).card, { number: '**** **** **** 1111', cvc: '****', exp_month: 7, exp_year: 2029, expiry: '2029-07', brand: 'visa' }, 'the default policy masks pan, cvv and track for the client');
});

test('curl: card numbers in the id, event and comment lines of an event stream are masked, beside data with nothing to mask', async () => {
  const body = `id: ${DINERS}\nevent: card 4111111111111111\ndata: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n: ${DISCOVER19}\ndata: [DONE]\n\n`;
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body));
  const { stdout } = await run('curl', ['-sN', '-X', 'POST', '-H', `authorization: Bearer ${await sam()}`, '-H', 'content-type: application/json', '--data', '{}', `${rig.gw.url}/v1/chat/completions`]);
  assert.equal(pans(stdout), [], stdout);
  assert.match(stdout, /^id: \*{4} \*{4} \*\*16 67\nevent: card \*{12}1111\ndata: \{"choices":\[\{"index":0,"delta":\{"content":"ok"\}\}\]\}\n\n/);
});

test('curl: an event stream of card records, one whole card number an event, the next starting with digits: each masked', async () => {
  const body = 'data: {"card":"4111111111111111"}\n\ndata: {"card":"5500000000000004"}\n\ndata: 36227206271667\n\ndata: 6011000990139424\n\n';
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body));
  const { stdout } = await run('curl', ['-sN', '-X', 'POST', '-H', `authorization: Bearer ${await sam()}`, '-H', 'content-type: application/json', '--data', '{}', `${rig.gw.url}/v1/chat/completions`]);
  const digits = stdout.replace(/\D/g, '');
  for (const pan of ['4111111111111111', '5500000000000004', '36227206271667', '6011000990139424']) assert.not.ok(digits.includes(pan), `${pan} in ${stdout}`);
  assert.match(stdout, /\*{12}/, "masked, not dropped");
});

test('no audit record holds a card number; the refusal and the lone-surrogate body are recorded', async () => {
  await rig.stop();
  const tail = await runCli(['audit', 'tail', '--dir', join(rig.stateDir, 'audit')]);
  assert.is(tail.code, 0, tail.stderr);
  const events = tail.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: Json }).event);
  for (const e of events) assert.equal(pans(JSON.stringify(e)), [], `${e.type} ${e.request_id}`);
  // Strings as stored, unescaped: a number split across SSE events is checked within each stream too.
  // And as a form's reader decodes them (`+` a space, `%XX` a byte): a form body is recorded masked as decoded.
  const formDecoded = (t: string) => {
    try {
      return decodeURIComponent(t.replaceAll('+', ' '));
    } catch {
      return t;
    }
  };
  for (const e of events) for (const body of [e.request_body?.text, e.response_body?.text]) if (body) assert.equal([...pans(body), ...pans(formDecoded(body))], [], body);
  assert.ok(events.some((e) => e.type === 'request.decision' && e.request_body?.text === 'card=****+****+****+1111'), 'the scored form is recorded masked');
  assert.ok(events.some((e) => e.type === 'request.outcome' && e.status === 502 && e.error === 'masking_failed'));
  // The audit log masks every card datum, the expiry included (its halves and its ISO spelling), whatever the policy shows the client.
  assert.ok(events.some((e) => e.type === 'request.outcome' && e.response_body?.text?.includes('"cvc":"****","exp_month":"****","exp_year":"****","expiry":"****"')), 'the card object is recorded with its expiry masked');
  for (const e of events) assert.not.match(JSON.stringify(e), /exp_year\\?":2029|2029-07/, `${e.type} ${e.request_id}`);
  assert.ok(events.some((e) => e.type === 'request.decision' && e.request_body?.text?.includes('\\ud800')));
  rmSync(rig.stateDir, { recursive: true, force: true });
  // Restarted for the last test.
  rig = await startRig({ keepState: true, chatUnmaskable: 'pass' });
});

test('a route with unmaskable: pass forwards a binary answer unmasked', async () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00, 0x01]);
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(png));
  const res = await fetch(`${rig.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${await sam()}`, 'content-type': 'application/json' }, body: '{}' });
  assert.is(res.status, 200);
  assert.equal(Buffer.from(await res.arrayBuffer()), png);
  const id = res.headers.get('x-request-id');
  await rig.stop();
  const tail = await runCli(['audit', 'tail', '--dir', join(rig.stateDir, 'audit')]);
  const outcome = tail.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: Json }).event).find((e) => e.type === 'request.outcome' && e.request_id === id);
  assert.equal(outcome?.masked, { unmaskable_passed: 1 }, 'the outcome record says the body went out unmasked');
  rmSync(rig.stateDir, { recursive: true, force: true });
  rig = await startRig();
});

test.run();
