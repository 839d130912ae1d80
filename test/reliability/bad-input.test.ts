import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startRig, type Rig } from '../gateway/harness.js';
import { assertServes, exchangeRecords, rawError, rawExchange } from './helpers.js';

let rig: Rig;
let mo: string;
let host: string;

test.before(async () => {
  rig = await startRig({ maxBodyBytes: 64 * 1024, limits: { headers_timeout_ms: 1_000, request_timeout_ms: 1_500, max_header_bytes: 4096, json_max_depth: 32 } });
  mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
  host = new URL(rig.gw.url).host;
});
test.after(() => rig.stop());

const head = (extra: string) => `POST /v1/models/load HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${mo}\r\ncontent-type: application/json\r\n${extra}`;

/** A refusal the HTTP parser makes: precise status and code, recorded without a subject, then the gateway still serves. */
async function parserRefusal(parts: string[], status: number, error: string, opts: { gapMs?: number } = {}): Promise<void> {
  const r = await rawExchange(rig.gw.url, parts, { ...opts, waitMs: 6_000 });
  const body = rawError(r, status, error);
  assert.not.ok(rig.upstream.seen.some((s) => s.body.includes('smuggled')), 'nothing reached the upstream');
  const records = await exchangeRecords(rig.stateDir, body.request_id);
  const decision = records.find((e) => e.type === 'request.decision')!;
  assert.is(decision.decision.effect, 'deny');
  assert.match(decision.decision.reason, new RegExp(error));
  assert.is(records.find((e) => e.type === 'request.outcome')!.status, status);
  await assertServes(rig, mo);
}

test('a malformed request after a served one on the same kept-alive connection gets its own id and records, the served one keeps its own', async () => {
  const good = head('content-length: 13\r\n\r\n{"model":"m"}');
  const bad = head('content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n');
  const r = await rawExchange(rig.gw.url, [good, bad], { gapMs: 500, waitMs: 6_000 });
  const answers = r.text.split(/(?=HTTP\/1\.1 \d{3} )/).map((a) => ({ status: Number(a.slice(9, 12)), id: /x-request-id: (\S+)/i.exec(a)?.[1] }));
  assert.equal(answers.map((a) => a.status), [200, 400], r.text.slice(0, 400));
  assert.ok(answers[1]!.id && answers[1]!.id !== answers[0]!.id, 'the refusal names a request of its own');
  const refused = await exchangeRecords(rig.stateDir, answers[1]!.id!);
  assert.is(refused.find((e) => e.type === 'request.decision')!.decision.effect, 'deny');
  assert.is(refused.find((e) => e.type === 'request.outcome')!.status, 400);
  const served = await exchangeRecords(rig.stateDir, answers[0]!.id!);
  assert.equal(served.filter((e) => e.type === 'request.outcome').map((e) => e.status), [200], 'the served request\'s outcome stands alone');
});

test('smuggling: Content-Length with Transfer-Encoding is refused (400 ambiguous_length), audited', async () => {
  await parserRefusal([head('content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nPOST /v1/models/load HTTP/1.1\r\nhost: x\r\n\r\nsmuggled')], 400, 'ambiguous_length');
});

test('smuggling: two different Content-Length headers are refused, audited', async () => {
  await parserRefusal([head('content-length: 2\r\ncontent-length: 30\r\n\r\n{}smuggled')], 400, 'ambiguous_length');
});

test('smuggling: Transfer-Encoding other than chunked last is refused', async () => {
  await parserRefusal([head('transfer-encoding: chunked, identity\r\n\r\n0\r\n\r\n')], 400, 'bad_framing');
});

test('oversized headers: 431 headers_too_large, audited', async () => {
  await parserRefusal([head(`x-big: ${'a'.repeat(8000)}\r\ncontent-length: 2\r\n\r\n{}`)], 431, 'headers_too_large');
});

test('slowloris headers: a header line a time past headers_timeout_ms gets 408, audited', async () => {
  const lines = [`GET /v1/models/a HTTP/1.1\r\n`, `host: ${host}\r\n`, 'x-a: 1\r\n', 'x-b: 1\r\n', 'x-c: 1\r\n', 'x-d: 1\r\n', 'x-e: 1\r\n', 'x-f: 1\r\n'];
  await parserRefusal(lines, 408, 'request_timeout', { gapMs: 400 });
});

test('slowloris body: a JSON body dripped past request_timeout_ms gets 408, recorded with the caller', async () => {
  const drip = Array.from({ length: 10 }, () => ' ');
  const r = await rawExchange(rig.gw.url, [head('content-length: 100\r\n\r\n{"model":'), ...drip], { gapMs: 400, waitMs: 8_000 });
  const body = rawError(r, 408, 'request_timeout');
  const records = await exchangeRecords(rig.stateDir, body.request_id);
  const decision = records.find((e) => e.type === 'request.decision')!;
  assert.is(decision.subject, 'mo', 'the refusal names the authenticated caller');
  assert.match(decision.decision.reason, /request_timeout/, decision.decision.reason);
  await assertServes(rig, mo);
});

async function jsonRefusal(payload: Buffer | string, status: number, error: string): Promise<void> {
  const before = rig.upstream.seen.length;
  const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body: payload });
  assert.is(res.status, status);
  const body = (await res.json()) as { error: string; request_id: string };
  assert.is(body.error, error);
  assert.is(rig.upstream.seen.length, before, 'nothing reached the upstream');
  const records = await exchangeRecords(rig.stateDir, body.request_id);
  assert.is(records[0]!.subject, 'mo');
  assert.match(records[0]!.decision.reason, new RegExp(error));
  assert.is(records.find((e) => e.type === 'request.outcome')!.status, status);
  await assertServes(rig, mo);
}

