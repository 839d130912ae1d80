import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IdentityLimits, TooManyRequests } from '../../src/proxy/limits.js';
import { startRig, type Rig } from '../gateway/harness.js';
import { assertServes, exchangeRecords } from './helpers.js';

let rig: Rig; // tight limits, holds not waited for, at most 2 pending holds a caller
let open: Rig; // metrics public
let mo: string;
let alice: string;
let approver: string;

test.before(async () => {
  rig = await startRig({ holdWaitSeconds: 0, maxPendingPerIdentity: 2, limits: { requests_per_second: 1, burst: 3, max_concurrent: 2 } });
  open = await startRig({ metricsPublic: true });
  mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
  alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  approver = await rig.idp.token({ sub: 'pat', groups: ['pci-approvers'] });
});
test.after(async () => {
  await rig.stop();
  await open.stop();
});

test('token bucket: a burst then the refill rate; the refill is computed, not timed', () => {
  let now = 0;
  const limits = new IdentityLimits({ requestsPerSecond: 2, burst: 3, maxConcurrent: 0 }, () => now);
  try {
    for (let i = 0; i < 3; i++) limits.admit('a', 'a')();
    const refused = (() => {
      try {
        limits.admit('a', 'a');
      } catch (err) {
        return err;
      }
      return null;
    })();
    assert.instance(refused, TooManyRequests);
    assert.is((refused as TooManyRequests).headers['retry-after'], '1');
    limits.admit('b', 'b')(); // another identity has its own bucket
    now = 500; // half a second refills one token at 2/s
    limits.admit('a', 'a')();
    assert.throws(() => limits.admit('a', 'a'), (e: unknown) => e instanceof TooManyRequests && e.error === 'rate_limited');
    now = 60_000;
    limits.sweep();
    assert.is(limits.size, 0, 'identities with full buckets and nothing in flight are forgotten');
  } finally {
    limits.close();
  }
});

test('concurrency cap: the slot is held until released, and released once', () => {
  const limits = new IdentityLimits({ requestsPerSecond: 0, burst: 1, maxConcurrent: 2 });
  try {
    const r1 = limits.admit('a', 'a');
    limits.admit('a', 'a');
    assert.throws(() => limits.admit('a', 'a'), (e: unknown) => e instanceof TooManyRequests && e.error === 'too_many_concurrent');
    r1();
    r1();
    limits.admit('a', 'a');
    assert.throws(() => limits.admit('a', 'a'), /already has 2 requests in flight/);
  } finally {
    limits.close();
  }
});

test('rate limit through the gateway: 429 with Retry-After and the JSON body, audited; other callers unaffected', async () => {
  const ops = await rig.idp.token({ sub: 'ops', groups: ['ml-admins'] });
  const statuses: number[] = [];
  let refused: Response | null = null;
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${ops}`, 'content-type': 'application/json' }, body: '{}' });
    statuses.push(res.status);
    if (res.status === 429 && !refused) refused = res;
    else await res.arrayBuffer();
  }
  assert.ok(statuses.slice(0, 3).every((s) => s === 200), `the burst is served: ${statuses}`);
  assert.ok(refused, `past the burst the caller is refused: ${statuses}`);
  assert.match(refused!.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  const body = (await refused!.json()) as { error: string; message: string; request_id: string };
  assert.is(body.error, 'rate_limited');
  assert.match(body.message, /ops sent more than 1 requests a second/);
  const records = await exchangeRecords(rig.stateDir, body.request_id);
  assert.is(records[0]!.decision.effect, 'limited', 'a 429 is a limit, neither a denial nor a hold');
  assert.match(records[0]!.decision.reason, /rate_limited/);
  assert.is(records[0]!.subject, 'ops');
  assert.is(records.find((e) => e.type === 'request.outcome')!.status, 429);
  await assertServes(rig, mo);
});

test('concurrency cap through the gateway: the third concurrent request is refused, the first two finish', async () => {
  const slow = await rig.idp.token({ sub: 'slow', groups: ['ml-admins'] });
  const release: (() => void)[] = [];
  rig.upstream.handlers.set('/v1/models/load', (_req, res) => release.push(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}')));
  try {
    const call = () => fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${slow}`, 'content-type': 'application/json' }, body: '{}' });
    const first = [call(), call()];
    for (let i = 0; i < 500 && release.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(release.length, 2, 'both requests reached the upstream');
    const third = await call();
    assert.is(third.status, 429);
    assert.is(third.headers.get('retry-after'), '1');
    assert.is(((await third.json()) as { error: string }).error, 'too_many_concurrent');
    for (const r of release) r();
    for (const res of await Promise.all(first)) assert.equal(await res.json(), { slow: true });
  } finally {
    rig.upstream.handlers.delete('/v1/models/load');
  }
});

