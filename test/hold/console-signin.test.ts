/**
 * The console's sign-in through the identity provider, against the whole demo (`npm start`): the
 * gateway with its dev IdP's discovery document, authorization and token endpoints on the admin
 * listener. Over HTTP: PKCE, state, replay and CSRF refusals, the cookie's attributes, logout.
 * In Chromium: victor signs in by picking his name at the dev IdP, sees alice's held request and
 * approves it while she waits.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConsoleSignIn } from '../../src/admin/index.js';
import { createAuthenticator, devAuthorizationServer, ensureDevIdentity } from '../../src/identity/index.js';
import { startDemo, type DemoSession } from '../../src/demo/session.js';

let state: string;
let demo: DemoSession;
let admin: string;

test.before(async () => {
  state = await mkdtemp(join(tmpdir(), 'regate-signin-'));
  demo = await startDemo({ port: 0, adminPort: 0, upstreamPort: 0, stateDir: state, log: { write: () => true } as unknown as NodeJS.WritableStream });
  admin = demo.gateway.adminUrl;
});
test.after(async () => {
  await demo.stop();
  await rm(state, { recursive: true, force: true });
});

const get = (url: string, cookie = ''): Promise<Response> => fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
const cookiePair = (res: Response, name: string): string => {
  const line = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  if (!line) throw new Error(`no ${name} cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
  return line;
};
const pair = (setCookie: string): string => setCookie.split(';')[0]!;

/** The console's login redirect: the authorization URL and the login cookie binding its state. */
async function startLogin(): Promise<{ authorize: URL; loginCookie: string }> {
  const res = await get(`${admin}/console/login`);
  assert.is(res.status, 302);
  return { authorize: new URL(res.headers.get('location')!), loginCookie: pair(cookiePair(res, 'regate_console_login')) };
}

/** Picks `who` at the dev IdP; returns the console callback URL carrying the code. */
async function pick(authorize: URL, who: string): Promise<URL> {
  const url = new URL(authorize);
  url.searchParams.set('login', who);
  const res = await get(url.toString());
  assert.is(res.status, 303);
  return new URL(res.headers.get('location')!);
}

async function signIn(who: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const { authorize, loginCookie } = await startLogin();
  const callback = await pick(authorize, who);
  const res = await get(callback.toString(), loginCookie);
  assert.is(res.status, 303, await res.text());
  assert.is(res.headers.get('location'), '/console');
  const setCookie = cookiePair(res, 'regate_console');
  const session = await (await get(`${admin}/console/session`, pair(setCookie))).json() as { csrf_token: string; sub: string };
  assert.is(session.sub, who);
  return { cookie: pair(setCookie), csrf: session.csrf_token, setCookie };
}

const post = (path: string, headers: Record<string, string>): Promise<Response> =>
  fetch(`${admin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

test('the login redirect asks for a code with PKCE S256, a state and a nonce, at the discovered endpoint', async () => {
  const { authorize, loginCookie } = await startLogin();
  assert.is(`${authorize.origin}${authorize.pathname}`, `${admin}/dev-idp/authorize`);
  const q = authorize.searchParams;
  assert.is(q.get('response_type'), 'code');
  assert.is(q.get('client_id'), 'regate');
  assert.is(q.get('redirect_uri'), `${admin}/console/callback`);
  assert.is(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
  assert.match(q.get('nonce')!, /^[A-Za-z0-9_-]{43}$/);
  assert.is(loginCookie, `regate_console_login=${q.get('state')}`);
  const page = await (await get(authorize.toString())).text();
  for (const who of ['alice', 'paula', 'victor']) assert.ok(page.includes(`id="login-${who}"`), who);
});

test('a signed-in session: an HttpOnly, SameSite=Strict cookie (not Secure on plain HTTP) naming who signed in', async () => {
  const { setCookie, cookie } = await signIn('victor');
  assert.match(setCookie, /; HttpOnly/);
  assert.match(setCookie, /; SameSite=Strict/);
  assert.not.match(setCookie, /Secure/);
  assert.match(cookie, /^regate_console=[A-Za-z0-9_-]{43}$/);
  const who = await (await get(`${admin}/api/whoami`, cookie)).json() as { sub: string; groups: string[] };
  assert.equal([who.sub, who.groups], ['victor', ['pci-approvers']]);
});

test('a state change with the session cookie but without its CSRF token is refused with 403; with it, it reaches the API', async () => {
  const { cookie, csrf } = await signIn('victor');
  const missing = await post('/api/holds/hold_nope/approve', { cookie });
  assert.is(missing.status, 403);
  assert.is((await missing.json() as { error: string }).error, 'csrf');
  const wrong = await post('/api/holds/hold_nope/approve', { cookie, 'x-csrf-token': csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) });
  assert.is(wrong.status, 403);
  const right = await post('/api/holds/hold_nope/approve', { cookie, 'x-csrf-token': csrf });
  assert.is(right.status, 404);
});

test('the callback refuses a replayed code (its state is used), and a state started in another browser', async () => {
  const { authorize, loginCookie } = await startLogin();
  const callback = await pick(authorize, 'victor');
  const elsewhere = await get(callback.toString());
  assert.is(elsewhere.status, 400);
  assert.is((await elsewhere.json() as { error: string }).error, 'invalid_state');
  // The refusal above consumed the state: the same callback in the right browser now fails too.
  const again = await get(callback.toString(), loginCookie);
  assert.is(again.status, 400);

  const second = await startLogin();
  const ok = await pick(second.authorize, 'victor');
  assert.is((await get(ok.toString(), second.loginCookie)).status, 303);
  const replay = await get(ok.toString(), second.loginCookie);
  assert.is(replay.status, 400);
  assert.is((await replay.json() as { error: string }).error, 'invalid_state');
});

test('the dev IdP token endpoint: a wrong PKCE verifier is refused, the right one works once, a replayed code is refused', async () => {
  const verifier = randomBytes(32).toString('base64url');
  const redirect = `${admin}/console/callback`;
  const code = async (): Promise<string> => {
    const url = new URL(`${admin}/dev-idp/authorize`);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: 'regate', redirect_uri: redirect, state: 's', nonce: 'n', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', login: 'victor' })) url.searchParams.set(k, v);
    return new URL((await get(url.toString())).headers.get('location')!).searchParams.get('code')!;
  };
  const exchange = (c: string, v: string): Promise<Response> =>
    fetch(`${admin}/dev-idp/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code: c, redirect_uri: redirect, client_id: 'regate', code_verifier: v }) });
  const wrong = await exchange(await code(), randomBytes(32).toString('base64url'));
  assert.is(wrong.status, 400);
  assert.match((await wrong.json() as { error_description: string }).error_description, /code_verifier does not match/);
  const c = await code();
  const right = await exchange(c, verifier);
  assert.is(right.status, 200);
  const idToken = (await right.json() as { id_token: string }).id_token;
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal([claims.sub, claims.aud, claims.nonce], ['victor', 'regate', 'n']);
  const replay = await exchange(c, verifier);
  assert.is(replay.status, 400);
  assert.is((await replay.json() as { error: string }).error, 'invalid_grant');
});

