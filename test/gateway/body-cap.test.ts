/**
 * routes[].body_cap_bytes: a route keeps its own share of each masked body in the audit log (here
 * none of the transaction lists, 64 bytes of the scores) while the other routes keep
 * audit.body_cap_bytes; every capture still holds the whole body's length and SHA-256.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startDemoService } from '../../src/demo/service.js';
import { runCli } from '../helpers/cli.js';
import { startRig, UPSTREAM_SECRET } from './harness.js';

type Event = Record<string, any>;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('each route keeps its own body cap; the others the audit-wide one; length and hash are of the whole body', async () => {
  const service = await startDemoService({ host: '127.0.0.1', port: 0, credential: { header: 'x-upstream-key', value: UPSTREAM_SECRET } });
  const rig = await startRig({ upstreamUrl: service.url, keepState: true, audit: { body_cap_bytes: 4096 }, routeBodyCaps: { transactions: 0, 'fraud-model': 64 } });
  try {
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const sam = await rig.idp.token({ sub: 'sam', groups: ['support-agents'] });
    const sent = {
      list: await fetch(`${rig.gw.url}/v1/transactions?limit=20`, { headers: { authorization: `Bearer ${alice}` } }),
      score: await fetch(`${rig.gw.url}/v1/score`, {
        method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({ transaction: { amount: 4200, merchant: 'm-17', note: 'x'.repeat(300) } }),
      }),
      chat: await fetch(`${rig.gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'demo-llm', stream: true, messages: [{ role: 'user', content: 'Which card is on file?' }] }),
      }),
    };
    const got: Record<string, Buffer> = {};
    for (const [k, res] of Object.entries(sent)) {
      assert.is(res.status, 200, k);
      got[k] = Buffer.from(await res.arrayBuffer());
    }
    await rig.stop();
    const tail = await runCli(['audit', 'tail', '--dir', join(rig.stateDir, 'audit')]);
    assert.is(tail.code, 0, tail.stderr);
    const all = tail.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: Event }).event);
    const outcome = (k: keyof typeof sent) => all.find((e) => e.type === 'request.outcome' && e.request_id === sent[k].headers.get('x-request-id'))!;
    const decision = (k: keyof typeof sent) => all.find((e) => e.type === 'request.decision' && e.request_id === sent[k].headers.get('x-request-id'))!;
    for (const [k, cap] of [['list', 0], ['score', 64], ['chat', 4096]] as const) {
      const body = outcome(k).response_body;
      assert.is(body.bytes, got[k]!.length, `${k}: the whole length`);
      assert.is(body.sha256, sha256(got[k]!), `${k}: the hash of what the client got`);
      assert.is(Buffer.byteLength(body.text), Math.min(cap, got[k]!.length), `${k}: kept up to ${cap} bytes`);
      assert.is(body.truncated, got[k]!.length > cap);
    }
    assert.is(Buffer.byteLength(decision('score').request_body.text), 64, 'the request body is capped by the route too');
    assert.ok(Buffer.byteLength(decision('chat').request_body.text) > 64, 'another route keeps audit.body_cap_bytes');
  } finally {
    await service.close();
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test.run();
