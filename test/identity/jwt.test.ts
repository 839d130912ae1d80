import { createPublicKey } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SignJWT } from 'jose';
import { AuthError, createAuthenticator, IdentityConfigError } from '../../src/identity/index.js';
import type { Authenticator, IdentityOptions } from '../../src/identity/index.js';
import { AUDIENCE, b64, ISSUER, newKey, sign, startIdp } from './idp.js';
import type { IdpDouble, SigningKey } from './idp.js';

const ctx = { idp: undefined as unknown as IdpDouble, key: undefined as unknown as SigningKey, auth: undefined as unknown as Authenticator };
const t = suite('jwt verification', ctx);
const now = () => Math.floor(Date.now() / 1000);

function opts(extra: Partial<IdentityOptions> = {}): IdentityOptions {
  return { issuer: ISSUER, audience: AUDIENCE, jwksUrl: ctx.idp.url, ...extra };
}

t.before(async () => {
  ctx.key = await newKey();
  ctx.idp = await startIdp([ctx.key]);
});
t.before.each(() => { ctx.auth = createAuthenticator(opts()); });
t.after.each(() => ctx.auth.close());
t.after(() => ctx.idp.close());

/** Asserts `authenticate` rejects with the AuthError `code` and returns it. */
async function rejects(token: string, code: string, auth = ctx.auth): Promise<AuthError> {
  try {
    const id = await auth.authenticate({ authorization: `Bearer ${token}` });
    assert.unreachable(`expected ${code}, got identity ${id.sub}`);
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    assert.is(err.code, code, err.message);
    assert.not.ok(err.message.includes(token), 'message must not contain the token');
    assert.not.ok(err.wwwAuthenticate.includes(token), 'header must not contain the token');
    return err;
  }
  throw new Error('unreachable');
}

t('a valid token yields sub, iss, groups and claims', async () => {
  const id = await ctx.auth.authenticate({ authorization: `Bearer ${await sign(ctx.key, { email: 'a@example.com' })}` });
  assert.is(id.sub, 'alice');
  assert.is(id.iss, ISSUER);
  assert.equal(id.groups, ['fraud-analysts']);
  assert.is(id.claims.email, 'a@example.com');
});

t('the Bearer scheme is case-insensitive', async () => {
  const id = await ctx.auth.authenticate({ authorization: `bearer ${await sign(ctx.key)}` });
  assert.is(id.sub, 'alice');
});

t('an expired token: 401 ERR_TOKEN_EXPIRED with an RFC 6750 header', async () => {
  const err = await rejects(await sign(ctx.key, { iat: now() - 600, exp: now() - 120 }), 'ERR_TOKEN_EXPIRED');
  assert.is(err.status, 401);
  assert.match(err.wwwAuthenticate, /^Bearer realm="regate", error="invalid_token", error_description="[^"\\]*expired[^"\\]*"$/);
});

t('expiry within the clock tolerance is accepted', async () => {
  const id = await ctx.auth.authenticate({ authorization: `Bearer ${await sign(ctx.key, { exp: now() - 5 })}` });
  assert.is(id.sub, 'alice');
});

t('a token not yet valid: ERR_TOKEN_NOT_YET_VALID', async () => {
  await rejects(await sign(ctx.key, { nbf: now() + 600 }), 'ERR_TOKEN_NOT_YET_VALID');
});

t('a token issued in the future beyond the clock tolerance: ERR_TOKEN_NOT_YET_VALID naming "iat"', async () => {
  const err = await rejects(await sign(ctx.key, { iat: now() + 600, exp: now() + 900 }), 'ERR_TOKEN_NOT_YET_VALID');
  assert.match(err.message, /"iat" claim is \d+ s ahead, beyond 30 s of clock tolerance/);
});

t('an "iat" in the future within the clock tolerance is accepted', async () => {
  const id = await ctx.auth.authenticate({ authorization: `Bearer ${await sign(ctx.key, { iat: now() + 20 })}` });
  assert.is(id.sub, 'alice');
});

t('a wrong issuer: ERR_TOKEN_ISSUER naming both issuers', async () => {
  const err = await rejects(await sign(ctx.key, { iss: 'https://evil.example' }), 'ERR_TOKEN_ISSUER');
  assert.match(err.message, /evil\.example/);
  assert.match(err.message, /idp\.test\.example/);
});

t('a wrong audience: ERR_TOKEN_AUDIENCE; any configured audience is accepted', async () => {
  await rejects(await sign(ctx.key, { aud: 'someone-else' }), 'ERR_TOKEN_AUDIENCE');
  const multi = createAuthenticator(opts({ audience: ['other', 'someone-else'] }));
  assert.is((await multi.authenticate({ authorization: `Bearer ${await sign(ctx.key, { aud: ['x', 'someone-else'] })}` })).sub, 'alice');
  multi.close();
});

