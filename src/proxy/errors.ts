/**
 * The errors the gateway answers with, each a RegateError carrying its HTTP status and the short
 * `error` code of the JSON body `{error, message, request_id}` (docs/architecture.md, "The pipeline": every failure fails closed).
 * Errors raised by other stages are mapped here, in one place, so every failure path answers the
 * same way and fails closed.
 */
import type { ServerResponse } from 'node:http';
import { HoldAuditFailed, HoldLimitExceeded, ReplayUnavailable } from '../hold/index.js';
import { BadRequest, hasCode, RegateError, sendJson } from '../util/index.js';
import { scrubCards } from './card-scrub.js';

export class HttpError extends RegateError {
  static override readonly code: string = 'ERR_HTTP';
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
    /** Extra fields of the JSON body (e.g. a hold id). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message, options);
  }
}

export class NoRoute extends HttpError {
  static override readonly code: string = 'ERR_NO_ROUTE';
  constructor(host: string, path: string) {
    super(404, 'no_route', `No route matches host ${JSON.stringify(host)} and path ${JSON.stringify(path)}.`);
  }
}

export class BodyTooLarge extends HttpError {
  static override readonly code: string = 'ERR_BODY_TOO_LARGE';
  constructor(limit: number) {
    super(413, 'body_too_large', `The JSON request body exceeds the gateway's limit of ${limit} bytes.`, { connection: 'close' });
  }
}

export class Unauthenticated extends HttpError {
  static override readonly code: string = 'ERR_UNAUTHENTICATED';
  constructor(message: string, wwwAuthenticate: string, status = 401, options?: { cause?: unknown }) {
    super(status, 'unauthorized', message, { 'www-authenticate': wwwAuthenticate }, options);
  }
}

export class Forbidden extends HttpError {
  static override readonly code: string = 'ERR_FORBIDDEN';
  constructor(reason: string, details: Record<string, unknown> = {}) {
    super(403, 'forbidden', reason || 'The policy denied this request.', {}, undefined, details);
  }
}

export class UnmaskableRequest extends HttpError {
  static override readonly code: string = 'ERR_UNMASKABLE_REQUEST';
  constructor(part: 'target' | 'body') {
    super(400, 'unmaskable_request', `The request ${part === 'target' ? 'target' : 'form body'} holds card data, percent-encoded, that the gateway cannot mask in place${part === 'target' ? '; send it in the body' : ''}.`);
  }
}

export class PolicyFailed extends HttpError {
  static override readonly code: string = 'ERR_POLICY_FAILED';
  constructor(cause: unknown) {
    super(503, 'policy_error', 'The policy could not decide on this request; it is refused (fail closed).', {}, { cause });
  }
}

export class AuditUnavailable extends HttpError {
  static override readonly code: string = 'ERR_AUDIT_UNAVAILABLE';
  constructor(cause: unknown) {
    super(503, 'audit_unavailable', 'The audit log could not record this request, so it is not served.', {}, { cause });
  }
}

export class UpstreamUnavailable extends HttpError {
  static override readonly code: string = 'ERR_UPSTREAM_UNAVAILABLE';
  constructor(upstream: string, detail: string, cause?: unknown) {
    super(502, 'upstream_unavailable', `Upstream ${upstream} failed: ${detail}.`, {}, { cause });
  }
}

export class UpstreamTimeout extends HttpError {
  static override readonly code: string = 'ERR_UPSTREAM_TIMEOUT';
  constructor(upstream: string, detail: string, cause?: unknown) {
    super(504, 'upstream_timeout', `Upstream ${upstream} timed out: ${detail}.`, {}, { cause });
  }
}

export class ShuttingDown extends HttpError {
  static override readonly code: string = 'ERR_SHUTTING_DOWN';
  constructor() {
    super(503, 'shutting_down', 'The gateway is shutting down; retry on another instance.', { connection: 'close' });
  }
}

export class InternalError extends HttpError {
  static override readonly code: string = 'ERR_INTERNAL';
  constructor(cause: unknown) {
    super(500, 'internal_error', 'The gateway failed while handling this request.', {}, { cause });
  }
}

/** A failure of the holds stage as the client's answer. */
export function holdFailure(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof HoldLimitExceeded) return new HttpError(429, 'too_many_holds', `${err.message}.`, {}, { cause: err });
  if (err instanceof ReplayUnavailable) return new Forbidden(`The approved replay was already used: ${err.message}.`);
  if (err instanceof HoldAuditFailed) return new AuditUnavailable(err);
  // Fail closed: a hold kept where no approver can see it would wait for nobody.
  if (hasCode(err, 'ERR_CLUSTER_UNAVAILABLE')) {
    return new HttpError(503, 'cluster_store_unavailable', 'The cluster store cannot be reached, so this request, which needs an approval, is refused rather than held where no approver could see it. Retry later.', {}, { cause: err });
  }
  return new HttpError(503, 'holds_unavailable', 'The holds service failed, so the held request is refused.', {}, { cause: err });
}

/** A failure of the identity stage (its AuthError carries `status` and `wwwAuthenticate`) as the client's answer. */
export function authFailure(err: unknown): HttpError {
  const e = err as { status?: unknown; wwwAuthenticate?: unknown; message?: unknown };
  if (typeof e?.status === 'number' && typeof e.wwwAuthenticate === 'string') {
    const message = typeof e.message === 'string' ? e.message : 'The credentials were not accepted.';
    if (e.status === 401) return new Unauthenticated(`The credentials were not accepted: ${message}.`, e.wwwAuthenticate, 401, { cause: err });
    if (e.status === 400) return new HttpError(400, 'ambiguous_credentials', `The credentials are ambiguous: ${message}.`, {}, { cause: err });
    return new HttpError(e.status, 'identity_unavailable', `The caller could not be authenticated now: ${message}.`, {}, { cause: err });
  }
  return toHttpError(err);
}

/** Any thrown value as an HttpError: unknown failures become a 500, never a leak of their text. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof BadRequest) return new HttpError(400, 'bad_request', err.message, {}, { cause: err });
  return new InternalError(err);
}

/**
 * The JSON error body's fields (its length goes into the outcome record before it is sent). The
 * message may quote the request (the path no route matched, a reason an approver typed): card
 * data in it is masked.
 */
export function errorFields(err: HttpError, requestId: string): Record<string, unknown> {
  return { error: err.error, message: scrubCards(err.message), request_id: requestId, ...err.details };
}

/** Writes the JSON error body; if headers are already out, the only honest signal left is a reset. */
export function sendError(res: ServerResponse, err: HttpError, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, errorFields(err, requestId), { ...err.headers, 'cache-control': 'no-store', 'x-request-id': requestId });
}
