/**
 * Small HTTP helpers for the admin API and console: strict security headers on every answer,
 * JSON bodies in the project's error shape, and a bounded JSON body reader that refuses anything
 * but `application/json` (a cross-site form cannot send that without a CORS preflight, which this
 * listener never grants: the CSRF defence).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequest, RegateError, sendJson as writeJson } from '../util/index.js';

/** Sent on every admin listener answer (the proxy's own routes too). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'cache-control': 'no-store',
};

const MAX_BODY_BYTES = 16 * 1024;

const STATUS_BY_CODE: Record<string, number> = {
  ERR_HOLD_NOT_FOUND: 404,
  ERR_HOLD_NOT_PENDING: 409,
  ERR_APPROVAL_REFUSED: 403,
  ERR_GRANT_REFUSED: 400,
  ERR_REPLAY_UNAVAILABLE: 409,
  ERR_HOLD_LIMIT: 429,
  ERR_HOLD_AUDIT_FAILED: 503,
  ERR_HOLD_STORE: 503,
  ERR_AUDIT_VIEW_UNAVAILABLE: 503,
  [BadRequest.code]: 400,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
};

/** The HTTP status for a holds error; anything unexpected is a 500. */
export function httpStatusFor(err: unknown): number {
  return err instanceof RegateError ? (STATUS_BY_CODE[err.code] ?? 500) : 500;
}

export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
}

export function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  writeJson(res, status, value, { ...SECURITY_HEADERS, ...extra });
}

export function sendError(res: ServerResponse, req: IncomingMessage, status: number, error: string, message: string, extra: Record<string, string> = {}): void {
  sendJson(res, status, { error, message, request_id: requestId(req) }, extra);
}

/** Starts a text/event-stream answer with the same security headers. */
export function startEventStream(res: ServerResponse): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
  res.flushHeaders();
}

class UnsupportedMediaType extends BadRequest {
  static override readonly code: string = 'ERR_UNSUPPORTED_MEDIA_TYPE';
}

/** Reads a JSON object body (at most 16 KiB); only `application/json` is accepted. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new UnsupportedMediaType('state-changing admin calls need Content-Type: application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new BadRequest('request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequest('request body must be a JSON object');
  return value as Record<string, unknown>;
}

export function optionalString(body: Record<string, unknown>, key: string, maxLength = 2000): string {
  const v = body[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string' || v.length > maxLength) throw new BadRequest(`"${key}" must be a string of at most ${maxLength} characters`);
  return v;
}

export function optionalInteger(body: Record<string, unknown>, key: string): number | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new BadRequest(`"${key}" must be a whole number`);
  return v;
}
