/**
 * The console's sign-in through the identity provider: the OpenID Connect authorization code flow
 * with PKCE (S256), a state bound to the browser by a short login cookie and a nonce bound to the
 * ID token, the ID token verified by the gateway's own verifier (the identity stage, against the
 * issuer's JWKS), then a short server-side session: a random id in an `HttpOnly`,
 * `SameSite=Strict` cookie (`Secure` when the listener is TLS), nothing else in the browser.
 * State changes made with that cookie need the session's CSRF token in `x-csrf-token`; a request
 * with a bearer token and no cookie is not this module's business (the fallback for scripts).
 *
 *   GET  /console/login      redirect to the IdP's authorization endpoint
 *   GET  /console/callback   the IdP's redirect back: code -> ID token -> session -> /console
 *   GET  /console/session    who is signed in, until when, and the CSRF token (401 without a session)
 *   POST /console/logout     ends the session (CSRF token required)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../contract/index.js';
import { listenerOrigin, RegateError } from '../util/index.js';
import { send, sendError, sendJson } from './http.js';

export interface ConsoleSignInOptions {
  /** The configured issuer: the discovery document must name it. */
  issuer: string;
  clientId: string;
  /** Absolute URL, or a path on this admin listener (the demo's dev IdP). */
  discoveryUrl: string;
  sessionSeconds: number;
  /** The identity stage's verifier: the ID token as a bearer token (issuer, audience, signature, expiry). */
  verifyIdToken(idToken: string): Promise<Identity>;
  now?: () => number;
}

/** A state change made with the session cookie but without its CSRF token. */
export class CsrfError extends RegateError {
  static override readonly code: string = 'ERR_CSRF';
}

interface Session {
  identity: Identity;
  csrf: string;
  expiresAtMs: number;
}

