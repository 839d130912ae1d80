/**
 * The byte-level streaming masker the gateway pipes a body through: decodes the content encoding,
 * picks the text masker by what the body is, whatever its label (sniff.ts: an event stream, JSON,
 * or other text), and emits identity-encoded, masked UTF-8. A body that is not UTF-8 text
 * (binary, or an encoding it cannot decode) cannot be masked and is refused: MaskBodyError. Compressed bodies are decoded and sent on uncompressed rather than re-encoded:
 * the gateway must drop `content-encoding` and `content-length` (see `outputEncoding`), every
 * HTTP client accepts identity, and it saves a compression pass per response. Asking the upstream
 * for identity instead is a good optimisation the gateway may add, but cannot be relied on.
 */
import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { MaskBodyError } from './errors.js';
import type { MaskCounts } from './pass.js';
import type { MaskPlan } from './plan.js';
import { SniffingMasker } from './sniff.js';
import type { TextMasker } from './stream-text.js';

export interface MaskerOptions {
  /** Largest JSON body (characters) masked parsed; see stream-json.ts for beyond. */
  maxJsonBytes?: number;
}

export type ResponseMasker = Transform & {
  /** Detector and path counts so far; final once the stream has ended. */
  counts(): MaskCounts;
  /** Always `identity`: the output is decoded, whatever came in. */
  readonly outputEncoding: 'identity';
};

/** The body's text masker, chosen from its first characters (the content type is not trusted). */
function textMasker(plan: MaskPlan, counts: MaskCounts, options: MaskerOptions): TextMasker {
  return new SniffingMasker(plan, counts, options.maxJsonBytes);
}

/** Bytes at the start of a body that decide whether it is text at all. */
const SNIFF_BYTES = 1024;

/**
 * UTF-8 text, or a refusal for a body that is binary: invalid UTF-8 or a NUL byte in its first
 * chunk (up to SNIFF_BYTES), before anything of it has gone out. Masking binary as text would
 * corrupt it without finding what it hides. Once a body has shown itself to be text, a stray
 * invalid byte later becomes U+FFFD (it cannot be part of a card number) rather than cutting the
 * answer off.
 */
class Utf8Text {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private sniffed = false;

  write(bytes: Uint8Array): string {
    if (!this.sniffed && bytes.length > 0) {
      this.sniffed = true;
      assertText(bytes);
    }
    return this.decoder.decode(bytes, { stream: true });
  }

  end(): string {
    return this.decoder.decode();
  }
}

/**
 * Throws MaskBodyError when the first chunk of an identity-encoded body shows it is binary (see
 * Utf8Text): the gateway asks before it sends the status, so it can still answer 502.
 */
export function assertText(first: Uint8Array, valid = isUtf8(first)): void {
  const head = first.subarray(0, SNIFF_BYTES);
  if (head.includes(0)) throw new MaskBodyError('the body holds NUL bytes: binary data cannot be masked');
  // A chunk that is UTF-8 throughout has a head that is (no decoder built for the common case).
  if (valid) return;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
  } catch (err) {
    throw new MaskBodyError('the body is not UTF-8 text: binary data cannot be masked', { cause: err });
  }
}

export function createResponseMasker(plan: MaskPlan, contentEncoding?: string, options: MaskerOptions = {}): ResponseMasker {
  const counts: MaskCounts = {};
  const masker = textMasker(plan, counts, options);
  const t = new BodyMasker(masker, decoderFor(contentEncoding)) as unknown as ResponseMasker;
  Object.defineProperty(t, 'counts', { value: () => ({ ...counts }) });
  Object.defineProperty(t, 'outputEncoding', { value: 'identity' });
  return t;
}

/**
 * A whole identity-encoded body masked in one call: the bytes the streaming masker would emit for
 * it, without a stream per response (the common small JSON answer arrives whole anyway).
 */
export function maskBody(plan: MaskPlan, body: Uint8Array, options: MaskerOptions = {}): { body: Buffer; counts: MaskCounts } {
  const counts: MaskCounts = {};
  const masker = textMasker(plan, counts, options);
  const valid = isUtf8(body);
  if (body.length > 0) assertText(body, valid);
  // One whole decode is what the stream's decoder gives chunk by chunk; the decoder is shared, as
  // a call without `stream` starts and ends its own state.
  const text = WHOLE_BODY.decode(body);
  const out = masker.push(text) + masker.end();
  // Valid UTF-8 decodes and encodes back to the same bytes: an unchanged text is the body as it came.
  if (valid && out === text) return { body: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength), counts };
  return { body: Buffer.from(out, 'utf8'), counts };
}

const WHOLE_BODY = new TextDecoder('utf-8', { ignoreBOM: true });

function decoderFor(encoding: string | undefined): Transform | undefined {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return undefined;
  if (e === 'gzip' || e === 'x-gzip') return createGunzip();
  if (e === 'deflate') return createInflate();
  if (e === 'br') return createBrotliDecompress();
  throw new MaskBodyError(`content-encoding ${JSON.stringify(encoding)} cannot be decoded for masking (supported: gzip, deflate, br, identity)`);
}

class BodyMasker extends Transform {
  private readonly utf8 = new Utf8Text();
  /** Nothing has been emitted yet. */
  private awaitingFirst = true;

  constructor(private readonly masker: TextMasker, private readonly decoder: Transform | undefined) {
    super();
    decoder?.on('data', (b: Buffer) => {
      try {
        this.emit_(this.masker.push(this.utf8.write(b)));
      } catch (err) {
        this.destroy(err as Error);
      }
    });
    decoder?.on('error', (err) => this.destroy(new MaskBodyError(`compressed body cannot be decoded: ${err.message}`, { cause: err })));
  }

  /**
   * Time to first byte: node corks the response socket until the event loop turns, and an upstream
   * that sends a burst (many SSE events in one read, or many reads at once) would have all of it
   * masked before any of it leaves. So the first output is the first event alone (any split gives
   * the same output), and once it is out the rest waits for one turn of the event loop.
   */
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.decoder) {
      this.decoder.write(chunk, () => cb());
      return;
    }
    let rest = '';
    try {
      let text = this.utf8.write(chunk);
      if (!this.awaitingFirst) {
        this.emit_(this.masker.push(text));
        return cb();
      }
      const cut = text.indexOf('\n\n') + 2;
      if (cut > 1) [text, rest] = [text.slice(0, cut), text.slice(cut)];
      this.emit_(this.masker.push(text));
      if (this.awaitingFirst) {
        this.emit_(this.masker.push(rest));
        return cb();
      }
    } catch (err) {
      return cb(err as Error);
    }
    setImmediate(() => {
      if (this.destroyed) return cb();
      try {
        this.emit_(this.masker.push(rest));
        cb();
      } catch (err) {
        cb(err as Error);
      }
    });
  }

  override _flush(cb: TransformCallback): void {
    const finish = () => {
      try {
        this.emit_(this.masker.push(this.utf8.end()) + this.masker.end());
        cb();
      } catch (err) {
        cb(err as Error);
      }
    };
    if (!this.decoder) return finish();
    this.decoder.once('end', finish);
    this.decoder.end();
  }

  private emit_(text: string): void {
    if (text === '') return;
    this.awaitingFirst = false;
    this.push(Buffer.from(text, 'utf8'));
  }
}
