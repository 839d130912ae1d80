import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuthError, createAuthenticator } from '../../src/identity/index.js';
import type { Authenticator, IdentityOptions } from '../../src/identity/index.js';
import { AUDIENCE, ISSUER, newKey, sign, startIdp } from './idp.js';
import type { IdpDouble, SigningKey } from './idp.js';

/** A clock the test moves by hand, so cooldowns and ages are exercised without waiting. */
function manualClock() {
  const clock = { ms: Date.now(), now: () => clock.ms, advance: (s: number) => { clock.ms += s * 1000; } };
  return clock;
}

const ctx = { idp: undefined as unknown as IdpDouble, a: undefined as unknown as SigningKey, b: undefined as unknown as SigningKey, open: [] as Authenticator[] };
const t = suite('JWKS loading', ctx);

t.before(async () => {
  ctx.a = await newKey();
  ctx.b = await newKey('EdDSA');
});
t.before.each(async () => {
  ctx.idp = await startIdp([ctx.a]);
});
t.after.each(async () => {
  for (const auth of ctx.open.splice(0)) auth.close();
  await ctx.idp.close();
});

function auth(clock: { now: () => number }, extra: Partial<IdentityOptions> = {}): Authenticator {
  const a = createAuthenticator({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: ctx.idp.url, jwksCooldownSeconds: 30, cacheSize: 0, fetchTimeoutMs: 2000, ...extra }, { now: clock.now });
  ctx.open.push(a);
  return a;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    return err.code;
  }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

t('keys are fetched once and reused', async () => {
  const a = auth(manualClock());
  const token = await sign(ctx.a);
  for (let i = 0; i < 5; i++) assert.is((await a.authenticate(bearer(token))).sub, 'alice');
  assert.is(ctx.idp.fetches, 1);
});

t('an unknown kid triggers one refresh, then fails; the cooldown holds further refreshes', async () => {
  const clock = manualClock();
  const a = auth(clock);
  await a.authenticate(bearer(await sign(ctx.a)));
  assert.is(ctx.idp.fetches, 1);
  const stranger = await newKey();
  clock.advance(31);
  assert.is(await code(a.authenticate(bearer(await sign(stranger)))), 'ERR_TOKEN_KID');
  assert.is(ctx.idp.fetches, 2, 'one refresh for the unknown kid');
  for (let i = 0; i < 10; i++) assert.is(await code(a.authenticate(bearer(await sign(stranger, { sub: `m${i}` })))), 'ERR_TOKEN_KID');
  assert.is(ctx.idp.fetches, 2, 'no refresh within the cooldown');
  clock.advance(31);
  assert.is(await code(a.authenticate(bearer(await sign(stranger)))), 'ERR_TOKEN_KID');
  assert.is(ctx.idp.fetches, 3, 'a refresh again once the cooldown passed');
});

t('concurrent unknown kids share one refresh', async () => {
  const clock = manualClock();
  const a = auth(clock);
  await a.authenticate(bearer(await sign(ctx.a)));
  clock.advance(31);
  const stranger = await newKey();
  const codes = await Promise.all(Array.from({ length: 8 }, async (_, i) => code(a.authenticate(bearer(await sign(stranger, { sub: `m${i}` }))))));
  assert.equal(new Set(codes), new Set(['ERR_TOKEN_KID']));
  assert.is(ctx.idp.fetches, 2);
});

t('a rotated key set is picked up on the new kid', async () => {
  const clock = manualClock();
  const a = auth(clock);
  await a.authenticate(bearer(await sign(ctx.a)));
  ctx.idp.keys = [ctx.b];
  clock.advance(31);
  assert.is((await a.authenticate(bearer(await sign(ctx.b, { sub: 'bob' })))).sub, 'bob');
  assert.is(ctx.idp.fetches, 2);
  clock.advance(31);
  assert.is(await code(a.authenticate(bearer(await sign(ctx.a)))), 'ERR_TOKEN_KID', 'the retired key no longer verifies');
});

