/**
 * The order of the decision record and the upstream call (src/proxy/commit-order.ts): an allowed
 * request leaves for the upstream while its decision record commits, but no byte of the answer
 * reaches the client before the record is durable; a record that cannot be written means 503 and
 * none of the upstream's answer; state-changing calls (and routes set to `after_commit`) are not
 * sent before the record is durable; a client that leaves meanwhile still gets its outcome record,
 * and one that leaves before it is admitted gives its concurrency slot back.
 *
 * The gateway runs in process over the real audit log (LMDB on disk), holds, identity and policy
 * bundle; only the audit log's acknowledgement of `request.decision` is held at a gate the test
 * opens (or fails), which is what a slow or broken disk looks like from the gateway.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AuditEvent } from '../../src/audit/index.js';
import { createServer } from 'node:http';
import type { GatewayConfig } from '../../src/config/index.js';
import type { AuditSink } from '../../src/proxy/index.js';
import { forwardsAfterCommit } from '../../src/proxy/commit-order.js';
import { listen } from '../../src/util/index.js';
import { close, startIdp, startInProcess, UpstreamDouble, type IdpDouble } from './harness.js';

/** The real audit log, with `request.decision` acknowledgements held at a gate while it is shut. */
class GatedAudit implements AuditSink {
  /** Events the gateway was told are durable, in that order. */
  readonly durable: AuditEvent[] = [];
  #gate: { opened: Promise<void>; open(): void; failure: Error | null } | null = null;
  #waiting: (() => void) | null = null;
  /** Set by the test: called when the gate opens, before the gateway hears of it. */
  onOpen: () => void = () => undefined;

  constructor(private readonly real: AuditSink) {}

  /** Shuts the gate; with `failure`, a held decision record is refused with it instead of written. */
  shut(failure: Error | null = null): void {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    this.#gate = { opened, open, failure };
  }

  /** Resolves once a decision record is waiting at the gate. */
  waiting(): Promise<void> {
    return new Promise((r) => (this.#waiting = r));
  }

  open(): void {
    const g = this.#gate!;
    this.#gate = null;
    this.onOpen();
    g.open();
  }

  async append(e: AuditEvent): Promise<unknown> {
    const gate = e.type === 'request.decision' ? this.#gate : null;
    if (gate?.failure) {
      this.#waiting?.();
      await gate.opened;
      throw gate.failure;
    }
    const r = await this.real.append(e);
    if (gate) {
      this.#waiting?.();
      await gate.opened;
    }
    this.durable.push(e);
    return r;
  }
}

interface Rig {
  url: string;
  idp: IdpDouble;
  upstream: UpstreamDouble;
  audit: GatedAudit;
  stop(): Promise<void>;
}

async function start(adjust?: (c: GatewayConfig) => void, idp?: IdpDouble): Promise<Rig> {
  let audit!: GatedAudit;
  const rig = await startInProcess({ audit: (real) => (audit = new GatedAudit(real)) }, adjust, idp);
  return { ...rig, audit };
}

/** A request whose response is reported the moment its first byte (the status line) arrives. */
function send(url: string, method: string, path: string, token: string, body: string | null, onFirstByte: () => void = () => undefined) {
  const req = httpRequest(url + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) } });
  const done = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      onFirstByte();
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode!, text })).on('error', reject);
    });
    req.on('error', reject);
  });
  req.end(body ?? undefined);
  return { req, done };
}

const settle = () => new Promise((r) => setTimeout(r, 150));

