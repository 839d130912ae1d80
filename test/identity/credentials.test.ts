import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { API_KEY_ISSUER, AuthError, createAuthenticator, hashApiKey } from '../../src/identity/index.js';
import type { Authenticator, CredentialHeaders, IdentityOptions } from '../../src/identity/index.js';
import { AUDIENCE, ISSUER, newKey, sign, startIdp } from './idp.js';
import type { IdpDouble, SigningKey } from './idp.js';

const ciKey = randomBytes(24).toString('base64url');
const batchKey = `rgk.${randomBytes(16).toString('hex')}`;
const ctx = { idp: undefined as unknown as IdpDouble, key: undefined as unknown as SigningKey, open: [] as Authenticator[] };
const t = suite('API keys and the token cache', ctx);

t.before(async () => {
  ctx.key = await newKey();
  ctx.idp = await startIdp([ctx.key]);
});
t.after.each(() => { for (const a of ctx.open.splice(0)) a.close(); });
t.after(() => ctx.idp.close());

function auth(extra: Partial<IdentityOptions> = {}, now?: () => number): Authenticator {
  const a = createAuthenticator({
    issuer: ISSUER, audience: AUDIENCE, jwksUrl: ctx.idp.url,
    apiKeys: [
      { sha256: hashApiKey(ciKey), sub: 'ci-pipeline', groups: ['ci'] },
      { sha256: hashApiKey(batchKey).toUpperCase(), sub: 'batch', groups: ['batch', 'fraud-analysts'] },
    ],
    ...extra,
  }, now ? { now } : {});
  ctx.open.push(a);
  return a;
}

async function code(a: Authenticator, headers: CredentialHeaders): Promise<string> {
  try {
    await a.authenticate(headers);
    return 'OK';
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    return err.code;
  }
}

t('an API key authenticates as Bearer or x-api-key, mapped to its subject and groups', async () => {
  const a = auth();
  for (const headers of [{ authorization: `Bearer ${ciKey}` }, { 'x-api-key': ciKey }]) {
    const id = await a.authenticate(headers);
    assert.equal(id, { sub: 'ci-pipeline', iss: API_KEY_ISSUER, groups: ['ci'], claims: { sub: 'ci-pipeline', auth: 'api_key' } });
  }
  const batch = await a.authenticate({ 'x-api-key': batchKey });
  assert.is(batch.sub, 'batch', 'upper-case hex in config matches too');
  assert.is(a.stats().verifications, 0, 'no JWT verification for API keys');
  assert.is(ctx.idp.fetches, 0);
});

t('a wrong API key: ERR_API_KEY_INVALID or ERR_TOKEN_MALFORMED, never the key in the message', async () => {
  const a = auth();
  const wrong = ciKey.slice(0, -1) + (ciKey.endsWith('A') ? 'B' : 'A');
  assert.is(await code(a, { 'x-api-key': wrong }), 'ERR_API_KEY_INVALID');
  assert.is(await code(a, { 'x-api-key': [ciKey, ciKey] }), 'ERR_API_KEY_INVALID');
  try {
    await a.authenticate({ authorization: `Bearer ${wrong}` });
    assert.unreachable('a wrong bearer key must fail');
  } catch (err) {
    assert.is((err as AuthError).code, 'ERR_TOKEN_MALFORMED');
    assert.match((err as AuthError).message, /nor a configured API key/);
    assert.not.ok((err as AuthError).message.includes(wrong));
  }
});

t('Authorization wins over x-api-key', async () => {
  const a = auth();
  const id = await a.authenticate({ authorization: `Bearer ${await sign(ctx.key)}`, 'x-api-key': ciKey });
  assert.is(id.sub, 'alice');
  assert.is(await code(a, { authorization: 'Bearer not-a-key', 'x-api-key': ciKey }), 'ERR_TOKEN_MALFORMED');
});

t('a cached token is verified once, however often it is presented', async () => {
  const a = auth();
  const token = await sign(ctx.key);
  for (let i = 0; i < 20; i++) assert.is((await a.authenticate({ authorization: `Bearer ${token}` })).sub, 'alice');
  assert.equal(a.stats(), { verifications: 1, cacheHits: 19, jwksLoads: 1, jwksLoadFailures: 0 });
});

t('cacheSize 0 verifies every time', async () => {
  const a = auth({ cacheSize: 0 });
  const token = await sign(ctx.key);
  for (let i = 0; i < 5; i++) await a.authenticate({ authorization: `Bearer ${token}` });
  assert.is(a.stats().verifications, 5);
  assert.is(a.stats().cacheHits, 0);
});

t('a cached token stops working at its expiry', async () => {
  const clock = { ms: Date.now() };
  const a = auth({ clockToleranceSeconds: 0 }, () => clock.ms);
  const exp = Math.floor(clock.ms / 1000) + 60;
  const token = await sign(ctx.key, { exp });
  await a.authenticate({ authorization: `Bearer ${token}` });
  await a.authenticate({ authorization: `Bearer ${token}` });
  assert.is(a.stats().cacheHits, 1);
  clock.ms = exp * 1000 + 1;
  assert.is(await code(a, { authorization: `Bearer ${token}` }), 'ERR_TOKEN_EXPIRED');
  assert.is(a.stats().verifications, 2, 'the expired entry was not served from the cache');
});

t('the cache is bounded: the least recently used token is evicted', async () => {
  const a = auth({ cacheSize: 2 });
  const [t1, t2, t3] = await Promise.all(['u1', 'u2', 'u3'].map((sub) => sign(ctx.key, { sub })));
  for (const tok of [t1, t2, t1, t3]) await a.authenticate({ authorization: `Bearer ${tok}` });
  assert.is(a.stats().verifications, 3);
  await a.authenticate({ authorization: `Bearer ${t1}` });
  assert.is(a.stats().verifications, 3, 't1 was recently used and stayed');
  await a.authenticate({ authorization: `Bearer ${t2}` });
  assert.is(a.stats().verifications, 4, 't2 had been evicted');
});

t('a failed token is not cached', async () => {
  const a = auth();
  const bad = await sign(ctx.key, { aud: 'elsewhere' });
  assert.is(await code(a, { authorization: `Bearer ${bad}` }), 'ERR_TOKEN_AUDIENCE');
  assert.is(await code(a, { authorization: `Bearer ${bad}` }), 'ERR_TOKEN_AUDIENCE');
  assert.is(a.stats().verifications, 2);
  assert.is(a.stats().cacheHits, 0);
});

t.run();