test('pending holds: the config limit reaches the holds stage (429 too_many_holds past it)', async () => {
  const bulk = () => fetch(`${rig.gw.url}/v1/transactions?limit=5000`, { headers: { authorization: `Bearer ${alice}` } });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await bulk();
    statuses.push(res.status);
    const body = (await res.json()) as { error: string };
    if (i === 2) assert.is(body.error, 'too_many_holds');
    await new Promise((r) => setTimeout(r, 1100)); // stay under the 1 request/s limit of this rig
  }
  assert.equal(statuses, [403, 403, 429]);
});

test('/metrics needs a bearer token unless admin.metrics_public; /healthz does not', async () => {
  const anon = await fetch(`${rig.gw.adminUrl}/metrics`);
  assert.is(anon.status, 401);
  assert.match(anon.headers.get('www-authenticate') ?? '', /^Bearer /);
  assert.is(((await anon.json()) as { error: string }).error, 'unauthorized');
  const forged = await fetch(`${rig.gw.adminUrl}/metrics`, { headers: { authorization: 'Bearer not.a.token' } });
  assert.is(forged.status, 401);
  await forged.arrayBuffer();
  const authed = await fetch(`${rig.gw.adminUrl}/metrics`, { headers: { authorization: `Bearer ${mo}` } });
  assert.is(authed.status, 200);
  assert.match(await authed.text(), /regate_inflight_requests/);
  const health = await fetch(`${rig.gw.adminUrl}/healthz`);
  assert.is(health.status, 200);
  await health.arrayBuffer();
  const pub = await fetch(`${open.gw.adminUrl}/metrics`);
  assert.is(pub.status, 200);
  assert.match(await pub.text(), /regate_inflight_requests/);
});

test('every admin answer carries the strict security headers (health, metrics, 404, console)', async () => {
  for (const path of ['/healthz', '/metrics', '/nothing-here', '/console', '/console/app.js']) {
    const res = await fetch(rig.gw.adminUrl + path);
    await res.arrayBuffer();
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.not.match(csp, /unsafe-inline|unsafe-eval/, path);
    assert.is(res.headers.get('x-frame-options'), 'DENY', path);
    assert.is(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.is(res.headers.get('referrer-policy'), 'no-referrer', path);
  }
});

test('CSRF: cross-site form posts and non-JSON posts cannot decide a hold; the console\'s own call can', async () => {
  const held = await fetch(`${rig.gw.url}/v1/transactions?limit=9000`, { headers: { authorization: `Bearer ${await rig.idp.token({ sub: 'carol', groups: ['fraud-analysts'] })}` } });
  const { hold_id: id } = (await held.json()) as { hold_id: string };
  assert.match(id, /^hold_/);
  const approve = `${rig.gw.adminUrl}/api/holds/${id}/approve`;
  const attempts: [string, RequestInit, number, string][] = [
    // What a hostile page's <form method=post enctype=text/plain> sends: no token, another origin.
    ['cross-site text/plain form', { headers: { origin: 'https://evil.example', 'content-type': 'text/plain' }, body: '{"comment":"x"}' }, 403, 'cross_origin'],
    ['cross-site urlencoded form', { headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=x' }, 403, 'cross_origin'],
    ['form without the bearer header', { headers: { 'content-type': 'text/plain' }, body: '{}' }, 401, 'unauthenticated'],
    ['token but text/plain', { headers: { authorization: `Bearer ${approver}`, 'content-type': 'text/plain' }, body: '{}' }, 415, 'unsupported_media_type'],
  ];
  for (const [what, init, status, error] of attempts) {
    const res = await fetch(approve, { method: 'POST', ...init });
    assert.is(res.status, status, what);
    assert.is(((await res.json()) as { error: string }).error, error, what);
  }
  const still = await fetch(`${rig.gw.adminUrl}/api/holds/${id}`, { headers: { authorization: `Bearer ${approver}` } });
  assert.is(((await still.json()) as { state: string }).state, 'pending');
  const ok = await fetch(approve, {
    method: 'POST',
    headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json', origin: new URL(rig.gw.adminUrl).origin },
    body: '{"comment":"ticket 1"}',
  });
  assert.is(ok.status, 200);
  assert.is(((await ok.json()) as { state: string }).state, 'approved');
});

test.run();
