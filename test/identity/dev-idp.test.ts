import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createAuthenticator, ensureDevIdentity, jwksRequestHandler } from '../../src/identity/index.js';

const ctx = { dir: '' };
const t = suite('dev identity provider', ctx);
t.before.each(() => { ctx.dir = mkdtempSync(join(tmpdir(), 'regate-devidp-')); });
t.after.each(() => rmSync(ctx.dir, { recursive: true, force: true }));

t('first run generates a key (mode 0600); later runs reuse it', async () => {
  const first = await ensureDevIdentity(ctx.dir);
  assert.is(statSync(first.keyFile).mode & 0o777, 0o600);
  const again = await ensureDevIdentity(ctx.dir);
  assert.equal(again.jwks, first.jwks);
  assert.is(first.jwks.keys.length, 1);
  assert.not.ok('d' in first.jwks.keys[0]!, 'the JWKS holds no private part');
});

t('concurrent first runs agree on one key', async () => {
  const all = await Promise.all([1, 2, 3, 4].map(() => ensureDevIdentity(ctx.dir)));
  const kids = new Set(all.map((d) => d.jwks.keys[0]!.kid));
  assert.is(kids.size, 1);
});

t('signed tokens verify against the served JWKS over HTTP', async () => {
  const dev = await ensureDevIdentity(ctx.dir);
  const handler = jwksRequestHandler(dev.jwks);
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    const auth = createAuthenticator({ issuer: dev.issuer, audience: dev.audience, jwksUrl: url });
    const id = await auth.authenticate({ authorization: `Bearer ${await dev.sign({ sub: 'alice', groups: ['fraud-analysts', 'pci-approvers'], ttlSeconds: 60 })}` });
    assert.is(id.sub, 'alice');
    assert.equal(id.groups, ['fraud-analysts', 'pci-approvers']);
    assert.is(id.iss, dev.issuer);
    assert.ok((id.claims.exp as number) - (id.claims.iat as number) === 60);
    auth.close();
    const res = await fetch(url, { method: 'POST' });
    assert.is(res.status, 405);
    await res.body?.cancel();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

t('sign refuses a non-positive ttl', async () => {
  const dev = await ensureDevIdentity(ctx.dir);
  try {
    await dev.sign({ sub: 'a', groups: [], ttlSeconds: 0 });
    assert.unreachable('expected a refusal');
  } catch (err) {
    assert.match((err as Error).message, /ttlSeconds/);
  }
});

t.run();
