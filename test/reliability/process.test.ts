import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_BUNDLE } from '../../src/policy/index.js';
import { runCli } from '../helpers/cli.js';
import { startServe, writeConfig } from '../helpers/serve.js';
import { startIdp, UpstreamDouble, type IdpDouble } from '../gateway/harness.js';
import { auditEvents } from './helpers.js';

let idp: IdpDouble;
let upstream: UpstreamDouble;
const dirs: string[] = [];

test.before(async () => {
  idp = await startIdp();
  upstream = await new UpstreamDouble().start();
  // A little latency, so the load always has requests in flight when the signal lands.
  upstream.handlers.set('/v1/models/load', (_req, res) => setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), 20));
});
test.after(async () => {
  await upstream.stop();
  await idp.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function configIn(dir: string, limits: Record<string, number> = { requests_per_second: 0, max_concurrent: 0 }): string {
  return writeConfig(dir, {
    listen: { port: 0 },
    admin: { port: 0 },
    state_dir: join(dir, 'state'),
    drain_seconds: 10,
    upstreams: { models: { url: upstream.url } },
    routes: [{ name: 'models', path_prefix: '/v1/models', upstream: 'models' }],
    identity: { issuer: idp.issuer, audience: 'regate-test', jwks_url: `${idp.url}/jwks.json` },
    policy: { bundle: DEFAULT_BUNDLE, allow_unsigned: true, poll_seconds: 0 },
    limits,
    logging: { level: 'warn', requests: false },
  }, 'regate.yaml');
}

/**
 * Keeps `workers` clients sending until stopped, client i with `tokens[i % tokens.length]` (good
 * requests, denied ones, bad tokens, rate-limited callers); returns the request ids of every answer
 * the clients received (2xx and 4xx: acknowledged).
 */
function load(url: string, tokens: string[], workers = 8): { stop(): Promise<{ acked: Map<string, number>; failed: number }> } {
  let running = true;
  const acked = new Map<string, number>();
  let failed = 0;
  const one = async (i: number) => {
    while (running) {
      try {
        const token = tokens[i % tokens.length]!;
        const res = await fetch(`${url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"model":"m"}' });
        await res.arrayBuffer();
        const id = res.headers.get('x-request-id');
        if (id && res.status < 500) acked.set(id, res.status);
      } catch {
        failed++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const all = Promise.all(Array.from({ length: workers }, (_, i) => one(i)));
  return {
    stop: async () => {
      running = false;
      await all;
      return { acked, failed };
    },
  };
}

async function waitFor(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
}

test('SIGKILL under mixed load: every answer a client got, refusals included, has its records; a restart records gateway.recovered and the log verifies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-kill-'));
  dirs.push(dir);
  // Each good caller is its own identity; rita (three clients at once) is past the rate most of the time.
  const config = configIn(dir, { requests_per_second: 5, burst: 3, max_concurrent: 0 });
  const good = await Promise.all(['mo', 'max', 'mia', 'mel'].map((sub) => idp.token({ sub, groups: ['ml-admins'] })));
  const eve = await idp.token({ sub: 'eve', groups: ['marketing'] });
  const rita = await idp.token({ sub: 'rita', groups: ['ml-admins'] });
  const first = startServe(config);
  let acked: Map<string, number>;
  try {
    const url = (await first.ready).url;
    const traffic = load(url, [good[0]!, eve, rita, good[1]!, 'garbage.token.here', rita, good[2]!, rita, good[3]!], 9);
    const seen = upstream.seen.length;
    await waitFor(() => upstream.seen.length > seen + 40);
    first.child.kill('SIGKILL');
    ({ acked } = await traffic.stop());
    await first.exited;
  } finally {
    first.child.kill('SIGKILL');
  }
  assert.ok(acked.size > 20, `load produced acknowledged answers (${acked.size})`);
  for (const status of [200, 401, 403, 429]) assert.ok([...acked.values()].includes(status), `${status} answers were acknowledged too`);

  // A restart reopens the log over what the killed process left, and seals it on a clean stop.
  const second = startServe(config);
  try {
    await second.ready;
    second.child.kill('SIGTERM');
    assert.is(await second.exited, 0);
  } finally {
    second.child.kill('SIGKILL');
  }
  const events = await auditEvents(join(dir, 'state'));
  const byId = new Map<string, Record<string, any>[]>();
  for (const e of events) if (e.request_id) byId.set(e.request_id, [...(byId.get(e.request_id) ?? []), e]);
  const lost: string[] = [];
  for (const [id, status] of acked) {
    const mine = byId.get(id) ?? [];
    const decision = mine.find((e) => e.type === 'request.decision');
    const outcome = mine.find((e) => e.type === 'request.outcome');
    // A refused credential's one record is auth.failure; any other refusal was answered only
    // once its decision and outcome were durable; an answered 200 has at least its decision.
    const kept = status === 401 ? mine.some((e) => e.type === 'auth.failure' && e.status === 401)
      : status >= 400 ? decision !== undefined && outcome?.status === status
        : decision !== undefined;
    if (!kept) lost.push(`${id} (${status}: ${mine.map((e) => e.type).join(', ') || 'nothing'})`);
    if (status === 429) assert.is(decision?.decision.effect, 'limited', `429 ${id} is recorded as limited, not ${decision?.decision.effect}`);
  }
  assert.equal(lost, [], `${lost.length} of ${acked.size} acknowledged answers are missing records`);
  const recovered = events.filter((e) => e.type === 'gateway.recovered');
  assert.is(recovered.length, 1, 'the restart says the previous run ended uncleanly');
  assert.ok(events.indexOf(recovered[0]!) > events.findLastIndex((e) => e.type === 'request.decision'), 'after the killed run\'s records');
  const verify = await runCli(['audit', 'verify', '--state', join(dir, 'state')]);
  assert.is(verify.code, 0, verify.stdout + verify.stderr);
});

test('SIGTERM under load: drains, seals the open segment (the log verifies), every answer has decision and outcome', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-term-'));
  dirs.push(dir);
  const mo = await idp.token({ sub: 'mo', groups: ['ml-admins'] });
  const eve = await idp.token({ sub: 'eve', groups: ['marketing'] });
  const run = startServe(configIn(dir));
  let acked: Map<string, number>;
  try {
    const url = (await run.ready).url;
    const traffic = load(url, [eve, mo, mo, mo]);
    const seen = upstream.seen.length;
    await waitFor(() => upstream.seen.length > seen + 40);
    run.child.kill('SIGTERM');
    assert.is(await run.exited, 0);
    ({ acked } = await traffic.stop());
  } finally {
    run.child.kill('SIGKILL');
  }
  const events = await auditEvents(join(dir, 'state'));
  const byId = new Map<string, string[]>();
  for (const e of events) if (e.request_id) byId.set(e.request_id, [...(byId.get(e.request_id) ?? []), e.type]);
  for (const [id, status] of acked) {
    if (status === 503) continue; // refused while draining: not served
    assert.equal(byId.get(id), ['request.decision', 'request.outcome'], `request ${id} (${status})`);
  }
  const verify = await runCli(['audit', 'verify', '--json', '--state', join(dir, 'state')]);
  assert.is(verify.code, 0, verify.stdout + verify.stderr);
  const summary = JSON.parse(verify.stdout) as { unsealed: number; records: number; decisionsWithoutOutcome: unknown[] };
  assert.is(summary.unsealed, 0, 'the open segment was sealed on the way out');
  assert.equal(summary.decisionsWithoutOutcome, [], 'every decision has its outcome');
  assert.ok(summary.records >= events.length);
});

test.run();
