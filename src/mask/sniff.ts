/**
 * Which text masker a body needs, read from its first characters rather than its content type: an
 * upstream may label an event stream `text/plain`, `application/octet-stream` or
 * `application/x-ndjson`, and masking it as plain text would never see a card number split
 * across events. A body opening with an SSE field (`data:`, `event:`, `id:`, `retry:`) or comment
 * (`:`) is an event stream; one opening with `{` or `[` is JSON (masked as text if it does not
 * parse); anything else is text. Only the few characters needed to tell are held back.
 */
import type { MaskCounts } from './pass.js';
import { maskText, type MaskPlan } from './plan.js';
import { JsonBodyMasker } from './stream-json.js';
import { SseMasker } from './stream-sse.js';
import { TextStreamMasker, type TextMasker } from './stream-text.js';

const SSE_FIELDS = ['data:', 'event:', 'id:', 'retry:'];
const SSE_OPENING = /^(?:data|event|id|retry)(?::|\r|\n)|^:/;

export type BodyKind = 'sse' | 'json' | 'text';

/** The kind of a body that begins with `head`, or undefined while more characters could change it. */
export function sniff(head: string, final: boolean): BodyKind | undefined {
  // Leading BOM and white space skipped by index: this runs on every string the audit log stores.
  let i = 0;
  for (let c = head.charCodeAt(0); c === 0xfeff || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a; c = head.charCodeAt(++i));
  const first = head[i];
  if (first === '{' || first === '[') return 'json';
  const s = i === 0 ? head : head.slice(i);
  if (s === '') return final ? 'text' : undefined;
  if (SSE_OPENING.test(s)) return 'sse';
  // `dat` may yet be `data:`; a field name alone on its line is a field too (handled above).
  if (!final && SSE_FIELDS.some((f) => f.startsWith(s))) return undefined;
  return 'text';
}

export class SniffingMasker implements TextMasker {
  private head = '';
  private masker: TextMasker | undefined;

  constructor(private readonly plan: MaskPlan, private readonly counts: MaskCounts, private readonly maxJsonChars?: number) {}

  push(text: string): string {
    if (this.masker) return this.masker.push(text);
    this.head += text;
    return this.decide(false);
  }

  end(): string {
    return (this.masker ? '' : this.decide(true)) + this.masker!.end();
  }

  private decide(final: boolean): string {
    const kind = sniff(this.head, final);
    if (kind === undefined) return '';
    this.masker = kind === 'sse' ? new SseMasker(this.plan, this.counts) : kind === 'json' ? new JsonBodyMasker(this.plan, this.counts, this.maxJsonChars) : new TextStreamMasker(this.plan, this.counts);
    const head = this.head;
    this.head = '';
    return this.masker.push(head);
  }
}

/**
 * A whole text masked as the body it is (an event stream, JSON, or text): what the audit log's
 * redaction runs over every string it stores, so a recorded body gets the masking a response
 * would, card numbers split across events or spelled in escapes included.
 */
export function maskDocument(plan: MaskPlan, text: string): { text: string; counts: MaskCounts } {
  const kind = sniff(text, true);
  if (kind === 'text') return maskText(plan, text);
  const counts: MaskCounts = {};
  const masker = kind === 'sse' ? new SseMasker(plan, counts) : new JsonBodyMasker(plan, counts);
  return { text: masker.push(text) + masker.end(), counts };
}
