/**
 * A client's credentials in the policy input: the policy decides without them, so the decision
 * record that keeps the input (and the decision logs and what-if replays built from it) never holds
 * one. The headers that carry credentials are left out (headers.ts); a query parameter named as a
 * credential (`?access_token=`, `?api_key=`, Gemini's `?key=`) keeps its name with its values
 * `[redacted]`, so a policy can still refuse a request that sends one; and any value shaped like a
 * JWT is redacted wherever it stands, whatever its name. A request target shown to people (a held
 * request's path and query, in the holds store and the console) is redacted the same way.
 */
import { scrubPath } from '../mask/index.js';

/** What a credential's value becomes in the policy input. */
const REDACTED = '[redacted]';

/**
 * Credential names, compared in lower case with everything but letters and digits removed
 * (`X-Auth-Token`, `x_auth_token` and `xauthtoken` are one name).
 */
const CREDENTIAL_NAMES = new Set([
  'accesstoken', 'idtoken', 'refreshtoken', 'token', 'authtoken', 'xauthtoken', 'xaccesstoken', 'bearer', 'jwt',
  'apikey', 'xapikey', 'key', 'xgoogapikey', 'clientsecret', 'secret', 'password', 'passwd', 'pwd',
  'sig', 'signature', 'xamzsignature', 'xamzsecuritytoken', 'xamzcredential', 'xgoogsignature', 'xgoogcredential',
  'authorization', 'proxyauthorization', 'cookie', 'sessionid', 'session',
]);

/** Whether a header or query parameter of this name carries a credential. */
export function isCredentialName(name: string): boolean {
  // Asked of every header of every request: the names repeat, so each is normalised once (bounded).
  let is = SEEN.get(name);
  if (is === undefined) {
    if (SEEN.size >= SEEN_MAX) SEEN.clear();
    SEEN.set(name, (is = CREDENTIAL_NAMES.has(name.toLowerCase().replace(/[^a-z0-9]/g, ''))));
  }
  return is;
}

const SEEN = new Map<string, boolean>();
const SEEN_MAX = 4096;

/** A JWS (three segments) or JWE (five) in compact form, base64url, maybe after `Bearer`. */
const COMPACT = /^\s*(?:Bearer\s+)?([\w-]+)\.[\w-]+\.[\w-]*(?:\.[\w-]*\.[\w-]*)?\s*$/i;

/**
 * Whether `value` is a JWT: compact segments whose first decodes to a JSON object naming an `alg`,
 * as every JOSE header does (RFC 7515 4.1.1, RFC 7516 4.1.1).
 */
function isJwt(value: string): boolean {
  if (value.length < 16 || !value.includes('.')) return false;
  const header = COMPACT.exec(value)?.[1];
  if (header === undefined) return false;
  try {
    const parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/** A header's or query parameter's value as the policy sees it: REDACTED when the name or the value is a credential's. */
export function policyValue(name: string, value: string): string {
  return isCredentialName(name) || isJwt(value) ? REDACTED : value;
}

/**
 * A request target (path and query) with its query's credentials redacted as the policy input has
 * them: a credential-named parameter's value, and any value that is a JWT, become `[redacted]` as
 * written (for people to read: such a target is shown and kept, never sent). Everything else stays
 * as written, percent-encoding included.
 */
function redactTarget(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const pairs = target.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const value = formDecoded(pair.slice(eq + 1));
    if (policyValue(formDecoded(pair.slice(0, eq)), value) !== value) {
      pairs[i] = `${pair.slice(0, eq + 1)}${REDACTED}`;
      changed = true;
    }
  }
  return changed ? `${target.slice(0, q + 1)}${pairs.join('&')}` : target;
}

/** A target as it may be shown to people and kept: credentials redacted (above), card data masked (mask's scrubPath). */
export function shownTarget(target: string): string {
  return scrubPath(redactTarget(target));
}

/** A query part as URLSearchParams reads it (`+` a space); as written when its escapes are broken. */
function formDecoded(part: string): string {
  try {
    return decodeURIComponent(part.replaceAll('+', ' '));
  } catch {
    return part;
  }
}
