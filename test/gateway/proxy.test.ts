import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closedPort, startRig, UPSTREAM_SECRET, type Rig } from './harness.js';

let rig: Rig;
let admin: string;
let alice: string; // fraud-analysts
let mo: string; // ml-admins
let eve: string; // no group the policy knows

test.before(async () => {
  rig = await startRig({ maxBodyBytes: 4096, headersMs: 400 });
  admin = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
  mo = admin;
  alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  eve = await rig.idp.token({ sub: 'eve', groups: ['marketing'] });
});
test.after(() => rig.stop());
test.before.each(() => {
  rig.upstream.seen.length = 0;
  rig.upstream.handlers.clear();
});

const load = (token: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  fetch(`${rig.gw.url}/v1/models/load`, {
    method: 'POST',
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    body: init.body ?? JSON.stringify({ model: 'fraud-v4' }),
  });

async function errorBody(res: Response, status: number, error: string): Promise<{ message: string; request_id: string }> {
  assert.is(res.status, status);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = (await res.json()) as { error: string; message: string; request_id: string };
  assert.is(body.error, error);
  assert.type(body.message, 'string');
  assert.is(body.request_id, res.headers.get('x-request-id'));
  return body;
}

test('allow: forwarded with the upstream credential, without the client credentials, with forwarding headers', async () => {
  const res = await load(mo, { headers: { cookie: 'session=s3cr3t', 'x-api-key': 'client-key'} });
  assert.is(res.status, 200);
  assert.equal(await res.json(), { ok: true, path: '/v1/models/load' });
  assert.is(rig.upstream.seen.length, 1);
  const seen = rig.upstream.seen[0]!;
  assert.is(seen.headers['x-upstream-key'], UPSTREAM_SECRET);
  assert.is(seen.headers.authorization, undefined);
  assert.is(seen.headers.cookie, undefined);
  assert.is(seen.headers['x-api-key'], undefined);
  assert.is(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.match(String(seen.headers.forwarded), /^for=127\.0\.0\.1;proto=http;host="127\.0\.0\.1:\d+"$/);
  assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  assert.is(seen.headers['x-request-id'], res.headers.get('x-request-id'));
  assert.is(seen.body, JSON.stringify({ model: 'fraud-v4' }));
});

test('deny: 403 with the policy reason, and nothing reaches the upstream', async () => {
  const body = await errorBody(await load(eve), 403, 'forbidden');
  assert.match(body.message, /model management \(POST \/v1\/models\/load\) requires ml-admins/);
  assert.is(rig.upstream.seen.length, 0);
});

test('request masking: a card number in a chat prompt never reaches the model', async () => {
  const sam = await rig.idp.token({ sub: 'sam', groups: ['support-agents'] });
  const res = await fetch(`${rig.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'my card is 4539 1488 0343 6467 cvv: 123' }] }),
  });
  assert.is(res.status, 200);
  const seen = rig.upstream.seen[0]!;
  assert.is(JSON.parse(seen.body).messages[0].content, 'my card is **** **** **** 6467 cvv: ****');
  assert.is(Number(seen.headers['content-length']), Buffer.byteLength(seen.body));
});

test('a path no route matches is a 404 with the JSON body', async () => {
  const res = await fetch(`${rig.gw.url}/v2/other`, { headers: { authorization: `Bearer ${alice}` } });
  await errorBody(res, 404, 'no_route');
});

test('bad credentials: 401 with WWW-Authenticate and the JSON body, never forwarded', async () => {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { sub: 'mallory', groups: ['ml-admins'], iss: rig.idp.issuer, aud: 'regate-test', exp: now + 600, iat: now };
  const { createHmac } = await import('node:crypto');
  const hsInput = `${b64({ alg: 'HS256', kid: 'test-key-1', typ: 'JWT' })}.${b64(claims)}`;
  const hs256 = `${hsInput}.${createHmac('sha256', rig.idp.publicPem).update(hsInput).digest('base64url')}`;
  const cases: Record<string, string | null> = {
    missing: null,
    garbage: 'not-a-token',
    expired: await rig.idp.token({ sub: 'mo', groups: ['ml-admins'], exp: now - 3600 }),
    'not yet valid': await rig.idp.token({ sub: 'mo', groups: ['ml-admins'], nbf: now + 3600 }),
    'wrong issuer': await rig.idp.token({ sub: 'mo', groups: ['ml-admins'], iss: 'https://evil.test' }),
    'wrong audience': await rig.idp.token({ sub: 'mo', groups: ['ml-admins'], aud: 'someone-else' }),
    'unknown kid': await rig.idp.token({ sub: 'mo', groups: ['ml-admins'], kid: 'nobody-has-this-kid' }),
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    'HS256 signed with the public key': hs256,
  };
  for (const [name, token] of Object.entries(cases)) {
    const res = await fetch(`${rig.gw.url}/v1/models/load`, {
      method: 'POST',
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      body: '{}',
    });
    const body = await errorBody(res, 401, 'unauthorized');
    const www = res.headers.get('www-authenticate') ?? '';
    assert.match(www, /^Bearer realm="regate"/, name);
    if (token !== null) assert.match(www, /error="invalid_token"/, name);
    assert.not.ok(token !== null && body.message.includes(token), `${name}: the token is echoed`);
  }
  assert.is(rig.upstream.seen.length, 0);
});

test('a JSON body over max_body_bytes is refused with 413, declared or chunked', async () => {
  const big = JSON.stringify({ model: 'x'.repeat(5000) });
  await errorBody(await load(mo, { body: big }), 413, 'body_too_large');
  const chunked = new ReadableStream({
    start(c) {
      for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode(`{"pad":"${'y'.repeat(1000)}"}`));
      c.close();
    },
  });
  await errorBody(await load(mo, { body: chunked, duplex: 'half' } as RequestInit & { headers?: Record<string, string> }), 413, 'body_too_large');
  assert.is(rig.upstream.seen.length, 0);
});

test('upstream reset before answering: 502', async () => {
  rig.upstream.handlers.set('/v1/models/load', (req) => req.socket.destroy());
  const body = await errorBody(await load(mo), 502, 'upstream_unavailable');
  assert.match(body.message, /Upstream models failed: connection reset/);
});

test('upstream hanging past the headers timeout: 504', async () => {
  rig.upstream.handlers.set('/v1/models/load', () => undefined);
  const body = await errorBody(await load(mo), 504, 'upstream_timeout');
  assert.match(body.message, /no response headers within the headers timeout/);
});

test('upstream reset mid-response: the client sees the stream cut, not a clean end', async () => {
  rig.upstream.handlers.set('/v1/models/load', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write('partial-');
    setTimeout(() => res.socket?.destroy(), 50);
  });
  const res = await load(mo);
  assert.is(res.status, 200);
  try {
    await res.text();
    assert.unreachable('the body should fail');
  } catch (err) {
    assert.not.instance(err, assert.Assertion);
  }
});

test('client abort mid-stream reaches the upstream', async () => {
  let timer: NodeJS.Timeout | undefined;
  rig.upstream.handlers.set('/v1/models/load', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let n = 0;
    timer = setInterval(() => {
      res.write(`chunk ${n++}\n`);
      if (n === 200) {
        clearInterval(timer);
        res.end();
      }
    }, 20);
    res.on('close', () => clearInterval(timer));
  });
  rig.upstream.abandoned.length = 0;
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(`${rig.gw.url}/v1/models/load`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' },
    });
    req.on('response', (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
    req.end('{}');
  });
  for (let i = 0; i < 200 && rig.upstream.abandoned.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(rig.upstream.abandoned, ['/v1/models/load']);
});

test('curl through the gateway; headers its Connection names are not forwarded', async () => {
  const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const c = spawn('curl', ['-sS', '-i', '-X', 'POST', `${rig.gw.url}/v1/models/load`, '-H', `authorization: Bearer ${mo}`, '-H', 'content-type: application/json', '-H', 'connection: keep-alive, x-hop', '-H', 'x-hop: 1', '-d', '{"model":"m1"}']);
    let stdout = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.on('close', (code) => resolve({ code, stdout }));
  });
  assert.is(out.code, 0);
  assert.match(out.stdout, /^HTTP\/1\.1 200 OK/);
  assert.match(out.stdout, /\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
  assert.match(out.stdout, /\{"ok":true,"path":"\/v1\/models\/load"\}$/);
  assert.is(rig.upstream.seen[0]!.headers['x-hop'], undefined);
  assert.is(rig.upstream.seen[0]!.body, '{"model":"m1"}');
});

test('metrics on the admin listener count requests by route and decision', async () => {
  await load(mo);
  await load(eve);
  const text = await (await fetch(`${rig.gw.adminUrl}/metrics`, { headers: { authorization: `Bearer ${mo}` } })).text();
  assert.match(text, /regate_requests_total\{route="models",decision="allow",status="200"\} \d+/);
  assert.match(text, /regate_requests_total\{route="models",decision="deny",status="403"\} \d+/);
  assert.match(text, /regate_requests_total\{route="models",decision="unauthenticated",status="401"\} \d+/);
  assert.match(text, /regate_upstream_errors_total\{upstream="models",kind="headers_timeout"\} 1/);
  assert.match(text, /regate_request_duration_seconds_bucket\{route="models",le="\+Inf"\} \d+/);
  assert.match(text, /regate_policy_eval_seconds_count \d+/);
});

test('logs: one JSON line per request, never a token or the upstream secret', async () => {
  const before = rig.logs.lines().length;
  const res = await load(mo, { headers: { cookie: 'session=s3cr3t' } });
  await res.arrayBuffer();
  await new Promise((r) => setTimeout(r, 20));
  const lines = rig.logs.lines().slice(before).filter((l) => l.msg === 'request');
  assert.is(lines.length, 1);
  assert.is(lines[0]!.request_id, res.headers.get('x-request-id'));
  assert.is(lines[0]!.sub, 'mo');
  assert.is(lines[0]!.decision, 'allow');
  assert.is(lines[0]!.status, 200);
  for (const secret of [mo, alice, eve, UPSTREAM_SECRET, 's3cr3t']) assert.not.ok(rig.logs.text.includes(secret));
});

test('upstream refusing connections: 502', async () => {
  const refused = await startRig({ upstreamUrl: `http://127.0.0.1:${await closedPort()}` });
  try {
    const token = await refused.idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const res = await fetch(`${refused.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' });
    const body = await errorBody(res, 502, 'upstream_unavailable');
    assert.match(body.message, /connection refused/);
  } finally {
    await refused.stop();
  }
});

test.run();
