/**
 * Why a caller was not authenticated, as typed errors the proxy maps to HTTP without reading
 * messages: each AuthError carries its stable `code`, the HTTP `status` (401, or 503 when the key
 * set cannot be fetched) and the RFC 6750 `WWW-Authenticate` value. Messages name the claim or
 * header at fault and never contain the credential itself.
 */
import { RegateError } from '../util/index.js';

const REALM = 'regate';

/** RFC 6750 allows only %x20-21 / %x23-5B / %x5D-7E in error_description. */
function quotable(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "'").slice(0, 300);
}

export class AuthError extends RegateError {
  static override readonly code: string = 'ERR_AUTH';
  /** RFC 6750 error code; undefined means "no credentials presented", which gets no error attribute. */
  protected static readonly bearerError: string | undefined = 'invalid_token';
  static readonly status: number = 401;

  readonly status: number;
  readonly wwwAuthenticate: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    const cls = new.target as typeof AuthError;
    this.status = cls.status;
    this.wwwAuthenticate = cls.bearerError === undefined
      ? `Bearer realm="${REALM}"`
      : `Bearer realm="${REALM}", error="${cls.bearerError}", error_description="${quotable(message)}"`;
  }
}

export class TokenMissingError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_MISSING';
  protected static override readonly bearerError: string | undefined = undefined;
}
export class TokenExpiredError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_EXPIRED';
}
export class TokenNotYetValidError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_NOT_YET_VALID';
}
export class TokenIssuerError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_ISSUER';
}
export class TokenAudienceError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_AUDIENCE';
}
export class TokenAlgError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_ALG';
}
export class TokenKidError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_KID';
}
export class TokenSignatureError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_SIGNATURE';
}
export class TokenMalformedError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_MALFORMED';
}
/** A required claim is missing or has the wrong type (exp, sub, the groups claim, iat). */
export class TokenClaimError extends AuthError {
  static override readonly code: string = 'ERR_TOKEN_CLAIM';
}
/**
 * Two Authorization (or x-api-key) headers: which one a proxy, the upstream or a log reads first
 * differs, so the request is refused (400) rather than authenticated on one of them.
 */
export class AmbiguousCredentialsError extends AuthError {
  static override readonly code: string = 'ERR_AMBIGUOUS_CREDENTIALS';
  protected static override readonly bearerError: string | undefined = 'invalid_request';
  static override readonly status: number = 400;
}
export class ApiKeyInvalidError extends AuthError {
  static override readonly code: string = 'ERR_API_KEY_INVALID';
}
/** The key set could not be fetched and no cached keys can verify the token: retry later (503). */
export class JwksUnavailableError extends AuthError {
  static override readonly code: string = 'ERR_JWKS_UNAVAILABLE';
  protected static override readonly bearerError: string | undefined = undefined;
  static override readonly status: number = 503;
}

/** The identity options themselves are wrong (config time, not request time). */
export class IdentityConfigError extends RegateError {
  static override readonly code: string = 'ERR_IDENTITY_CONFIG';
}
