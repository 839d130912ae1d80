import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { AuthError, createAuthenticator } from '../../src/identity/index.js';
import type { Authenticator } from '../../src/identity/index.js';
import { AUDIENCE, b64, ISSUER, newKey, sign, startIdp } from './idp.js';
import type { IdpDouble } from './idp.js';

const ctx = { idp: undefined as unknown as IdpDouble, auth: undefined as unknown as Authenticator, token: '' };
const t = suite('garbage never authenticates', ctx);

t.before(async () => {
  const key = await newKey();
  ctx.idp = await startIdp([key]);
  ctx.auth = createAuthenticator({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: ctx.idp.url, apiKeys: [{ sha256: 'ab'.repeat(32), sub: 'ci', groups: [] }] });
  ctx.token = await sign(key);
  assert.is((await ctx.auth.authenticate({ authorization: `Bearer ${ctx.token}` })).sub, 'alice', 'the unmangled token is good');
});
t.after(async () => {
  ctx.auth.close();
  await ctx.idp.close();
});

/** Authenticating `headers` must reject with an AuthError whose message and header omit `secret`. */
async function refused(headers: { authorization?: string; 'x-api-key'?: string }, secret: string): Promise<boolean> {
  try {
    await ctx.auth.authenticate(headers);
    return false;
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    if (secret.length >= 12 && (err.message.includes(secret) || err.wwwAuthenticate.includes(secret))) return false;
    return /^Bearer realm="regate"/.test(err.wwwAuthenticate) && !/[\r\n]/.test(err.wwwAuthenticate);
  }
}

const mangle: fc.Arbitrary<Mangle> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), ch: fc.constantFrom(...'AaZz09-_.=+/ \n"') }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('segment' as const), part: fc.integer({ min: 0, max: 2 }), value: fc.oneof(fc.json().map(b64), fc.string({ maxLength: 40 })) }),
  fc.record({ kind: fc.constant('swap' as const) }),
);

type Mangle = { kind: 'flip'; at: number; ch: string } | { kind: 'drop'; at: number; n: number } | { kind: 'insert'; at: number; text: string } | { kind: 'segment'; part: number; value: string } | { kind: 'swap' };

function apply(token: string, m: Mangle): string {
  switch (m.kind) {
    case 'flip': { const i = m.at % token.length; return token.slice(0, i) + (token[i] === m.ch ? (m.ch === 'A' ? 'B' : 'A') : m.ch) + token.slice(i + 1); }
    case 'drop': { const i = m.at % token.length; return token.slice(0, i) + token.slice(i + m.n); }
    case 'insert': { const i = m.at % (token.length + 1); return token.slice(0, i) + (m.text || '~') + token.slice(i); }
    case 'segment': { const parts = token.split('.'); parts[m.part] = m.value; return parts.join('.'); }
    case 'swap': { const [h, p, s] = token.split('.'); return [p, h, s].join('.'); }
  }
}

t('random strings as bearer token or API key are refused with an AuthError', async () => {
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), fc.boolean(), async (s, asBearer) => {
    const headers = asBearer ? { authorization: `Bearer ${s}` } : { 'x-api-key': s };
    return refused(headers, s);
  }), { numRuns: 300 });
});

t('random JWT-shaped strings are refused', async () => {
  const seg = fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/);
  await fc.assert(fc.asyncProperty(seg, seg, seg, async (a, b, c) => refused({ authorization: `Bearer ${a}.${b}.${c}` }, `${a}.${b}.${c}`)), { numRuns: 300 });
});

t('mangled real tokens never authenticate', async () => {
  await fc.assert(fc.asyncProperty(fc.array(mangle, { minLength: 1, maxLength: 3 }), async (ms) => {
    const mangled = ms.reduce((tok, m) => apply(tok, m), ctx.token);
    if (mangled === ctx.token) return true;
    // Dropping trailing base64url padding bits can leave an equivalent signature; only a changed
    // decoding may authenticate, and then it must be the same verified claims.
    try {
      const id = await ctx.auth.authenticate({ authorization: `Bearer ${mangled}` });
      return id.sub === 'alice' && sameDecoding(mangled, ctx.token);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      return !err.message.includes(mangled);
    }
  }), { numRuns: 400 });
});

function sameDecoding(a: string, b: string): boolean {
  const dec = (tok: string) => tok.split('.').map((p) => Buffer.from(p, 'base64url').toString('hex')).join('.');
  return dec(a) === dec(b);
}

t.run();
