/**
 * `regate serve --workers 2`, run as operators run it: both workers serve on the one port, the
 * primary's audit log holds every request's decision and outcome records in one verifiable
 * sequence, SIGTERM drains every worker before the log is sealed, and a killed worker is replaced.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_BUNDLE } from '../../src/policy/index.js';
import { auditRecords } from '../helpers/audit-records.js';
import { runCli } from '../helpers/cli.js';
import { startServe, writeConfig } from '../helpers/serve.js';
import { startIdp, UpstreamDouble, type IdpDouble } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'regate-workers-'));
let idp: IdpDouble;
let upstream: UpstreamDouble;

test.before(async () => {
  idp = await startIdp();
  upstream = await new UpstreamDouble().start();
});
test.after(async () => {
  await upstream.stop();
  await idp.stop();
  rmSync(dir, { recursive: true, force: true });
});

function configFile(state: string): string {
  return writeConfig(dir, {
    listen: { port: 0 },
    admin: { port: 0 },
    state_dir: state,
    drain_seconds: 5,
    upstreams: { models: { url: upstream.url } },
    routes: [{ name: 'models', path_prefix: '/v1/models', upstream: 'models' }, { name: 'transactions', path_prefix: '/v1/transactions', upstream: 'models' }],
    holds: { wait_seconds: 20 },
    identity: { issuer: idp.issuer, audience: 'regate-test', jwks_url: `${idp.url}/jwks.json` },
    policy: { bundle: DEFAULT_BUNDLE, allow_unsigned: true },
    logging: { level: 'info', requests: true },
  });
}

interface Served {
  child: ChildProcess;
  url: string;
  adminUrl: string;
  /** What the gateway wrote to stderr: its JSON log lines (and the ready line). */
  logs(): string;
  exited: Promise<number | null>;
}

function serve(state: string, workers: number): Promise<Served> {
  const s = startServe(configFile(state), { args: ['--workers', String(workers)] });
  return s.ready.then(({ url, adminUrl }) => ({ child: s.child, url, adminUrl, logs: s.logs, exited: s.exited }));
}

/** One request on its own connection (no keep-alive), so the cluster hands each to a worker anew. */
function post(url: string, token: string, path = '/v1/models/load'): Promise<{ status: number; requestId: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, requestId: String(res.headers['x-request-id']), body }));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function requestLines(stderr: string): Array<{ pid: number; request_id: string }> {
  return logLines(stderr).filter((l) => l.msg === 'request') as unknown as Array<{ pid: number; request_id: string }>;
}


test('--workers 2: both workers serve, one audit log holds every decision and outcome in one verified sequence, SIGTERM drains', async () => {
  const state = join(dir, 'state-a');
  const gw = await serve(state, 2);
  const token = await idp.token({ sub: 'mo', groups: ['ml-admins'] });
  const answers = [];
  for (let round = 0; round < 6; round++) answers.push(...(await Promise.all(Array.from({ length: 8 }, () => post(gw.url, token)))));
  for (const a of answers) assert.is(a.status, 200, a.body);
  // The policy's reason quotes the path: the worker scrubs the card number out of the record it encodes.
  const carded = await post(gw.url, token, '/v1/models/4111111111111111');
  assert.is(carded.status, 403, carded.body);

  // A slow request in flight when SIGTERM arrives is still answered.
  upstream.handlers.set('/v1/models/load', (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}'), 300);
  });
  const before = upstream.seen.length;
  const slow = post(gw.url, token);
  while (upstream.seen.length === before) await new Promise((r) => setTimeout(r, 10));
  gw.child.kill('SIGTERM');
  const late = await slow;
  assert.is(late.status, 200, late.body);
  assert.match(late.body, /slow/);
  assert.is(await gw.exited, 0);
  upstream.handlers.delete('/v1/models/load');

  const lines = requestLines(gw.logs());
  const pids = new Set(lines.map((l) => l.pid));
  assert.is(pids.size, 2, `requests were served by ${[...pids].join(', ')}`);
  assert.not.ok(pids.has(gw.child.pid!), 'the primary serves no client requests');

  const all = await auditRecords(join(state, 'audit'));
  assert.equal(all.map((r) => r.seq), all.map((_, i) => i), 'one gap-free sequence');
  for (const a of [...answers, late]) {
    const mine = all.filter((r) => (r.event as { request_id?: string }).request_id === a.requestId).map((r) => r.event.type);
    assert.equal(mine, ['request.decision', 'request.outcome'], `records of ${a.requestId}`);
  }
  const reason = all.find((r) => (r.event as { request_id?: string }).request_id === carded.requestId && r.event.type === 'request.decision');
  assert.match(JSON.stringify(reason), /POST \/v1\/models\/\*{12}1111 matches no rule/);
  assert.not.match(JSON.stringify(all), /4111111111111111/);
  assert.is(all.filter((r) => r.event.type === 'gateway.start').length, 1);
  assert.is(all.at(-1)?.event.type, 'gateway.stop', 'the stop record follows every request record');
  const verified = await runCli(['audit', 'verify', '--state', state]);
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
});