/** Waits for `p`, failing (not hanging) when it does not come. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: did not happen within 10 s`)), 10_000)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), what);
}

test('a slow commit: the upstream already has the request (and has answered), the client has no byte until the decision record is durable', async () => {
  const rig = await start();
  try {
    const order: string[] = [];
    let answered!: () => void;
    const upstreamAnswered = new Promise<void>((r) => (answered = r));
    rig.upstream.handlers.set('/v1/score', (_req, res) => {
      order.push('upstream received');
      res.on('finish', () => { order.push('upstream answered'); answered(); });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"score":0.5}');
    });
    rig.audit.onOpen = () => order.push('decision record durable');
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    rig.audit.shut();
    const waiting = rig.audit.waiting();
    const r = send(rig.url, 'POST', '/v1/score', alice, '{"amount":1}', () => order.push('client first byte'));
    await within(waiting, 'the decision record reaches the audit log');
    await within(upstreamAnswered, 'the upstream answers while the record commits');
    // Time for the answer to cross back to the gateway: had it been relayed, it would be here.
    await settle();
    assert.equal(order, ['upstream received', 'upstream answered'], 'the request went out while its record was committing, and nothing came back to the client');
    rig.audit.open();
    const res = await within(r.done, 'the answer');
    assert.is(res.status, 200);
    assert.is(res.text, '{"score":0.5}');
    assert.equal(order, ['upstream received', 'upstream answered', 'decision record durable', 'client first byte']);
    await until('the outcome record follows', () => rig.audit.durable.some((e) => e.type === 'request.outcome'));
    const decision = rig.audit.durable.find((e) => e.type === 'request.decision') as { request_id: string };
    assert.is(decision.request_id, rig.upstream.seen[0]!.headers['x-request-id']);
  } finally {
    await rig.stop();
  }
});

test('a failed commit: 503 audit_unavailable, and not one byte of the upstream\'s answer reaches the client', async () => {
  const rig = await start();
  try {
    const SECRET_ANSWER = 'upstream-answer-the-client-must-not-see';
    let answered!: () => void;
    const upstreamAnswered = new Promise<void>((r) => (answered = r));
    rig.upstream.handlers.set('/v1/score', (_req, res) => {
      res.on('close', () => answered());
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ note: SECRET_ANSWER }));
    });
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    rig.audit.shut(new Error('the disk went away (test)'));
    const waiting = rig.audit.waiting();
    const r = send(rig.url, 'POST', '/v1/score', alice, '{"amount":1}');
    await within(waiting, 'the decision record reaches the audit log');
    await within(upstreamAnswered, 'the upstream answers while the record commits');
    await settle();
    rig.audit.open();
    const res = await within(r.done, 'the answer');
    assert.is(res.status, 503);
    const body = JSON.parse(res.text) as { error: string };
    assert.is(body.error, 'audit_unavailable');
    assert.not.ok(res.text.includes(SECRET_ANSWER), 'nothing of the upstream\'s answer');
    assert.is(rig.upstream.seen.length, 1, 'the request had left (overlap), which is why state-changing calls wait');
    assert.not.ok(rig.audit.durable.some((e) => e.type === 'request.decision' || e.type === 'request.outcome'), 'nothing is claimed durable for it');
  } finally {
    await rig.stop();
  }
});

test('model management (by default) and a route set to after_commit are not sent before the decision record is durable', async () => {
  const rig = await start((c) => (c.routes = c.routes.map((r) => (r.name === 'transactions' ? { ...r, forward: 'after_commit' } : r))));
  try {
    const mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    for (const [token, method, path, body] of [[mo, 'POST', '/v1/models/load', '{"model":"m"}'], [alice, 'GET', '/v1/transactions?limit=5', null]] as const) {
      const seen = rig.upstream.seen.length;
      rig.audit.shut();
      const waiting = rig.audit.waiting();
      const r = send(rig.url, method, path, token, body);
      await within(waiting, 'the decision record reaches the audit log');
      await settle();
      assert.is(rig.upstream.seen.length, seen, `${method} ${path} waits for its record`);
      rig.audit.open();
      const res = await within(r.done, 'the answer');
      assert.is(res.status, 200, `${method} ${path}: ${res.text}`);
      assert.is(rig.upstream.seen.length, seen + 1, `${method} ${path} is sent once durable`);
    }
  } finally {
    await rig.stop();
  }
});

test('a client that leaves while its record commits: the upstream call is abandoned, and the outcome record still follows the decision', async () => {
  const rig = await start();
  try {
    let reached!: () => void;
    const upstreamReached = new Promise<void>((r) => (reached = r));
    // The upstream takes its time: the client is gone before it answers.
    rig.upstream.handlers.set('/v1/score', (_req, res) => {
      reached();
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 2000).unref();
    });
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    rig.audit.shut();
    const waiting = rig.audit.waiting();
    const r = send(rig.url, 'POST', '/v1/score', alice, '{"amount":1}');
    r.done.catch(() => undefined);
    await within(waiting, 'the decision record reaches the audit log');
    await within(upstreamReached, 'the request reaches the upstream while the record commits');
    r.req.destroy();
    await settle();
    rig.audit.open();
    const id = rig.upstream.seen[0]!.headers['x-request-id'];
    await until('the outcome record is written', () => rig.audit.durable.some((e) => e.type === 'request.outcome' && e.request_id === id));
    const kinds = rig.audit.durable.filter((e) => 'request_id' in e && e.request_id === id).map((e) => e.type);
    assert.equal(kinds, ['request.decision', 'request.outcome']);
    const outcome = rig.audit.durable.find((e) => e.type === 'request.outcome') as { status: number; error: string | null };
    assert.is(outcome.status, 499);
    assert.is(outcome.error, 'client_closed');
    await until('the upstream call is abandoned', () => rig.upstream.abandoned.includes('/v1/score'));
  } finally {
    await rig.stop();
  }
});

test('a client gone while it is authenticated leaves no concurrency slot behind (max_concurrent 1: the next request is served)', async () => {
  // The IdP's keys are fetched through a gate, so authentication waits until the test opens it.
  const idp = await startIdp();
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  let asked!: () => void;
  const keysAsked = new Promise<void>((r) => (asked = r));
  const gate = createServer((_req, res) => {
    asked();
    void opened.then(async () => res.writeHead(200, { 'content-type': 'application/json' }).end(await (await fetch(`${idp.url}/jwks.json`)).text()));
  });
  const gateUrl = await listen(gate, '127.0.0.1', 0);
  const rig = await start((c) => {
    c.identity.jwks_url = `${gateUrl}/jwks.json`;
    c.limits.max_concurrent = 1;
  }, idp);
  try {
    const alice = await idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const first = send(rig.url, 'POST', '/v1/score', alice, '{"amount":1}');
    first.done.catch(() => undefined);
    await within(keysAsked, 'the gateway fetches the keys');
    first.req.destroy();
    await settle();
    open();
    await settle();
    const second = send(rig.url, 'POST', '/v1/score', alice, '{"amount":2}');
    const res = await within(second.done, 'the second answer');
    assert.is(res.status, 200, `the slot of the client that left was given back: ${res.text}`);
  } finally {
    await rig.stop();
    await close(gate);
  }
});

test('forwardsAfterCommit: a route\'s setting wins; unset, only state-changing calls under the management API wait', () => {
  const unset = { forward: undefined };
  const cases: [string, string, boolean][] = [
    ['POST', '/v1/models/load', true],
    ['DELETE', '/v1/models/fraud-v3', true],
    ['delete', '/v1/models/fraud-v3', true],
    ['POST', '/v1/files', true],
    ['POST', '/v1/fine_tuning/jobs', true],
    ['POST', '/v1/batches', true],
    ['POST', '/v1/uploads/u1/parts', true],
    ['GET', '/v1/models', false],
    ['HEAD', '/v1/files/f1', false],
    ['POST', '/v1/modelsX', false],
    ['POST', '/v1/chat/completions', false],
    ['POST', '/v1/score', false],
    ['GET', '/v1/transactions', false],
  ];
  for (const [method, path, waits] of cases) assert.is(forwardsAfterCommit(unset, method, path), waits, `${method} ${path}`);
  fc.assert(
    fc.property(fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'get', 'post'), fc.webPath(), (method, path) => {
      assert.is(forwardsAfterCommit({ forward: 'after_commit' }, method, path), true);
      assert.is(forwardsAfterCommit({ forward: 'overlap' }, method, path), false);
      if (['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase())) assert.is(forwardsAfterCommit(unset, method, path), false);
      // A path merely starting with a management name is not under it.
      assert.is(forwardsAfterCommit(unset, method, `/v1/modelsx${path}`), false);
    }),
  );
});

test.run();
