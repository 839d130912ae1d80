/**
 * JSON bodies: collected (up to a limit) and masked parsed, so path rules apply and a PAN sent as a
 * bare number can become a string; nothing masked means the original bytes go out unchanged. A
 * body that is not JSON after all is masked as text. Beyond the limit, a body is masked as a text
 * stream when the plan has no path rules, and refused when it has (a path cannot be honoured
 * without parsing, and failing open would leak the field).
 */
import { MaskBodyError } from './errors.js';
import { maskJson } from './json.js';
import { addCount, type MaskCounts } from './pass.js';
import { maskText, type MaskPlan } from './plan.js';
import { TextStreamMasker, type TextMasker } from './stream-text.js';

export const DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024;

export class JsonBodyMasker implements TextMasker {
  private parts: string[] = [];
  private size = 0;
  private streaming: TextStreamMasker | undefined;

  constructor(private readonly plan: MaskPlan, private readonly counts: MaskCounts, private readonly maxChars = DEFAULT_MAX_JSON_BYTES) {}

  push(text: string): string {
    if (this.streaming) return this.streaming.push(text);
    this.parts.push(text);
    this.size += text.length;
    if (this.size <= this.maxChars) return '';
    if (this.plan.paths.length > 0) {
      throw new MaskBodyError(`JSON body exceeds ${this.maxChars} characters and the mask plan has path rules (${this.plan.paths.map((p) => p.path.source).join(', ')}) that need it parsed`);
    }
    this.streaming = new TextStreamMasker(this.plan, this.counts);
    const held = this.parts.join('');
    this.parts = [];
    return this.streaming.push(held);
  }

  end(): string {
    if (this.streaming) return this.streaming.end();
    const text = this.parts.join('');
    this.parts = [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      const r = maskText(this.plan, text);
      for (const [k, n] of Object.entries(r.counts)) addCount(this.counts, k, n);
      return r.text;
    }
    const r = maskJson(this.plan, parsed);
    if (Object.keys(r.counts).length === 0) return text;
    for (const [k, n] of Object.entries(r.counts)) addCount(this.counts, k, n);
    return JSON.stringify(r.value);
  }
}