test('--workers 2: a held request waits in a worker while the primary keeps the hold; approved, it goes through, and its records link the hold', async () => {
  const state = join(dir, 'state-h');
  const gw = await serve(state, 2);
  try {
    const alice = await idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const victor = await idp.token({ sub: 'victor', groups: ['pci-approvers'] });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(gw.adminUrl + path, { method, headers: { authorization: `Bearer ${victor}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      assert.ok(res.ok, `${path}: ${res.status}`);
      return res.json() as Promise<any>;
    };
    const decide = async (verb: 'approve' | 'deny', body: unknown) => {
      for (let i = 0; i < 500; i++) {
        const { holds } = (await call('GET', '/api/holds?state=pending')) as { holds: { id: string }[] };
        if (holds.length) return (await call('POST', `/api/holds/${holds[0]!.id}/${verb}`, body)).id as string;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('no pending hold appeared');
    };
    const waiting = fetch(`${gw.url}/v1/transactions?limit=5000`, { headers: { authorization: `Bearer ${alice}` } });
    const approved = await decide('approve', { comment: 'ticket 12' });
    const res = await waiting;
    assert.is(res.status, 200);
    const requestId = res.headers.get('x-request-id')!;
    await res.arrayBuffer();
    const denied = fetch(`${gw.url}/v1/transactions?limit=6000`, { headers: { authorization: `Bearer ${alice}` } });
    const refusedHold = await decide('deny', { reason: 'no ticket' });
    const no = await denied;
    assert.is(no.status, 403);
    assert.is(((await no.json()) as { hold_id: string }).hold_id, refusedHold);
    gw.child.kill('SIGTERM');
    assert.is(await gw.exited, 0);

    const events = (await auditRecords(join(state, 'audit'))).map((r) => r.event as Record<string, any>);
    const decision = events.find((e) => e.type === 'request.decision' && e.request_id === requestId)!;
    assert.is(decision.decision.effect, 'hold');
    assert.is(decision.approval, approved);
    const created = events.find((e) => e.type === 'hold.created' && e.hold_id === approved)!;
    assert.is(created.request_id, requestId);
    assert.match(events.find((e) => e.type === 'hold.approved' && e.hold_id === approved)!.detail, /ticket 12/);
  } finally {
    gw.child.kill('SIGKILL');
  }
});

test('a worker that dies is replaced, and the replacement serves', async () => {
  const state = join(dir, 'state-b');
  const gw = await serve(state, 2);
  try {
    const token = await idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const first = await Promise.all(Array.from({ length: 8 }, () => post(gw.url, token)));
    const victim = requestLines(gw.logs()).find((l) => l.request_id === first[0]!.requestId)!.pid;
    process.kill(victim, 'SIGKILL');
    const ready = () => logLines(gw.logs()).filter((l) => l.msg === 'worker ready').map((l) => l.worker_pid as number);
    for (let i = 0; i < 100 && ready().length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    const replacement = ready()[2];
    assert.ok(replacement !== undefined && replacement !== victim, 'a replacement worker started');
    assert.match(gw.logs(), /worker died; starting a replacement/);
    let servedByReplacement = false;
    for (let i = 0; i < 50 && !servedByReplacement; i++) {
      const ids = new Set((await Promise.all(Array.from({ length: 4 }, () => post(gw.url, token)))).map((a) => a.requestId));
      servedByReplacement = requestLines(gw.logs()).some((l) => ids.has(l.request_id) && l.pid === replacement);
    }
    assert.ok(servedByReplacement, `worker ${replacement} served requests`);
  } finally {
    gw.child.kill('SIGTERM');
    assert.is(await gw.exited, 0);
  }
  const verified = await runCli(['audit', 'verify', '--state', state]);
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
});

test.run();
