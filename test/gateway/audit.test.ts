import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { startRig, UPSTREAM_SECRET } from './harness.js';

/** Fields that hold hashes, random ids or revisions, not content a client or upstream sent. */
const NOT_CONTENT = new Set(['sha256', 'request_id', 'root', 'hold_id', 'grant_id', 'policy_revision', 'revision', 'approval']);

function contentStrings(value: unknown, key = ''): string[] {
  if (NOT_CONTENT.has(key)) return [];
  // The recorded policy input is JSON text: its strings are content, its numbers (times) are not.
  if (key === 'policy_input' && typeof value === 'string') return contentStrings(JSON.parse(value));
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap((v) => contentStrings(v));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [k, ...contentStrings(v, k)]);
  return [];
}

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
    assert.is(failed.status, 401, 'the refusal\'s one record says what the client was answered');
    for (const secret of [mo, sam, 'garbage.token.here', UPSTREAM_SECRET, '4539148803436467', '4539 1488 0343 6467']) {
      assert.not.ok(tail.stdout.includes(secret), `the audit log holds ${secret.slice(0, 12)}…`);
    }
    // A CVV is short enough to occur by chance in hashes and ids, so it is looked for where content
    // is kept: every string of every event except hashes and identifiers (bodies, reasons, paths…).
    const content = events.flatMap((e) => contentStrings(e));
    assert.ok(content.some((s) => s.includes('cvv: ****')), 'the chat body is among the strings checked');
    assert.not.ok(content.some((s) => s.includes('321')), 'the CVV is stored nowhere');
  } finally {
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test.run();
