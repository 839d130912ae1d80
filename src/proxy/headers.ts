/**
 * Header hygiene at the two trust boundaries. Towards the upstream: hop-by-hop headers go (RFC 9110
 * 7.6.1, plus any the client's `Connection` names), the client's credentials (`authorization`,
 * `cookie`, `proxy-authorization`, `x-api-key`) never pass, the forwarding headers are set and the upstream
 * credential that only the gateway holds is injected. Towards the client: hop-by-hop headers go and
 * the request id is returned. The policy sees the client's headers minus its credentials.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isCredentialName, policyValue } from './credentials.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Never forwarded upstream: credentials of the client, and what the gateway sets itself. */
const CLIENT_ONLY = new Set(['authorization', 'cookie', 'x-api-key', 'host', 'expect', 'x-request-id']);

export type HeaderValue = string | string[] | undefined;
export type OutgoingHeaders = Record<string, string | string[]>;

function connectionListed(headers: Record<string, HeaderValue>): Set<string> | null {
  const c = headers.connection;
  if (!c) return null;
  const names = (Array.isArray(c) ? c.join(',') : c).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return names.length ? new Set(names) : null;
}

export interface ForwardContext {
  clientIp: string;
  /** `http` or `https`, as the client reached the gateway. */
  proto: string;
  /** The Host the client asked for. */
  host: string;
  requestId: string;
  credential: { header: string; value: string } | null;
  /** The response will be masked: ask for an unencoded body so the masker sees text. */
  identityEncoding: boolean;
}

function forwardedFor(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

/**
 * The headers sent upstream. `incoming` are node's (already lower-cased) request headers; each of
 * the client's values passes through `mask` when the request is masked (a card number in a header
 * reaches the model as surely as one in the body).
 */
export function upstreamHeaders(incoming: IncomingHttpHeaders, ctx: ForwardContext, mask?: (value: string) => string): OutgoingHeaders {
  const listed = connectionListed(incoming);
  const out: OutgoingHeaders = {};
  for (const name in incoming) {
    const v = incoming[name];
    if (v === undefined || HOP_BY_HOP.has(name) || CLIENT_ONLY.has(name) || listed?.has(name)) continue;
    if (mask) out[maskedName(mask, name)] = maskedHeader(mask, name, v);
    else out[name] = v;
  }
  const xff = incoming['x-forwarded-for'];
  out['x-forwarded-for'] = xff ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${ctx.clientIp}` : ctx.clientIp;
  out['x-forwarded-proto'] = ctx.proto;
  out['x-forwarded-host'] = ctx.host;
  const fwd = `for=${forwardedFor(ctx.clientIp)};proto=${ctx.proto};host="${ctx.host.replace(/["\\]/g, '')}"`;
  const prior = incoming.forwarded;
  out.forwarded = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${fwd}` : fwd;
  out['x-request-id'] = ctx.requestId;
  if (ctx.identityEncoding) out['accept-encoding'] = 'identity';
  if (ctx.credential) out[ctx.credential.header] = ctx.credential.value;
  return out;
}

/**
 * The upstream's response headers as passed to the client, each value through `mask` when the
 * response is masked; a rewritten (masked) body is sent identity-encoded, chunked.
 */
export function clientHeaders(upstream: Record<string, HeaderValue>, requestId: string, bodyRewritten: boolean, mask?: (value: string) => string): OutgoingHeaders {
  const listed = connectionListed(upstream);
  const out: OutgoingHeaders = {};
  for (const name in upstream) {
    const v = upstream[name];
    if (v === undefined || HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    if (bodyRewritten && (name === 'content-length' || name === 'content-encoding')) continue;
    // A card number in a header (a Location, a debug header, a cookie) leaves as surely as one in the body.
    if (mask) out[maskedName(mask, name)] = maskedHeader(mask, name, v);
    else out[name] = v;
  }
  out['x-request-id'] = requestId;
  return out;
}

/**
 * A header's name as it may leave: a card number in a name (`x-4111111111111111: 1`) is masked like
 * one in a value; `*` is a token character, so the masked name is still a valid field name. Names
 * are ASCII tokens: one without an ASCII digit holds no card datum and is not asked.
 */
function maskedName(mask: (text: string) => string, name: string): string {
  return /[0-9]/.test(name) ? mask(name) : name;
}

/**
 * A header's values masked with its name as their context, as a JSON key is a value's: in
 * `x-card-cvv: 123` the name is the label that makes 123 a cvv. The name itself is kept (a value
 * is masked alone should the masker touch the name).
 */
function maskedHeader(mask: (text: string) => string, name: string, v: string | string[]): string | string[] {
  const head = `${name}: `;
  const one = (value: string) => {
    const masked = mask(head + value);
    return masked.startsWith(head) ? masked.slice(head.length) : mask(value);
  };
  return typeof v === 'string' ? one(v) : v.map(one);
}

/**
 * The headers the policy sees: lower-cased, one string each, without the client's credentials
 * (those named as one: `authorization`, `cookie`, `x-api-key`, `x-auth-token`…; a value shaped like
 * a JWT under any name is redacted: credentials.ts).
 */
export function policyHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const name in incoming) {
    const v = incoming[name];
    // Named as a credential: left out, not redacted (a policy has never seen these headers).
    if (v === undefined || isCredentialName(name)) continue;
    out[name] = policyValue(name, Array.isArray(v) ? v.join(', ') : v);
  }
  return out;
}