interface PendingLogin {
  verifier: string;
  nonce: string;
  redirectUri: string;
  expiresAtMs: number;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

const SESSION_COOKIE = 'regate_console';
const LOGIN_COOKIE = 'regate_console_login';
const LOGIN_SECONDS = 600;
const MAX_PENDING = 1000;

const random = (): string => randomBytes(32).toString('base64url');

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const tls = (req: IncomingMessage): boolean => 'encrypted' in req.socket;

function cookie(req: IncomingMessage, name: string, value: string, maxAge: number, sameSite: 'Strict' | 'Lax'): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=${sameSite}; Max-Age=${maxAge}${tls(req) ? '; Secure' : ''}`;
}


export class ConsoleSignIn {
  readonly #o: ConsoleSignInOptions;
  readonly #now: () => number;
  readonly #sessions = new Map<string, Session>();
  readonly #pending = new Map<string, PendingLogin>();

  constructor(o: ConsoleSignInOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /**
   * The session's identity for a request carrying the session cookie; null without one (the
   * caller then asks for a bearer token). A state change needs the CSRF token: CsrfError.
   */
  authenticate(req: IncomingMessage): Identity | null {
    const id = cookies(req).get(SESSION_COOKIE);
    if (id === undefined) return null;
    const session = this.#session(id);
    if (!session) return null;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const given = req.headers['x-csrf-token'];
      if (typeof given !== 'string' || !sameSecret(given, session.csrf)) {
        throw new CsrfError('a state change made with the console session needs its CSRF token in x-csrf-token');
      }
    }
    return session.identity;
  }

  /** The admin-listener mount for the four routes above. */
  mount = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const route = `${req.method} ${url.pathname}`;
    try {
      if (route === 'GET /console/login') await this.#login(req, res);
      else if (route === 'GET /console/callback') await this.#callback(req, res, url.searchParams);
      else if (route === 'GET /console/session') this.#describe(req, res);
      else if (route === 'POST /console/logout') this.#logout(req, res);
      else return false;
    } catch (err) {
      if (err instanceof CsrfError) sendError(res, req, 403, 'csrf', err.message);
      else sendError(res, req, 502, 'sign_in_failed', `signing in through the identity provider failed: ${(err as Error).message}`);
    }
    return true;
  };

  #session(id: string): Session | undefined {
    const session = this.#sessions.get(id);
    if (session && session.expiresAtMs <= this.#now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  async #discover(req: IncomingMessage): Promise<Discovery> {
    // A relative discovery URL means this listener, as its socket sees it (never the client's Host).
    const url = new URL(this.#o.discoveryUrl, listenerOrigin(req));
    const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`the discovery document ${url} answered ${res.status}`);
    const doc = (await res.json()) as Record<string, unknown>;
    if (doc.issuer !== this.#o.issuer) throw new Error(`the discovery document names issuer ${JSON.stringify(doc.issuer)}, not the configured "${this.#o.issuer}"`);
    if (typeof doc.authorization_endpoint !== 'string' || typeof doc.token_endpoint !== 'string') throw new Error('the discovery document lacks authorization_endpoint or token_endpoint');
    return { authorization_endpoint: doc.authorization_endpoint, token_endpoint: doc.token_endpoint };
  }

  async #login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { authorization_endpoint } = await this.#discover(req);
    const now = this.#now();
    for (const [k, p] of this.#pending) if (p.expiresAtMs <= now) this.#pending.delete(k);
    if (this.#pending.size >= MAX_PENDING) return sendError(res, req, 429, 'too_many_sign_ins', 'too many sign-ins under way; try again in a few minutes');
    const state = random();
    const pending: PendingLogin = {
      verifier: random(),
      nonce: random(),
      redirectUri: `${tls(req) ? 'https' : 'http'}://${req.headers.host ?? ''}/console/callback`,
      expiresAtMs: now + LOGIN_SECONDS * 1000,
    };
    this.#pending.set(state, pending);
    const target = new URL(authorization_endpoint);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: this.#o.clientId, redirect_uri: pending.redirectUri, scope: 'openid',
      state, nonce: pending.nonce, code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'), code_challenge_method: 'S256',
    })) target.searchParams.set(k, v);
    // Lax: the IdP's redirect back is a cross-site navigation; the cookie ties the state to this browser.
    res.writeHead(302, { location: target.toString(), 'set-cookie': cookie(req, LOGIN_COOKIE, state, LOGIN_SECONDS, 'Lax'), 'content-length': 0 });
    res.end();
  }

  async #callback(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    const state = q.get('state') ?? '';
    const pending = this.#pending.get(state);
    this.#pending.delete(state);
    const bound = cookies(req).get(LOGIN_COOKIE);
    if (!pending || pending.expiresAtMs <= this.#now() || bound === undefined || !sameSecret(bound, state)) {
      return sendError(res, req, 400, 'invalid_state', 'this sign-in is unknown, used, expired or was started in another browser; sign in again');
    }
    if (q.has('error')) return sendError(res, req, 400, 'sign_in_refused', `the identity provider refused the sign-in: ${q.get('error')}`);
    const { token_endpoint } = await this.#discover(req);
    const answer = await fetch(token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: q.get('code') ?? '', redirect_uri: pending.redirectUri, client_id: this.#o.clientId, code_verifier: pending.verifier }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await answer.json().catch(() => ({}))) as Record<string, unknown>;
    if (!answer.ok || typeof body.id_token !== 'string') {
      return sendError(res, req, 400, 'sign_in_refused', `the identity provider's token endpoint refused the code: ${typeof body.error === 'string' ? body.error : answer.status}`);
    }
    let identity: Identity;
    try {
      identity = await this.#o.verifyIdToken(body.id_token);
    } catch (err) {
      return sendError(res, req, 401, 'invalid_id_token', `the ID token was refused: ${(err as Error).message}`);
    }
    const nonce = identity.claims.nonce;
    if (typeof nonce !== 'string' || !sameSecret(nonce, pending.nonce)) return sendError(res, req, 401, 'invalid_id_token', 'the ID token\'s nonce is not the one this sign-in sent');
    const exp = typeof identity.claims.exp === 'number' ? identity.claims.exp * 1000 : Infinity;
    const expiresAtMs = Math.min(this.#now() + this.#o.sessionSeconds * 1000, exp);
    for (const [k, old] of this.#sessions) if (old.expiresAtMs <= this.#now()) this.#sessions.delete(k);
    const id = random();
    this.#sessions.set(id, { identity, csrf: random(), expiresAtMs });
    const maxAge = Math.max(1, Math.floor((expiresAtMs - this.#now()) / 1000));
    res.writeHead(303, {
      location: '/console',
      'set-cookie': [cookie(req, SESSION_COOKIE, id, maxAge, 'Strict'), cookie(req, LOGIN_COOKIE, '', 0, 'Lax')],
      'content-length': 0,
    });
    res.end();
  }

  #describe(req: IncomingMessage, res: ServerResponse): void {
    const id = cookies(req).get(SESSION_COOKIE);
    const session = id === undefined ? undefined : this.#session(id);
    if (!session) return sendError(res, req, 401, 'no_session', 'not signed in');
    sendJson(res, 200, { sub: session.identity.sub, groups: session.identity.groups, expires_at: new Date(session.expiresAtMs).toISOString(), csrf_token: session.csrf });
  }

  #logout(req: IncomingMessage, res: ServerResponse): void {
    const id = cookies(req).get(SESSION_COOKIE);
    if (id !== undefined && this.authenticate(req)) this.#sessions.delete(id);
    send(res, 204, 'text/plain', '', { 'set-cookie': cookie(req, SESSION_COOKIE, '', 0, 'Strict') });
  }
}
