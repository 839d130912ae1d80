/**
 * How each body is masked: a request body read as JSON is masked from its source text (bytes the
 * masker does not change are sent as received), a streamed one through a streaming masker; a
 * response small and whole enough is read and masked in one call (cheaper than a stream), anything
 * else streams through the masker to the client. A response that cannot be masked at all (binary,
 * an unknown encoding) is refused with 502 before its status goes out, unless the route passes it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { BodyCapturer, captureBody } from '../audit/index.js';
import type { MaskRule } from '../contract/index.js';
import { hasBody } from './body.js';
import { UnmaskableRequest, type HttpError } from './errors.js';
import { assertMaskable, MaskingFailed, UNMASKABLE_PASSED } from './masking.js';
import { addCounts, type Exchange } from './exchange.js';
import type { UpstreamResponse } from './forward.js';
import { clientHeaders } from './headers.js';
import { relay } from './relay.js';
import type { MaskService } from './services.js';

/** Responses up to this size with a content-length are read whole and masked in one call, not streamed. */
const ONE_SHOT_BYTES = 64 * 1024;

/** Whether a response to be masked arrives whole and small enough to be masked in one call. */
function maskOneShot(method: string, up: UpstreamResponse): boolean {
  if (method === 'HEAD' || up.statusCode === 204 || up.statusCode === 304) return false;
  const encoding = up.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return false;
  const length = Number(up.headers['content-length']);
  return length > 0 && length <= ONE_SHOT_BYTES;
}

/** The body sent upstream: the read JSON or form (masked if the policy says so) or the client's stream. */
export function requestBody(x: Exchange, req: IncomingMessage, masker: MaskService, rules: MaskRule[], read: { raw: Buffer | null; body: unknown; form: boolean }): Buffer | Readable | null {
  if (read.raw) {
    if (!rules.length) return read.raw;
    const text = read.raw.toString('utf8');
    const masked = read.form ? inPlace(masker.maskUrlEncoded(rules, text, 0), 'body') : masker.maskJson(rules, text);
    addCounts(x.masked, masked.counts);
    return Object.keys(masked.counts).length ? Buffer.from(masked.text, 'utf8') : read.raw;
  }
  if (!hasBody(req)) return null;
  // A pass-through of our own, so undici tearing down the body on failure leaves the client's
  // socket open for the 502.
  if (!rules.length) return req.pipe(new PassThrough());
  const out = masker.maskStream(rules, req.headers['content-encoding'], 'request');
  x.streamMaskers.push(out);
  req.pipe(out);
  return out;
}

/**
 * Answers the client with the upstream's response, masked by `rules` (none: as it comes): a small
 * whole body in one call, anything else as a stream; the audit log keeps what the client received.
 * `failed` turns an upstream fault into the client's error (and counts it).
 */
