/**
 * The one way regate answers with JSON over node:http: serialised once, its length declared, the
 * content type with its charset; the caller adds its own headers (security headers, request id,
 * `allow`, `www-authenticate`), which cannot override those two.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