t('alg "none" is refused: ERR_TOKEN_ALG', async () => {
  const token = `${b64({ alg: 'none', kid: ctx.key.kid })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', exp: now() + 300 })}.`;
  await rejects(token, 'ERR_TOKEN_ALG');
});

t('HS256 signed with the public key as the secret is refused: ERR_TOKEN_ALG', async () => {
  const pem = createPublicKey({ key: ctx.key.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(ctx.key.publicJwk))]) {
    const token = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', exp: now() + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: ctx.key.kid })
      .sign(secret);
    await rejects(token, 'ERR_TOKEN_ALG');
  }
});

t('an algorithm outside the configured list is refused', async () => {
  const auth = createAuthenticator(opts({ algorithms: ['RS256'] }));
  await rejects(await sign(ctx.key), 'ERR_TOKEN_ALG', auth);
  auth.close();
});

t('a tampered payload fails the signature: ERR_TOKEN_SIGNATURE', async () => {
  const [h, , s] = (await sign(ctx.key)).split('.');
  const forged = `${h}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'root', exp: now() + 300, groups: ['admins'] })}.${s}`;
  await rejects(forged, 'ERR_TOKEN_SIGNATURE');
});

t('a token signed by a key the provider does not publish: ERR_TOKEN_KID', async () => {
  const stranger = await newKey();
  await rejects(await sign(stranger), 'ERR_TOKEN_KID');
});

t('a token without exp or sub: ERR_TOKEN_CLAIM naming the claim', async () => {
  const noExp = await rejects(await sign(ctx.key, { exp: undefined }), 'ERR_TOKEN_CLAIM');
  assert.match(noExp.message, /"exp"/);
  const noSub = await rejects(await sign(ctx.key, { sub: undefined }), 'ERR_TOKEN_CLAIM');
  assert.match(noSub.message, /"sub"/);
});

t('groups come from a configurable claim, plain or URL-named, string or array', async () => {
  const claim = 'https://example.com/groups';
  const auth = createAuthenticator(opts({ groupsClaim: claim }));
  const one = await auth.authenticate({ authorization: `Bearer ${await sign(ctx.key, { [claim]: 'pci-approvers', groups: ['ignored'] })}` });
  assert.equal(one.groups, ['pci-approvers']);
  const many = await auth.authenticate({ authorization: `Bearer ${await sign(ctx.key, { [claim]: ['a', 'b'] })}` });
  assert.equal(many.groups, ['a', 'b']);
  const none = await auth.authenticate({ authorization: `Bearer ${await sign(ctx.key, { groups: undefined })}` });
  assert.equal(none.groups, []);
  await rejects(await sign(ctx.key, { [claim]: [1, 2] }), 'ERR_TOKEN_CLAIM', auth);
  auth.close();
});

t('no credentials: ERR_TOKEN_MISSING, header without an error attribute', async () => {
  for (const headers of [{}, { authorization: '' }, { authorization: 'Bearer   ' }, { authorization: 'Basic YWxpY2U6c2VjcmV0' }]) {
    try {
      await ctx.auth.authenticate(headers);
      assert.unreachable('expected ERR_TOKEN_MISSING');
    } catch (err) {
      assert.instance(err, AuthError);
      assert.is((err as AuthError).code, 'ERR_TOKEN_MISSING');
      assert.is((err as AuthError).wwwAuthenticate, 'Bearer realm="regate"');
      assert.is((err as AuthError).status, 401);
    }
  }
});

t('configuration errors are IdentityConfigError naming the option', () => {
  const cases: [Partial<IdentityOptions>, RegExp][] = [
    [{ algorithms: ['none'] }, /algorithms may not include "none"/],
    [{ algorithms: ['HS256'] }, /algorithms may not include "HS256"/],
    [{ jwksFile: '/nonexistent/jwks.json' }, /exactly one of/],
    [{ jwksUrl: 'ftp://x/jwks' }, /jwksUrl must be http/],
    [{ audience: [] }, /audience/],
    [{ issuer: '' }, /issuer/],
    [{ cacheSize: -1 }, /cacheSize/],
    [{ apiKeys: [{ sha256: 'abc', sub: 'ci', groups: [] }] }, /apiKeys\[0\]\.sha256/],
    [{ jwksUrl: undefined, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'h' }] } }, /private or symmetric/],
  ];
  for (const [extra, message] of cases) {
    try {
      createAuthenticator(opts(extra));
      assert.unreachable(`expected a config error for ${JSON.stringify(extra)}`);
    } catch (err) {
      assert.instance(err, IdentityConfigError);
      assert.match((err as Error).message, message);
    }
  }
});

t.run();
