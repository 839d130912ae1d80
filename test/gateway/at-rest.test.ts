/**
 * No card number at rest: a client sends card numbers everywhere a request can carry them (the
 * path, the query, headers, a JSON body, a form, a bad token) to routes that allow, mask, deny and
 * hold; one held request is approved and replayed. Then every file the gateway wrote under its
 * state folder (the audit log, the holds store, keys, bundles) and every log line it printed is
 * read back as bytes: none holds a card number, in any grouping the reference detector finds, nor a
 * token's signature or an API key, though the client also put those in its queries and headers.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { refFind } from '../mask/reference.js';
import { startRig, UPSTREAM_SECRET } from './harness.js';

const run = promisify(execFile);
const PAN = '4111111111111111';
const AMEX = '378282246310005';

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** The card numbers the reference detector finds in a file's bytes read as Latin-1 (binary pages included). */
function pansIn(bytes: Buffer): string[] {
  const text = bytes.toString('latin1');
  return refFind(text).map((p) => p.positions.map((i) => text[i]).join(''));
}

test('after requests carrying card numbers in every part, to every kind of route, no file under the state folder and no log line holds one, nor a token or the upstream credential', async () => {
  const rig = await startRig({ keepState: true, holdWaitSeconds: 1 });
  const secrets: string[] = [UPSTREAM_SECRET];
  try {
    const alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const sam = await rig.idp.token({ sub: 'sam', groups: ['support-agents'] });
    const eve = await rig.idp.token({ sub: 'eve', groups: ['marketing'] });
    const victor = await rig.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
    // A token's signature is what makes it a credential: none may be kept (its claims are, as the audit records who asked).
    secrets.push(...[alice, sam, eve, victor].map((t) => t.split('.')[2]!));
    const curl = async (...args: string[]) => (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args])).stdout;
    const g = rig.gw.url;
    // Held (bulk extraction), with a card number in the query and a header; not approved in time.
    const heldTarget = `${g}/v1/transactions?limit=5000&card=${PAN}`;
    const held = await run('curl', ['-s', '-H', `authorization: Bearer ${alice}`, '-H', `x-note: card ${AMEX}`, heldTarget]);
    const holdId = (JSON.parse(held.stdout) as { hold_id: string }).hold_id;
    assert.match(holdId, /^hold_/);
    // Approved later, then replayed: the same request goes through once.
    const approve = await fetch(`${rig.gw.adminUrl}/api/holds/${holdId}/approve`, { method: 'POST', headers: { authorization: `Bearer ${victor}`, 'content-type': 'application/json' }, body: '{}' });
    assert.is(approve.status, 200);
    assert.is(await curl('-H', `authorization: Bearer ${alice}`, '-H', `x-note: card ${AMEX}`, heldTarget), '200');
    const codes = [
      await curl('-X', 'POST', '-H', `authorization: Bearer ${alice}`, '-H', 'content-type: application/json', '-H', `x-card: ${PAN}`, '--data', `{"transaction":{"pan":"${PAN}","note":"4111 1111 1111 1111","n":${PAN}}}`, `${g}/v1/score?ref=${PAN}`),
      await curl('-X', 'POST', '-H', `authorization: Bearer ${sam}`, '-H', 'content-type: application/json', '--data', `{"messages":[{"role":"user","content":"my card is ${AMEX}"}]}`, `${g}/v1/chat/completions`),
      await curl('-X', 'POST', '-H', `authorization: Bearer ${alice}`, '-H', 'content-type: application/x-www-form-urlencoded', '--data', 'card=4111+1111+1111+1111', `${g}/v1/score`),
      await curl('-X', 'POST', '-H', `authorization: Bearer ${eve}`, '-H', 'content-type: application/json', '--data', `{"pan":"${PAN}"}`, `${g}/v1/score?ref=${PAN}`),
      await curl('-H', `authorization: Bearer ${alice}`, `${g}/nowhere/${PAN}`),
      await curl('-H', `authorization: Bearer not-a-token-${PAN}`, `${g}/v1/score`),
    ];
    // A client that also puts credentials where they do not belong: the query, a header of its own.
    const API_KEY = 'sk-live-0a1b2c3d4e5f';
    secrets.push(API_KEY);
    codes.push(await curl('-X', 'POST', '-H', `authorization: Bearer ${alice}`, '-H', 'content-type: application/json', '-H', `x-auth-token: ${sam}`, '-H', `x-trace: ${eve}`,
      '--data', '{}', `${g}/v1/score?access_token=${alice}&api_key=${API_KEY}&next=${victor}`));
    codes.push(await curl('-H', `authorization: Bearer ${alice}`, `${g}/v1/transactions?limit=5000&token=${sam}`));
    assert.equal(codes, ['200', '200', '200', '403', '404', '401', '200', '403']);
  } finally {
    await rig.stop();
  }
  try {
    const written = files(rig.stateDir);
    assert.ok(written.some((f) => f.includes('hold')) && written.some((f) => f.includes('audit')), written.join(', '));
    for (const file of written) {
      const bytes = readFileSync(file);
      assert.equal(pansIn(bytes), [], file);
      for (const secret of secrets) assert.not.ok(bytes.includes(secret), `${file} holds a credential`);
    }
    assert.ok(rig.logs.lines().length > 0);
    assert.equal(pansIn(Buffer.from(rig.logs.text)), [], 'the gateway\'s log lines');
    for (const secret of secrets) assert.not.ok(rig.logs.text.includes(secret), 'a log line holds a credential');
  } finally {
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test.run();