export async function sendResponse(
  x: Exchange, res: ServerResponse, up: UpstreamResponse, maskService: MaskService, rules: MaskRule[], unmaskable: 'refuse' | 'pass', bodyCap: number, signal: { readonly aborted: boolean }, failed: (err: unknown) => HttpError,
): Promise<void> {
  if (rules.length && maskOneShot(x.method, up)) {
    let whole: Buffer;
    try {
      whole = Buffer.from(await up.body.arrayBuffer());
    } catch (err) {
      if (signal.aborted) return;
      throw failed(err);
    }
    let masked: { body: Buffer; counts: Record<string, number> };
    try {
      masked = maskService.maskBody(rules, whole);
    } catch (err) {
      if (unmaskable === 'refuse' || !(err instanceof MaskingFailed)) throw err;
      masked = { body: whole, counts: { [UNMASKABLE_PASSED]: 1 } };
    }
    addCounts(x.masked, masked.counts);
    const captured = captureBody(masked.body, bodyCap);
    x.response = { bytes: captured.bytes, finish: () => captured };
    // Framed as the streamed path frames a masked body (chunked, no length), so clients see one behaviour.
    res.writeHead(up.statusCode, clientHeaders(up.headers, x.id, true, valueMasker(x, maskService, rules)));
    res.end(masked.body);
    return;
  }
  let masker: ReturnType<MaskService['maskStream']> | null = null;
  let source: Readable = up.body;
  try {
    if (rules.length) {
      masker = maskService.maskStream(rules, up.headers['content-encoding'] as string | undefined, 'response');
      // Binary is judged on the first chunk before the status goes out, so it can still be refused.
      if (!up.headers['content-encoding'] || up.headers['content-encoding'] === 'identity') {
        const peeked = await peekText(up.body);
        source = peeked.source;
        if (peeked.refused) throw peeked.refused;
      }
    }
  } catch (err) {
    if (unmaskable === 'refuse' || !(err instanceof MaskingFailed)) {
      source.destroy();
      up.body.destroy();
      throw err;
    }
    masker = null;
    addCounts(x.masked, { [UNMASKABLE_PASSED]: 1 });
  }
  if (masker) x.streamMaskers.push(masker);
  res.writeHead(up.statusCode, clientHeaders(up.headers, x.id, masker !== null, masker ? valueMasker(x, maskService, rules) : undefined));
  // The audit log keeps what the client receives (masked), hashed as it streams past: a second
  // reader of the chunks piped to the client, so nothing is buffered beyond the capture's cap.
  const capture = (x.response = new BodyCapturer(bodyCap));
  (masker ?? source).on('data', (chunk: Buffer) => capture.update(chunk));
  try {
    await relay(source, masker, res);
  } catch (err) {
    // The client leaving is its own business; anything else is the upstream failing mid-body,
    // and with the status already sent the only honest signal left is a reset.
    if (!signal.aborted) x.error = failed(err).error;
    res.destroy();
  }
}

/**
 * The body with its first chunk read ahead (and handed on before the rest), and MaskingFailed if
 * that chunk shows the body is not text.
 */
async function peekText(body: Readable): Promise<{ source: Readable; refused: MaskingFailed | null }> {
  const first = await new Promise<Buffer | null>((resolve, reject) => {
    const done = (v: Buffer | null, err?: Error) => {
      body.off('data', onData).off('end', onEnd).off('error', onError);
      if (err) reject(err);
      else resolve(v);
    };
    const onData = (chunk: Buffer) => {
      body.pause();
      done(chunk);
    };
    const onEnd = () => done(null);
    const onError = (err: Error) => done(null, err);
    body.on('data', onData).once('end', onEnd).once('error', onError);
  });
  if (!first) return { source: body, refused: null };
  const source = new PassThrough();
  source.write(first);
  body.on('error', (err) => source.destroy(err));
  source.once('close', () => body.destroy());
  body.pipe(source);
  try {
    assertMaskable(first);
    return { source, refused: null };
  } catch (err) {
    return { source, refused: err as MaskingFailed };
  }
}

/**
 * The request target sent upstream: when the policy masks the request, masked as the upstream
 * decodes it (mask/url-encoded.ts), or refused when a finding cannot be masked in place.
 */
export function requestTarget(x: Exchange, masker: MaskService, rules: MaskRule[], target: string): string {
  if (!rules.length) return target;
  const query = target.indexOf('?');
  const masked = inPlace(masker.maskUrlEncoded(rules, target, query < 0 ? target.length : query + 1), 'target');
  addCounts(x.masked, masked.counts);
  return masked.text;
}

/** URL-encoded text masked in place, or the request refused: it cannot go upstream with card data in it. */
function inPlace<T extends { inPlace: boolean }>(masked: T, part: 'target' | 'body'): T {
  if (!masked.inPlace) throw new UnmaskableRequest(part);
  return masked;
}

/** Masks a header value by `rules`, counting what it masks with the body's. */
export function valueMasker(x: Exchange, maskService: MaskService, rules: MaskRule[]): (value: string) => string {
  return (value) => {
    const masked = maskService.maskText(rules, value);
    addCounts(x.masked, masked.counts);
    return masked.text;
  };
}
