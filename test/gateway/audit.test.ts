import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { startRig, UPSTREAM_SECRET } from './harness.js';

test('every exchange is audited (decision before forwarding, outcome after), failed logins too, no secrets stored', async () => {
  const rig = await startRig({ keepState: true });
  try {
    const mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const sam = await rig.idp.token({ sub: 'sam', groups: ['support-agents'] });
    const ok = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body: '{"model":"m"}' });
    assert.is(ok.status, 200);
    await ok.arrayBuffer();
    const chat = await fetch(`${rig.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'card 4539 1488 0343 6467 cvv: 321' }] }),
    });
    await chat.arrayBuffer();
    const bad = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: 'Bearer garbage.token.here' }, body: '{}' });
    assert.is(bad.status, 401);
    await rig.stop();
    assert.equal(rig.logs.lines().filter((l) => l.level === 'error'), []);

    const tail = await runCli(['audit', 'tail', '--dir', join(rig.stateDir, 'audit')]);
    assert.is(tail.code, 0, tail.stderr);
    const events = tail.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: Record<string, any> }).event);
    const id = ok.headers.get('x-request-id');
    const mine = events.filter((e) => e.request_id === id);
    assert.equal(mine.map((e) => e.type), ['request.decision', 'request.outcome']);
    assert.is(mine[0]!.subject, 'mo');
    assert.is(mine[0]!.decision.effect, 'allow');
    assert.is(mine[1]!.status, 200);
    const chatDecision = events.find((e) => e.request_id === chat.headers.get('x-request-id') && e.type === 'request.decision')!;
    assert.is(chatDecision.decision.effect, 'mask');
    assert.match(chatDecision.request_body.text, /card \*{4} \*{4} \*{4} 6467 cvv: \*{4}/);
    const failed = events.find((e) => e.type === 'auth.failure')!;
    assert.is(failed.request_id, bad.headers.get('x-request-id'));
    assert.is(failed.route, 'models');
    for (const secret of [mo, sam, 'garbage.token.here', UPSTREAM_SECRET, '4539148803436467', '4539 1488 0343 6467', 'cvv: 321']) {
      assert.not.ok(tail.stdout.includes(secret), `the audit log holds ${secret.slice(0, 12)}…`);
    }
  } finally {
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test.run();
