/**
 * The identity stage's public surface: what the proxy, the config loader and the CLI may import.
 * Everything else in this folder is internal.
 */
export { createAuthenticator, ASYMMETRIC_ALGORITHMS } from './authenticator.js';
export type { Authenticator, AuthenticatorDeps, AuthenticatorStats, CredentialHeaders, IdentityOptions } from './authenticator.js';
export { API_KEY_ISSUER, hashApiKey } from './api-keys.js';
export type { ApiKeyEntry } from './api-keys.js';
export { DEV_AUDIENCE, DEV_ISSUER, ensureDevIdentity, jwksRequestHandler } from './dev-idp.js';
export { devAuthorizationServer, pkceChallenge } from './dev-authorize.js';
export type { DevUser } from './dev-authorize.js';
export type { DevIdentity, DevTokenRequest } from './dev-idp.js';
export * from './errors.js';
export type { JSONWebKeySet } from 'jose';
export { refuseRepeatedCredentials } from './credential-headers.js';