test('deep JSON: past json_max_depth is 400 json_too_deep; at the limit it is served', async () => {
  await jsonRefusal('['.repeat(100_000) + ']'.repeat(100_000), 413, 'body_too_large');
  await jsonRefusal('{"a":' + '['.repeat(33) + ']'.repeat(33) + '}', 400, 'json_too_deep');
  // Brackets inside strings are text, not nesting.
  const ok = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: '['.repeat(500), n: JSON.parse('['.repeat(31) + ']'.repeat(31)) }) });
  assert.is(ok.status, 200);
  await ok.arrayBuffer();
});

test('huge JSON: over max_body_bytes is 413 whether declared or chunked', async () => {
  await jsonRefusal(JSON.stringify({ model: 'x'.repeat(70_000) }), 413, 'body_too_large');
});

test('invalid UTF-8 in a JSON body is 400 invalid_utf8, never passed on with replacement characters', async () => {
  await jsonRefusal(Buffer.concat([Buffer.from('{"model":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), 400, 'invalid_utf8');
});

test('JWT garbage of every kind via the gateway: 401 with WWW-Authenticate, audited as auth.failure, never 5xx', async () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const valid = mo.split('.');
  const garbage = [
    '', 'Bearer', 'Bearer ', 'Basic bW86cHc=', 'Bearer a.b', 'Bearer a.b.c.d', 'Bearer ....', `Bearer ${'x'.repeat(3000)}`,
    `Bearer ${b64({ alg: 'none' })}.${valid[1]}.`, // alg none
    `Bearer ${b64({ alg: 'HS256', kid: 'test-key-1' })}.${valid[1]}.${valid[2]}`, // algorithm confusion
    `Bearer ${valid[0]}.${valid[1]}.${valid[2]!.slice(0, -4)}AAAA`, // bad signature
    `Bearer ${valid[0]}.${b64({ sub: 'root', groups: ['ml-admins'], iss: 'https://idp.test', aud: 'regate-test', exp: 9e9 })}.${valid[2]}`, // swapped claims
    `Bearer ${b64({ alg: 'ES256', kid: 'no-such-key' })}.${valid[1]}.${valid[2]}`,
    `Bearer ${b64('not an object')}.${valid[1]}.${valid[2]}`,
    `Bearer %%%.${valid[1]}.${valid[2]}`,
    `Bearer ${valid[0]}.${valid[1]}.${valid[2]} trailing`,
  ];
  const ids: string[] = [];
  for (const authorization of garbage) {
    const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json' }, body: '{}' });
    assert.is(res.status, 401, authorization.slice(0, 60));
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    ids.push(((await res.json()) as { request_id: string }).request_id);
  }
  await assertServes(rig, mo);
  for (const id of ids) {
    const records = await exchangeRecords(rig.stateDir, id, ['auth.failure']);
    assert.is(records[0]!.route, 'models');
  }
});

test('two Authorization headers, or two x-api-key headers: 400 ambiguous_credentials, audited as auth.failure, never forwarded', async () => {
  const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const forwarded = rig.upstream.seen.length;
  for (const [second, named] of [[`authorization: Bearer ${alice}`, 'Authorization'], ['x-api-key: k1\r\nX-Api-Key: k2', 'x-api-key']] as const) {
    const r = await rawExchange(rig.gw.url, [`${head(`${second}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`)}`]);
    const body = rawError(r, 400, 'ambiguous_credentials');
    assert.match(body.message, new RegExp(`more than one ${named} header`));
    assert.not.ok(r.text.includes(mo) || r.text.includes(alice), 'no token is echoed');
    const [failure] = await exchangeRecords(rig.stateDir, body.request_id, ['auth.failure']);
    assert.is(failure!.reason, 'ERR_AMBIGUOUS_CREDENTIALS');
  }
  assert.is(rig.upstream.seen.length, forwarded, 'nothing reached the upstream');
  await assertServes(rig, mo);
});

test('malformed SSE from the upstream: the masker does not crash, the client gets a clean end, the gateway keeps serving', async () => {
  const sam = await rig.idp.token({ sub: 'sam', groups: ['support-agents'] });
  rig.upstream.handlers.set('/v1/chat/completions', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"choices":[{"delta":{"content":"card 4539 1488 "}}]}\n\n');
    res.write('data: {"choices":[{"delta":{"content":\n\n'); // JSON cut short
    res.write(':comment only\n\nevent: \ndata\n\n\r\r\n'); // odd fields, lone CRs
    res.write('data: {"choices":[{"delta":{"content":"0343 6467"}}]}\n\n');
    res.write(Buffer.from([0xff, 0xfe, 0x0a, 0x0a])); // invalid UTF-8
    res.end('data: [DONE]'); // no final blank line
  });
  try {
    const res = await fetch(`${rig.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.is(res.status, 200);
    const text = await res.text();
    assert.not.match(text.replace(/\s/g, ''), /4539148803436467/, 'no PAN crosses, whatever the framing');
    assert.not.ok(text.includes('0343 6467'), 'the PAN split over events is masked');
  } finally {
    rig.upstream.handlers.delete('/v1/chat/completions');
  }
  await assertServes(rig, mo);
});

test.run();
