/**
 * Verifies one bearer JWT with jose and turns the result into the policy's Identity. Every jose
 * failure is translated into the AuthError that names what is wrong (expired, issuer, kid, ...),
 * so nothing but AuthError leaves this module for any input.
 */
import { jwtVerify, errors as jose } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import type { Identity } from '../contract/index.js';
import {
  AuthError, TokenAlgError, TokenAudienceError, TokenClaimError, TokenExpiredError, TokenIssuerError,
  TokenMalformedError, TokenNotYetValidError, TokenSignatureError,
} from './errors.js';

export interface JwtRules {
  issuer: string;
  audience: string[];
  algorithms: string[];
  clockToleranceSeconds: number;
  groupsClaim: string;
}

export interface VerifiedToken {
  identity: Identity;
  /** The token's `exp`, in ms since the epoch (always present: we require it). */
  expiresAtMs: number;
}

/** Verifies `token` against `rules` with keys from `getKey`, at time `nowMs`. */
export async function verifyJwt(token: string, getKey: JWTVerifyGetKey, rules: JwtRules, nowMs: number): Promise<VerifiedToken> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, getKey, {
      issuer: rules.issuer,
      audience: rules.audience,
      algorithms: rules.algorithms,
      clockTolerance: rules.clockToleranceSeconds,
      requiredClaims: ['exp', 'sub'],
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    throw toAuthError(err, rules);
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenClaimError('the token\'s "sub" claim must be a non-empty string');
  // jose checks "iat" only against a maximum age; a token issued in the future means a wrong clock
  // at the issuer or a forged timestamp, and is refused as one not valid yet would be.
  if (typeof payload.iat === 'number' && payload.iat > nowMs / 1000 + rules.clockToleranceSeconds) {
    throw new TokenNotYetValidError(`the token was issued in the future (its "iat" claim is ${Math.round(payload.iat - nowMs / 1000)} s ahead, beyond ${rules.clockToleranceSeconds} s of clock tolerance)`);
  }
  return {
    identity: { sub: payload.sub, iss: rules.issuer, groups: groupsFrom(payload, rules.groupsClaim), claims: payload as Record<string, unknown> },
    expiresAtMs: (payload.exp as number) * 1000,
  };
}

/** Groups from a plain (`groups`) or URL-named (`https://example.com/groups`) claim; string or array. */
export function groupsFrom(payload: JWTPayload, claim: string): string[] {
  const value = payload[claim];
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((g) => typeof g === 'string')) return value as string[];
  throw new TokenClaimError(`the token's "${claim}" claim must be a string or an array of strings`);
}

function toAuthError(err: unknown, rules: JwtRules): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof jose.JWTExpired) return new TokenExpiredError(`the token expired (its "${err.claim}" claim is past, beyond ${rules.clockToleranceSeconds} s of clock tolerance)`, { cause: err });
  if (err instanceof jose.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new TokenClaimError(`the token lacks the required "${err.claim}" claim`, { cause: err });
    switch (err.claim) {
      case 'nbf': return new TokenNotYetValidError(`the token is not valid yet (its "nbf" claim is in the future, beyond ${rules.clockToleranceSeconds} s of clock tolerance)`, { cause: err });
      case 'iss': return new TokenIssuerError(`the token's issuer ${describe(err.payload.iss)} is not the configured issuer "${rules.issuer}"`, { cause: err });
      case 'aud': return new TokenAudienceError(`the token's audience ${describe(err.payload.aud)} does not include ${rules.audience.map((a) => `"${a}"`).join(' or ')}`, { cause: err });
      default: return new TokenClaimError(`the token's "${err.claim}" claim is invalid`, { cause: err });
    }
  }
  if (err instanceof jose.JOSEAlgNotAllowed || err instanceof jose.JOSENotSupported) {
    return new TokenAlgError(`the token's signing algorithm is not one of the allowed ${rules.algorithms.join(', ')}`, { cause: err });
  }
  if (err instanceof jose.JWSSignatureVerificationFailed) return new TokenSignatureError('the token\'s signature does not verify', { cause: err });
  return new TokenMalformedError('the bearer token is not a well-formed signed JWT', { cause: err });
}

/** A claim value for a message: quoted, shortened, never more than 80 characters of it. */
function describe(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
