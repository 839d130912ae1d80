/**
 * Linked evidence over a real gateway: a held request's decision names its hold, every hold and
 * grant record names the request it concerns, a retry let through by a late approval (or a request
 * let through by a grant) names the approval, and `regate audit replay` tells the whole story from
 * either end. Refusals by a limit are `limited`, never "hold", and every refusal a client got has
 * its decision and outcome in the log.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { startRig, type Rig } from './harness.js';

type Event = Record<string, any>;

/** Stops the rig (kept state: the log is read after the gateway stopped) and removes its state. */
async function done(rig: Rig): Promise<void> {
  await rig.stop();
  rmSync(rig.stateDir, { recursive: true, force: true });
}

async function admin(rig: Rig, token: string, path: string, body: unknown): Promise<any> {
  const res = await fetch(rig.gw.adminUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

/** A request's answer: status, request id and JSON body. */
async function send(rig: Rig, token: string, path: string): Promise<{ status: number; id: string; body: any }> {
  const res = await fetch(`${rig.gw.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, id: res.headers.get('x-request-id')!, body: await res.json() };
}

async function events(rig: Rig): Promise<Event[]> {
  const tail = await runCli(['audit', 'tail', '--dir', join(rig.stateDir, 'audit')]);
  assert.is(tail.code, 0, tail.stderr);
  return tail.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: Event }).event);
}

async function replay(rig: Rig, requestId: string): Promise<{ seqs: number[]; story: string[] }> {
  const r = await runCli(['audit', 'replay', requestId, '--dir', join(rig.stateDir, 'audit'), '--json']);
  assert.is(r.code, 0, r.stderr);
  const records = (JSON.parse(r.stdout) as { records: { seq: number; story: string }[] }).records;
  return { seqs: records.map((x) => x.seq), story: records.map((x) => x.story) };
}

const decisionOf = (all: Event[], id: string) => all.find((e) => e.type === 'request.decision' && e.request_id === id)!;
const outcomeOf = (all: Event[], id: string) => all.find((e) => e.type === 'request.outcome' && e.request_id === id);

test('a late approval: the held request and the retry it let through link both ways, and replay tells the story from either', async () => {
  const rig = await startRig({ holdWaitSeconds: 1, keepState: true });
  try {
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const victor = await rig.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
    const held = await send(rig, alice, '/v1/transactions?limit=5000');
    assert.is(held.status, 403);
    const holdId = held.body.hold_id as string;
    await admin(rig, victor, `/api/holds/${holdId}/approve`, { comment: 'quarterly review, ticket 4711' });
    const retry = await send(rig, alice, '/v1/transactions?limit=5000');
    assert.is(retry.status, 200);
    await rig.gw.stop();

    const all = await events(rig);
    const heldDecision = decisionOf(all, held.id);
    assert.is(heldDecision.decision.effect, 'hold');
    assert.is(heldDecision.approval, holdId, 'a held request names its hold');
    const holdRecords = all.filter((e) => e.hold_id === holdId);
    assert.equal(holdRecords.map((e) => e.type), ['hold.created', 'hold.timeout', 'hold.approved', 'hold.replayed']);
    for (const e of holdRecords) assert.is(e.request_id, held.id, `${e.type} names the held request`);
    const approved = holdRecords.find((e) => e.type === 'hold.approved')!;
    assert.is(approved.actor.sub, 'victor');
    assert.match(approved.detail, /quarterly review, ticket 4711/);
    assert.is(holdRecords.find((e) => e.type === 'hold.replayed')!.replay_request_id, retry.id, 'the hold names the retry that used it');
    const retryDecision = decisionOf(all, retry.id);
    assert.is(retryDecision.decision.effect, 'mask');
    assert.is(retryDecision.approval, holdId, 'the retry names the approval that let it through');
    assert.is(outcomeOf(all, held.id)!.status, 403);
    assert.is(outcomeOf(all, retry.id)!.status, 200);

    const fromHeld = await replay(rig, held.id);
    const fromRetry = await replay(rig, retry.id);
    assert.equal(fromRetry.seqs, fromHeld.seqs, 'the same story from either end');
    const story = fromHeld.story.join('\n');
    for (const line of [
      `request ${held.id}: GET /v1/transactions by alice: hold (`,
      `${holdId} created for request ${held.id}`,
      `request ${held.id} answered 403 (forbidden)`,
      `${holdId} approved by victor: approval 1 of 1: quarterly review, ticket 4711`,
      `request ${retry.id}: GET /v1/transactions by alice: mask (`,
      `, let through on ${holdId}`,
      `${holdId} used by request ${retry.id}`,
      `request ${retry.id} answered 200`,
    ]) assert.ok(story.includes(line), `the story has "${line}":\n${story}`);
    assert.is(fromHeld.story.length, 8, story);
  } finally {
    await done(rig);
  }
});

test('a grant: a request it let through names the grant, one the policy allows anyway names none; grant records name the held request', async () => {
  const rig = await startRig({ holdWaitSeconds: 1, keepState: true });
  try {
    const carol = await rig.idp.token({ sub: 'carol', groups: ['fraud-analysts'] });
    const victor = await rig.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
    const held = await send(rig, carol, '/v1/transactions?limit=5000');
    assert.is(held.status, 403);
    const granted = await admin(rig, victor, `/api/holds/${held.body.hold_id}/approve`, { comment: 'JIT for the quarter close', grant_seconds: 60 });
    const grantId = granted.grant_id as string;
    assert.match(grantId, /^grant_/);
    // Not this exact request: the hold's one replay does not cover it, only the grant does.
    const through = await send(rig, carol, '/v1/transactions?limit=7000');
    assert.is(through.status, 200);
    const small = await send(rig, carol, '/v1/transactions?limit=10');
    assert.is(small.status, 200);
    await rig.gw.stop();

    const all = await events(rig);
    const created = all.find((e) => e.type === 'grant.created')!;
    assert.is(created.grant_id, grantId);
    assert.is(created.hold_id, held.body.hold_id);
    assert.is(created.request_id, held.id, 'a grant made from a hold names the held request');
    assert.is(decisionOf(all, through.id).approval, grantId);
    assert.is(decisionOf(all, small.id).approval, null, 'the policy allows a small page anyway: the grant let nothing through');
    const story = await replay(rig, through.id);
    const text = story.story.join('\n');
    assert.ok(text.includes(`${grantId} created by victor from ${held.body.hold_id} (request ${held.id})`), text);
    assert.ok(text.includes(`request ${held.id}: GET /v1/transactions by carol: hold (`), text);
    assert.not.ok(text.includes(small.id), 'a request the grant did not let through is not part of its story');
  } finally {
    await done(rig);
  }
});

test('429s are `limited`, never "hold": too many pending holds and the rate limit; every refusal (403, 429) has its decision and outcome', async () => {
  const rig = await startRig({ holdWaitSeconds: 1, maxPendingPerIdentity: 1, keepState: true, limits: { requests_per_second: 1, burst: 3 } });
  try {
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const rita = await rig.idp.token({ sub: 'rita', groups: ['fraud-analysts'] });
    const first = await send(rig, alice, '/v1/transactions?limit=5000');
    assert.is(first.status, 403);
    const second = await send(rig, alice, '/v1/transactions?limit=6000');
    assert.is(second.status, 429);
    assert.is(second.body.error, 'too_many_holds');
    const burst = await Promise.all(Array.from({ length: 6 }, () => send(rig, rita, '/v1/transactions?limit=10')));
    const limited = burst.filter((r) => r.status === 429);
    assert.ok(limited.length >= 3, `the burst of 3 is exceeded: ${burst.map((r) => r.status)}`);
    await rig.gw.stop();

    const all = await events(rig);
    const holdLimited = decisionOf(all, second.id);
    assert.is(holdLimited.decision.effect, 'limited');
    assert.is(holdLimited.approval, null);
    assert.match(holdLimited.decision.reason, /^held by the policy \(bulk extraction held for approval: .*\), but the hold was refused: alice already has 1 pending holds/);
    assert.ok(holdLimited.decision.rules.includes('hold.bulk_limit'), 'the policy rules that held it are kept');
    for (const r of limited) {
      const d = decisionOf(all, r.id);
      assert.is(d.decision.effect, 'limited');
      assert.match(d.decision.reason, /rate_limited/);
    }
    for (const r of [first, second, ...burst]) {
      const outcome = outcomeOf(all, r.id);
      assert.ok(outcome, `request ${r.id} (${r.status}) has its outcome`);
      assert.is(outcome!.status, r.status);
      if (r.status !== 200) assert.is(outcome!.bytes_out, Buffer.byteLength(JSON.stringify(r.body)), 'the outcome has the exact length of the error body sent after it');
      assert.ok(all.filter((e) => e.type === 'request.decision' && e.request_id === r.id).length === 1, 'one decision');
    }
    assert.ok(all.every((e) => e.type !== 'request.decision' || e.decision.effect !== 'hold' || outcomeOf(all, e.request_id)?.status !== 429));
  } finally {
    await done(rig);
  }
});

test.run();
