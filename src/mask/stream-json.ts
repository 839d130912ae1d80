/**
 * JSON bodies: collected (up to a limit) and masked from their source (json.ts), so path rules
 * apply, a PAN sent as a bare number becomes a string, and every byte not masked goes out as it
 * came. A body that is not JSON after all is masked as text. Beyond the limit, a body is masked as a text
 * stream when the plan has no path rules, and refused when it has (a path cannot be honoured
 * without parsing, and failing open would leak the field).
 */
import { MaskBodyError } from './errors.js';
import { maskJsonText } from './json.js';
import { addCount, type MaskCounts } from './pass.js';
import type { MaskPlan } from './plan.js';
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
    const r = maskJsonText(this.plan, text);
    for (const [k, n] of Object.entries(r.counts)) addCount(this.counts, k, n);
    return r.text;
  }
}
