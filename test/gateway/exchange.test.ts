/**
 * The exchange as the audit log keeps it, through the gateway and the demo model service: the
 * outcome record holds what the client received (masked), capped, with its full length and hash,
 * chunked SSE streams included; `regate audit replay` shows it. And a full audit log refuses
 * requests with 503 without losing what it already holds.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startDemoService, CHAT_PAN, type DemoService } from '../../src/demo/service.js';
import { compileMaskPlan, maskText } from '../../src/mask/index.js';
import { CARD_RULES } from '../../src/proxy/card-scrub.js';
import { runCli } from '../helpers/cli.js';
import { startRig, UPSTREAM_SECRET, type Rig } from './harness.js';

const CAP = 200;
const cardPlan = compileMaskPlan(CARD_RULES);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
type Event = Record<string, any>;

async function events(rig: Rig): Promise<Event[]> {
  const tail = await runCli(['audit', 'tail', '--dir', join(rig.stateDir, 'audit')]);
  assert.is(tail.code, 0, tail.stderr);
  return tail.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: Event }).event);
}

test('outcome records carry the masked response as the client received it (JSON and chunked SSE), capped, hashed, counted', async () => {
  const service: DemoService = await startDemoService({ host: '127.0.0.1', port: 0, credential: { header: 'x-upstream-key', value: UPSTREAM_SECRET } });
  const rig = await startRig({ upstreamUrl: service.url, keepState: true, audit: { body_cap_bytes: CAP } });
  try {
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const sam = await rig.idp.token({ sub: 'sam', groups: ['support-agents'] });
    const score = await fetch(`${rig.gw.url}/v1/score`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ transaction: { amount: 4200, merchant: 'm-17', note: 'x'.repeat(300) } }),
    });
    assert.is(score.status, 200);
    const scoreBytes = Buffer.from(await score.arrayBuffer());
    const chat = await fetch(`${rig.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo-llm', stream: true, messages: [{ role: 'user', content: 'Which card is on file?' }] }),
    });
    assert.is(chat.headers.get('content-length'), null, 'the masked stream is sent chunked');
    const chatBytes = Buffer.from(await chat.arrayBuffer());
    assert.ok(chatBytes.toString().includes('**** **** **** 6467'));
    await rig.stop();

    const all = await events(rig);
    for (const [res, bytes] of [[score, scoreBytes], [chat, chatBytes]] as const) {
      const id = res.headers.get('x-request-id');
      const outcome = all.find((e) => e.type === 'request.outcome' && e.request_id === id)!;
      assert.is(outcome.bytes_out, bytes.length, 'bytes_out is what was sent');
      const body = outcome.response_body;
      assert.is(body.bytes, bytes.length);
      assert.is(body.sha256, sha256(bytes), 'the hash is of the masked bytes the client got');
      assert.is(body.truncated, bytes.length > CAP);
      assert.ok(Buffer.byteLength(body.text) <= CAP);
      // The writer passes every stored string through the card detectors once more (defence in depth).
      assert.ok(maskText(cardPlan, bytes.toString('utf8')).text.startsWith(body.text), 'the kept text is the start of what the client got');
      const decision = all.find((e) => e.type === 'request.decision' && e.request_id === id)!;
      assert.ok(decision.request_body.bytes > 0);
      assert.ok(Buffer.byteLength(decision.request_body.text) <= CAP, 'the request body is capped likewise');
    }
    const scoreOutcome = all.find((e) => e.type === 'request.outcome' && e.request_id === score.headers.get('x-request-id'))!;
    assert.ok(scoreOutcome.masked.pan >= 1, JSON.stringify(scoreOutcome.masked));

    const replay = await runCli(['audit', 'replay', chat.headers.get('x-request-id')!, '--dir', join(rig.stateDir, 'audit')]);
    assert.is(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /# POST \/v1\/chat\/completions by sam: mask/);
    assert.match(replay.stdout, new RegExp(`# answered 200, \\d+ bytes in, ${chatBytes.length} bytes out`));
    assert.match(replay.stdout, new RegExp(`# response body \\(masked, first \\d+ of ${chatBytes.length} bytes, sha256 ${sha256(chatBytes)}\\):\\ndata: `));
    assert.not.ok(replay.stdout.includes(CHAT_PAN));
  } finally {
    await service.close();
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test('a full audit log: 503 with the JSON error body and a log line, nothing forwarded, nothing written lost', async () => {
  // The smallest quota; 8 KiB request bodies fill what is left after the sealing reserve quickly.
  const rig = await startRig({ keepState: true, audit: { max_size_bytes: 512 * 1024 } });
  try {
    const mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const body = JSON.stringify({ model: 'm', notes: 'n'.repeat(8000) });
    const served: string[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const seen = rig.upstream.seen.length;
      const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body });
      if (res.status === 503) {
        refused = res;
        assert.is(rig.upstream.seen.length, seen, 'the refused request was not forwarded');
      } else {
        assert.is(res.status, 200);
        served.push(res.headers.get('x-request-id')!);
        await res.arrayBuffer();
      }
    }
    assert.ok(refused, 'the log filled up');
    assert.ok(served.length > 0);
    const id = refused.headers.get('x-request-id');
    assert.equal(await refused.json(), { error: 'audit_unavailable', message: 'The audit log could not record this request, so it is not served.', request_id: id });
    const line = rig.logs.lines().find((l) => l.msg === 'audit log write failed; the request is refused with 503' && l.request_id === id);
    assert.ok(line, 'a log line names the refused request');
    assert.match(String(line!.error), /audit log at .* is full/);
    await rig.stop();

    const all = await events(rig);
    for (const s of served) assert.ok(all.some((e) => e.type === 'request.decision' && e.request_id === s), `decision of ${s} kept`);
    assert.not.ok(all.some((e) => e.request_id === id), 'the refused request left no partial record');
    const verify = await runCli(['audit', 'verify', '--state', rig.stateDir]);
    assert.is(verify.code, 0, verify.stdout + verify.stderr);
  } finally {
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test.run();
