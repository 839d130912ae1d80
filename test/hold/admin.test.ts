import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adminCall, clientCall, eventually, listen, pendingHoldId, startIdp, startStack, stop, type Idp } from './helpers.js';

let idp: Idp;
let alice: string;
let bob: string;

test.before(async () => {
  idp = await startIdp();
  alice = await idp.token('alice', ['fraud-analysts']);
  bob = await idp.token('bob', ['pci-approvers']);
});
test.after(() => idp.close());

test('every admin API call needs a valid token: 401 with WWW-Authenticate otherwise', async () => {
  const stack = await startStack({ idp });
  try {
    for (const [method, path] of [['GET', '/api/holds'], ['GET', '/api/grants'], ['GET', '/api/holds/events'], ['POST', '/api/holds/x/approve']]) {
      const res = await fetch(stack.adminUrl + path!, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      assert.is(res.status, 401, `${method} ${path}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.is(((await res.json()) as { error: string }).error, 'unauthenticated');
    }
    const forged = await adminCall(stack, bob.slice(0, -4) + 'AAAA', 'GET', '/api/holds');
    assert.is(forged.status, 401);
  } finally {
    await stack.close();
  }
});

test('state changes need a JSON content type (CSRF), and answers carry strict security headers', async () => {
  const stack = await startStack({ idp });
  try {
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    const form = await fetch(`${stack.adminUrl}/api/holds/${id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'comment=x',
    });
    assert.is(form.status, 415);
    assert.is((await adminCall(stack, bob, 'GET', `/api/holds/${id}`)).body.state, 'pending');
    const res = await fetch(`${stack.adminUrl}/api/holds`, { headers: { authorization: `Bearer ${bob}` } });
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.is(res.headers.get('x-content-type-options'), 'nosniff');
    assert.is(res.headers.get('x-frame-options'), 'DENY');
    assert.is(res.headers.get('cache-control'), 'no-store');
    assert.is(res.headers.get('access-control-allow-origin'), null);
    const page = await fetch(`${stack.adminUrl}/console`);
    assert.is(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.not.match(html, /https?:\/\//, 'the console loads nothing from elsewhere');
    assert.is((await fetch(`${stack.adminUrl}/console/app.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.is((await fetch(`${stack.adminUrl}/elsewhere`)).status, 404, 'other paths are left to the listener');
    assert.is((await adminCall(stack, bob, 'POST', `/api/holds/${id}/frobnicate`, {})).status, 405);
    await adminCall(stack, bob, 'POST', `/api/holds/${id}/deny`, { reason: 'test over' });
    await waiting;
  } finally {
    await stack.close();
  }
});

test('the event stream tells an approver when another approver acts', async () => {
  const stack = await startStack({ idp });
  const carol = await idp.token('carol', ['pci-approvers']);
  try {
    const controller = new AbortController();
    const res = await fetch(`${stack.adminUrl}/api/holds/events`, { headers: { authorization: `Bearer ${bob}` }, signal: controller.signal });
    assert.is(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = '';
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    await adminCall(stack, carol, 'POST', `/api/holds/${id}/approve`, {});
    while (!seen.includes(`"state":"approved"`)) seen += (await reader.read()).value ?? '';
    assert.match(seen, new RegExp(`event: change\\ndata: \\{"kind":"hold","id":"${id}","state":"pending"\\}`));
    assert.match(seen, new RegExp(`"id":"${id}","state":"approved"`));
    controller.abort();
    assert.is((await waiting).status, 200);
  } finally {
    await stack.close();
  }
});

test('webhook: Slack-compatible JSON, retried with backoff until it is accepted', async () => {
  const bodies: any[] = [];
  const receiver = await listen((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => {
      bodies.push(JSON.parse(text));
      res.writeHead(bodies.length < 3 ? 500 : 200);
      res.end();
    });
  });
  const stack = await startStack({ idp, webhookUrl: `${receiver.url}/hooks/secret-key`, webhookBackoffMs: 10, consoleUrl: 'http://127.0.0.1:9/console' });
  try {
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    await eventually('three deliveries', () => (bodies.length === 3 ? true : undefined));
    assert.is(bodies[2].hold_id, id);
    assert.match(bodies[2].text, new RegExp(`alice is waiting for approval of GET /v1/transactions\\?limit=5000 on route fraud-model \\(hold ${id}\\)`));
    assert.match(bodies[2].text, /Review it at http:\/\/127\.0\.0\.1:9\/console/);
    assert.equal(bodies[2].approvers, ['pci-approvers']);
    await adminCall(stack, bob, 'POST', `/api/holds/${id}/deny`, { reason: 'test over' });
    await waiting;
    assert.not.ok(stack.events.some((e) => e.type === 'webhook.failed'));
  } finally {
    await stack.close();
    await stop(receiver.server);
  }
});

test('webhook failures are reported to the audit callback without the URL', async () => {
  const receiver = await listen((_req, res) => {
    res.writeHead(503);
    res.end();
  });
  const stack = await startStack({ idp, webhookUrl: `${receiver.url}/hooks/secret-key`, webhookBackoffMs: 5, webhookAttempts: 3 });
  try {
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    const failed = await eventually('webhook.failed', () => stack.events.find((e) => e.type === 'webhook.failed'));
    assert.is(failed.hold_id, id);
    assert.is(failed.detail, 'after 3 attempts: receiver answered HTTP 503');
    assert.not.match(JSON.stringify(stack.events), /secret-key/);
    await adminCall(stack, bob, 'POST', `/api/holds/${id}/deny`, { reason: 'test over' });
    await waiting;
  } finally {
    await stack.close();
    await stop(receiver.server);
  }
});

test.run();