t('JWKS down with no cached keys: 503 ERR_JWKS_UNAVAILABLE; it recovers when the provider does', async () => {
  const clock = manualClock();
  const a = auth(clock);
  ctx.idp.mode = 'down';
  const token = await sign(ctx.a);
  try {
    await a.authenticate(bearer(token));
    assert.unreachable('expected ERR_JWKS_UNAVAILABLE');
  } catch (err) {
    assert.instance(err, AuthError);
    assert.is((err as AuthError).code, 'ERR_JWKS_UNAVAILABLE');
    assert.is((err as AuthError).status, 503);
    assert.match((err as AuthError).message, /127\.0\.0\.1/);
  }
  ctx.idp.mode = 'up';
  assert.is((await a.authenticate(bearer(token))).sub, 'alice', 'no keys held: the next request retries at once');
});

t('JWKS down with cached keys: known keys keep working, past the maximum age too', async () => {
  const clock = manualClock();
  const a = auth(clock, { jwksMaxAgeSeconds: 60 });
  await a.authenticate(bearer(await sign(ctx.a)));
  ctx.idp.mode = 'down';
  clock.advance(120);
  assert.is((await a.authenticate(bearer(await sign(ctx.a, { sub: 'carol' })))).sub, 'carol');
  assert.is(ctx.idp.fetches, 2, 'the stale set was refreshed (and the failure tolerated)');
  assert.equal([a.stats().jwksLoads, a.stats().jwksLoadFailures], [2, 1], 'the failed load is counted (regate_jwks_loads_total{result="failed"})');
  assert.is(await code(a.authenticate(bearer(await sign(await newKey())))), 'ERR_TOKEN_KID');
});

t('a token without kid verifies only when exactly one key fits its algorithm', async () => {
  const a = auth(manualClock());
  assert.is((await a.authenticate(bearer(await sign(ctx.a, {}, { kid: undefined })))).sub, 'alice');
  const second = await newKey();
  ctx.idp.keys = [ctx.a, second];
  const b = auth(manualClock());
  assert.is(await code(b.authenticate(bearer(await sign(ctx.a, {}, { kid: undefined })))), 'ERR_TOKEN_KID');
  assert.is((await b.authenticate(bearer(await sign(second)))).sub, 'alice', 'with a kid, the right key is chosen');
});

t('a key set older than the maximum age is reloaded', async () => {
  const clock = manualClock();
  const a = auth(clock, { jwksMaxAgeSeconds: 60 });
  await a.authenticate(bearer(await sign(ctx.a)));
  clock.advance(61);
  await a.authenticate(bearer(await sign(ctx.a)));
  assert.is(ctx.idp.fetches, 2);
});

t('a provider answering garbage or an oversized set is unavailable, not a bad token', async () => {
  const a = auth(manualClock());
  ctx.idp.mode = 'garbage';
  assert.is(await code(a.authenticate(bearer(await sign(ctx.a)))), 'ERR_JWKS_UNAVAILABLE');
  ctx.idp.mode = 'huge';
  assert.is(await code(a.authenticate(bearer(await sign(ctx.a)))), 'ERR_JWKS_UNAVAILABLE', 'a key set over 1 MiB is refused');
  ctx.idp.mode = 'up';
  assert.is(await code(a.authenticate(bearer(await sign(ctx.a)))), 'OK');
});

t('a JWKS file is read at start and re-read on an unknown kid', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-jwks-'));
  try {
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [ctx.a.publicJwk] }));
    const clock = manualClock();
    const a = auth(clock, { jwksUrl: undefined, jwksFile: file });
    assert.is((await a.authenticate(bearer(await sign(ctx.a)))).sub, 'alice');
    writeFileSync(file, JSON.stringify({ keys: [ctx.a.publicJwk, ctx.b.publicJwk] }));
    clock.advance(31);
    assert.is((await a.authenticate(bearer(await sign(ctx.b, { sub: 'bob' })))).sub, 'bob');
    assert.is(ctx.idp.fetches, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
