/**
 * The dev identity provider's OpenID Connect side, so the demo console signs in the way it would
 * against a real IdP: a discovery document, an authorization endpoint that lists the demo users
 * to pick from (no passwords: it is the dev IdP), and a token endpoint that trades a one-time code
 * for an ID token after checking the PKCE verifier (S256 only), the client and the redirect URI.
 * Mounted on the demo's admin listener next to the JWKS. Not for production.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenerOrigin, sendJson } from '../util/index.js';
import type { DevIdentity } from './dev-idp.js';

export interface DevUser {
  sub: string;
  groups: string[];
}

interface Grant {
  user: DevUser;
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string;
  expiresAtMs: number;
}

const CODE_SECONDS = 60;
const ID_TOKEN_SECONDS = 3600;
const MAX_BODY = 8192;

/** The S256 PKCE challenge of a verifier (RFC 7636 section 4.2). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);


function oauthError(res: ServerResponse, status: number, error: string, description: string): void {
  sendJson(res, status, { error, error_description: description });
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  if ((req.headers['content-type'] ?? '').split(';')[0]?.trim() !== 'application/x-www-form-urlencoded') return null;
  let text = '';
  for await (const chunk of req as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > MAX_BODY) return null;
  }
  return new URLSearchParams(text);
}

/**
 * The discovery document, authorization and token endpoints as one handler: true when it
 * answered, false for any other path.
 */
export function devAuthorizationServer(dev: DevIdentity, users: DevUser[]): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const codes = new Map<string, Grant>();
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://dev-idp.invalid');
    if (url.pathname === '/.well-known/openid-configuration') {
      const base = listenerOrigin(req);
      sendJson(res, 200, {
        issuer: dev.issuer,
        authorization_endpoint: `${base}/dev-idp/authorize`,
        token_endpoint: `${base}/dev-idp/token`,
        jwks_uri: `${base}/.well-known/jwks.json`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code'],
        code_challenge_methods_supported: ['S256'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        token_endpoint_auth_methods_supported: ['none'],
        scopes_supported: ['openid'],
      });
      return true;
    }
    if (url.pathname === '/dev-idp/authorize' && req.method === 'GET') {
      authorize(url, res);
      return true;
    }
    if (url.pathname === '/dev-idp/token' && req.method === 'POST') {
      await token(req, res);
      return true;
    }
    return false;
  };

  /** Without `login`, the page of users to pick; with it, the redirect back carrying a one-time code. */
  function authorize(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const redirectUri = q.get('redirect_uri') ?? '';
    const challenge = q.get('code_challenge') ?? '';
    if (!/^https?:\/\/[^/]+\/console\/callback$/.test(redirectUri)) return oauthError(res, 400, 'invalid_request', 'redirect_uri must be a console callback URL');
    if (q.get('response_type') !== 'code' || !q.get('client_id') || !q.get('state') || !q.get('nonce')) {
      return oauthError(res, 400, 'invalid_request', 'response_type=code, client_id, state and nonce are required');
    }
    if (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
      return oauthError(res, 400, 'invalid_request', 'a PKCE code_challenge with code_challenge_method=S256 is required');
    }
    const login = q.get('login');
    if (login === null) {
      const items = users.map((u) => {
        const pick = new URLSearchParams(q);
        pick.set('login', u.sub);
        return `<li><a id="login-${escapeHtml(u.sub)}" href="?${escapeHtml(pick.toString())}">${escapeHtml(u.sub)}</a> <small>${escapeHtml(u.groups.join(', '))}</small></li>`;
      });
      const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>regate dev identity provider</title></head>` +
        `<body><h1>Sign in as a demo user</h1><p>The demo's dev identity provider: pick who you are.</p><ul>${items.join('')}</ul></body></html>`;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
      return void res.end(html);
    }
    const user = users.find((u) => u.sub === login);
    if (!user) return oauthError(res, 400, 'access_denied', 'no such demo user');
    const code = randomBytes(32).toString('base64url');
    codes.set(code, { user, clientId: q.get('client_id')!, redirectUri, challenge, nonce: q.get('nonce')!, expiresAtMs: Date.now() + CODE_SECONDS * 1000 });
    const back = new URL(redirectUri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state')!);
    res.writeHead(303, { location: back.toString(), 'content-length': 0 });
    res.end();
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    if (!form) return oauthError(res, 400, 'invalid_request', 'the token request must be an application/x-www-form-urlencoded body');
    if (form.get('grant_type') !== 'authorization_code') return oauthError(res, 400, 'unsupported_grant_type', 'only authorization_code');
    const code = form.get('code') ?? '';
    const grant = codes.get(code);
    // One use: a replayed code finds nothing, as does an expired one.
    codes.delete(code);
    if (!grant || grant.expiresAtMs < Date.now()) return oauthError(res, 400, 'invalid_grant', 'the code is unknown, used or expired');
    if (form.get('client_id') !== grant.clientId || form.get('redirect_uri') !== grant.redirectUri) {
      return oauthError(res, 400, 'invalid_grant', 'client_id or redirect_uri differ from the authorization request');
    }
    const expected = Buffer.from(grant.challenge);
    const given = Buffer.from(pkceChallenge(form.get('code_verifier') ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return oauthError(res, 400, 'invalid_grant', 'the PKCE code_verifier does not match the code_challenge');
    const idToken = await dev.sign({ sub: grant.user.sub, groups: grant.user.groups, ttlSeconds: ID_TOKEN_SECONDS, audience: grant.clientId, claims: { nonce: grant.nonce } });
    sendJson(res, 200, { access_token: idToken, id_token: idToken, token_type: 'Bearer', expires_in: ID_TOKEN_SECONDS });
  }
}