test('logout needs the CSRF token, then ends the session on the server', async () => {
  const { cookie, csrf } = await signIn('victor');
  assert.is((await post('/console/logout', { cookie })).status, 403);
  assert.is((await get(`${admin}/console/session`, cookie)).status, 200);
  const out = await post('/console/logout', { cookie, 'x-csrf-token': csrf });
  assert.is(out.status, 204);
  assert.match(out.headers.get('set-cookie') ?? '', /^regate_console=; .*Max-Age=0/);
  assert.is((await get(`${admin}/console/session`, cookie)).status, 401);
  assert.is((await get(`${admin}/api/whoami`, cookie)).status, 401);
});

test('in Chromium: victor signs in through the dev IdP, sees alice\'s held request and approves it while she waits', async () => {
  const browser: Browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${admin}/console`);
    await page.waitForSelector('#holds-signed-out:not([hidden])');
    await page.click('#idp-signin');
    await page.click('#login-victor');
    await page.waitForSelector('#me:not([hidden])');
    assert.match((await page.textContent('#me')) ?? '', /victor/);
    const alice = await demo.dev.sign({ sub: 'alice', groups: ['fraud-analysts'], ttlSeconds: 600 });
    const waiting = fetch(`${demo.gateway.url}/v1/transactions?limit=5000`, { headers: { authorization: `Bearer ${alice}` } });
    await page.waitForSelector('#holds tr[data-hold-id] .approve');
    assert.is(await page.textContent('#holds tr[data-hold-id] .requester'), 'alice');
    await page.click('#holds tr[data-hold-id] .approve');
    const answer = await waiting;
    assert.is(answer.status, 200);
    await page.click('#signout');
    await page.waitForSelector('#idp-signin:not([hidden])');
    assert.equal(errors, []);
  } catch (err) {
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: join('test-artifacts', 'console-signin.png'), fullPage: true }).catch(() => undefined);
    throw err;
  } finally {
    await browser.close();
  }
});

test('a session ends after admin.console.session_seconds: the console asks to sign in again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'regate-signin-clock-'));
  const dev = await ensureDevIdentity(dir);
  const authenticator = createAuthenticator({ issuer: dev.issuer, audience: dev.audience, jwks: dev.jwks });
  let now = Date.now();
  const signIn = new ConsoleSignIn({
    issuer: dev.issuer, clientId: dev.audience, discoveryUrl: '/.well-known/openid-configuration', sessionSeconds: 120,
    verifyIdToken: (t) => authenticator.authenticate({ authorization: `Bearer ${t}` }), now: () => now,
  });
  const idp = devAuthorizationServer(dev, [{ sub: 'victor', groups: ['pci-approvers'] }]);
  const server = createServer(async (req, res) => {
    if (!(await signIn.mount(req, res)) && !(await idp(req, res))) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const login = await get(`${base}/console/login`);
    const callback = await pick(new URL(login.headers.get('location')!), 'victor');
    const done = await get(callback.toString(), pair(cookiePair(login, 'regate_console_login')));
    assert.is(done.status, 303);
    const setCookie = cookiePair(done, 'regate_console');
    assert.match(setCookie, /Max-Age=120/);
    const cookie = pair(setCookie);
    now += 119_000;
    assert.is((await get(`${base}/console/session`, cookie)).status, 200);
    now += 2_000;
    assert.is((await get(`${base}/console/session`, cookie)).status, 401);
  } finally {
    await new Promise((r) => server.close(r));
    authenticator.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
