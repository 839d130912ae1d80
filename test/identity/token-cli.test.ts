import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDuration } from '../../src/cli/token.js';
import { createAuthenticator, ensureDevIdentity } from '../../src/identity/index.js';
import { runCli } from '../helpers/cli.js';

const ctx = { dir: '' };
const t = suite('regate token', ctx);
t.before.each(() => { ctx.dir = mkdtempSync(join(tmpdir(), 'regate-token-')); });
t.after.each(() => rmSync(ctx.dir, { recursive: true, force: true }));

t('prints a token that verifies against the dev IdP key set', async () => {
  const r = await runCli(['token', '--sub', 'alice', '--groups', 'fraud-analysts, pci-approvers', '--state', ctx.dir, '--ttl', '2h']);
  assert.is(r.code, 0, r.stderr);
  const token = r.stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const dev = await ensureDevIdentity(ctx.dir);
  const auth = createAuthenticator({ issuer: dev.issuer, audience: dev.audience, jwks: dev.jwks });
  const id = await auth.authenticate({ authorization: `Bearer ${token}` });
  assert.is(id.sub, 'alice');
  assert.equal(id.groups, ['fraud-analysts', 'pci-approvers']);
  assert.is((id.claims.exp as number) - (id.claims.iat as number), 7200);
  auth.close();
});

t('--aud sets the audience', async () => {
  const r = await runCli(['token', '--sub', 'ci', '--state', ctx.dir, '--aud', 'other-gateway']);
  assert.is(r.code, 0, r.stderr);
  const dev = await ensureDevIdentity(ctx.dir);
  const auth = createAuthenticator({ issuer: dev.issuer, audience: 'other-gateway', jwks: dev.jwks });
  assert.equal((await auth.authenticate({ authorization: `Bearer ${r.stdout.trim()}` })).groups, []);
  auth.close();
});

t('a bad --ttl exits 2 with one sentence naming the flag', async () => {
  for (const ttl of ['5x', '0', '-1m', 'ten minutes']) {
    const r = await runCli(['token', '--sub', 'alice', '--state', ctx.dir, `--ttl=${ttl}`]);
    assert.is(r.code, 2, `--ttl ${ttl}`);
    assert.match(r.stderr, /--ttl must be a positive duration/);
    assert.is(r.stdout, '');
  }
});

t('a missing --sub exits 2', async () => {
  const r = await runCli(['token', '--state', ctx.dir]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /sub/);
});

t('parseDuration reads seconds, minutes, hours and days', () => {
  assert.is(parseDuration('90', '--ttl'), 90);
  assert.is(parseDuration('90s', '--ttl'), 90);
  assert.is(parseDuration('10m', '--ttl'), 600);
  assert.is(parseDuration('2h', '--ttl'), 7200);
  assert.is(parseDuration('1d', '--ttl'), 86_400);
});

t.run();
