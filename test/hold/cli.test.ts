import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { clientCall, pendingHoldId, startIdp, startStack, type Idp, type Stack } from './helpers.js';

let idp: Idp;
let stack: Stack;
let alice: string;
let bob: string;

test.before(async () => {
  idp = await startIdp();
  // Five CLI runs happen while the client waits: on a loaded machine they took over the default 10 s.
  stack = await startStack({ idp, waitSeconds: 60 });
  alice = await idp.token('alice', ['fraud-analysts', 'pci-approvers']);
  bob = await idp.token('bob', ['pci-approvers']);
});
test.after(async () => {
  await stack.close();
  await idp.close();
});

const holds = (args: string[], token: string) => runCli(['holds', ...args, '--admin', stack.adminUrl], { env: { REGATE_TOKEN: token } });

test('list --json, show, self-approval refused, approve: the waiting client gets its answer', async () => {
  const waiting = clientCall(stack, alice);
  const id = await pendingHoldId(stack, bob);
  const list = await holds(['list', '--json'], bob);
  assert.is(list.code, 0, list.stderr);
  const parsed = JSON.parse(list.stdout) as { ok: true; holds: { id: string; state: string }[] };
  assert.equal(parsed.holds.map((h) => [h.id, h.state]), [[id, 'pending']]);
  const text = await holds(['list'], bob);
  assert.match(text.stdout, new RegExp(`^${id}  pending  alice  GET /v1/transactions\\?limit=5000 .* client=waiting \\d+s `));
  const show = await holds(['show', id], bob);
  assert.match(show.stdout, /^client {4}waiting, gives up in \d+s$/m);
  assert.match(show.stdout, /reason {4}bulk extraction of transactions/);
  assert.match(show.stdout, /0 of 1 approved/);
  const self = await holds(['approve', id], alice);
  assert.is(self.code, 1);
  assert.match(self.stderr, /refused \(HTTP 403\): alice requested hold/);
  const ok = await holds(['approve', id, '--comment', 'case FR-12'], bob);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /\(approved\)/);
  assert.match(ok.stdout, /bob: case FR-12/);
  assert.is((await waiting).status, 200);
});

test('deny with a reason; the client reads it', async () => {
  const waiting = clientCall(stack, alice, '/v1/other');
  const id = await pendingHoldId(stack, bob);
  const r = await holds(['deny', id, '--reason', 'no ticket'], bob);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /denied {4}by bob: no ticket/);
  const answer = await waiting;
  assert.is(answer.status, 403);
  assert.is(answer.body.message, 'no ticket');
});

test('no token is a usage error; an unreachable admin URL says so', async () => {
  const none = await runCli(['holds', 'list', '--admin', stack.adminUrl], { env: { REGATE_TOKEN: '' } });
  assert.is(none.code, 2);
  assert.match(none.stderr, /--token or the REGATE_TOKEN/);
  const down = await runCli(['holds', 'list', '--admin', 'http://127.0.0.1:1', '--token', 'x']);
  assert.is(down.code, 1);
  assert.match(down.stderr, /cannot reach the admin API at http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  const bad = await holds(['list'], 'not-a-token');
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /HTTP 401/);
});

test.run();
