/**
 * Request bodies: a JSON body is read (up to the limit) so the policy can see it; anything else
 * streams through untouched. The limit is checked against Content-Length before reading, and again
 * while reading for chunked bodies, so an oversized body is refused without being buffered.
 */
import type { IncomingMessage } from 'node:http';
import { BadRequest } from '../util/index.js';
import { BodyTooLarge } from './errors.js';
import { checkJsonBody } from './json-guard.js';

/** A Content-Type's media type, lower-cased, without its parameters ('' when there is none). */
function mediaType(contentType: string | undefined): string {
  if (!contentType) return '';
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** `application/json`, `application/*+json`, with or without parameters. */
export function isJsonType(contentType: string | undefined): boolean {
  const mime = mediaType(contentType);
  return mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
}

/** `application/x-www-form-urlencoded`, with or without parameters. */
export function isFormType(contentType: string | undefined): boolean {
  return mediaType(contentType) === 'application/x-www-form-urlencoded';
}

/** True when the request carries a body (a length above zero, or chunked framing). */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Reads the whole body, refusing (413) past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new BodyTooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new BadRequest(`The request body could not be read: ${err.message}.`));
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new BadRequest('The client closed the connection before sending the whole body.'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The parsed JSON, or null when the bytes are not JSON (the policy then sees `body: null`). A lone
 * surrogate escape (`{"e":"\\ud800"}`) is valid JSON but no Unicode text, and the policy engine
 * refuses it: the policy sees U+FFFD in its place, the upstream the body as sent.
 */
export function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) return null;
  let value: unknown;
  const text = bytes.toString('utf8');
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return SURROGATE_ESCAPE.test(text) ? wellFormed(value) : value;
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The value with every lone surrogate in its strings and keys replaced by U+FFFD. */
function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(LONE_SURROGATE, '\ufffd');
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k.replace(LONE_SURROGATE, '\ufffd')] = wellFormed(v);
    return out;
  }
  return value;
}

/** A request body as the pipeline holds it: the bytes and parsed value of a JSON body, else nulls. */
export interface ReadRequest {
  raw: Buffer | null;
  body: unknown;
  /** The read body's length, or the declared length of a body that streams through. */
  bodyBytes: number;
  /** `raw` is a form (`application/x-www-form-urlencoded`), masked as decoded; otherwise JSON. */
  form: boolean;
}

/**
 * Reads and checks a JSON body (size, UTF-8, depth, syntax) and reads a form body whole (size), so
 * it can be masked as decoded (`+` and `%XX` spell a card number's spaces and digits); any other
 * body is left to stream.
 */
export async function readRequest(req: IncomingMessage, maxBytes: number, jsonMaxDepth: number): Promise<ReadRequest> {
  if (!hasBody(req)) return { raw: null, body: null, bodyBytes: 0, form: false };
  const type = req.headers['content-type'];
  if (isFormType(type)) {
    const raw = await readBody(req, maxBytes);
    return { raw, body: null, bodyBytes: raw.length, form: true };
  }
  if (!isJsonType(type)) return { raw: null, body: null, bodyBytes: Number(req.headers['content-length'] ?? 0) || 0, form: false };
  const raw = await readBody(req, maxBytes);
  checkJsonBody(raw, jsonMaxDepth);
  return { raw, body: parseJson(raw), bodyBytes: raw.length, form: false };
}
