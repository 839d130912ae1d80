/**
 * Streaming text masking: the plan's passes chained, each holding back only the tail where one of
 * its matches could still be forming. Text maskers share this push/end shape, so the byte-level
 * transform (response.ts) drives raw text, SSE and JSON bodies alike.
 */
import { StreamPass, type MaskCounts } from './pass.js';
import type { MaskPlan } from './plan.js';

export interface TextMasker {
  /** Masked text that is final now (possibly empty). */
  push(text: string): string;
  /** Everything still held back, masked. */
  end(): string;
}

export class TextStreamMasker implements TextMasker {
  private readonly stages: StreamPass[];

  constructor(plan: MaskPlan, counts: MaskCounts) {
    this.stages = plan.passes.map((pass) => new StreamPass(pass, counts));
  }

  /** Characters held back across all passes. */
  get held(): number {
    return this.stages.reduce((n, s) => n + s.held, 0);
  }

  push(text: string): string {
    for (const stage of this.stages) text = stage.push(text);
    return text;
  }

  end(): string {
    let text = '';
    for (const stage of this.stages) text = stage.push(text) + stage.end();
    return text;
  }
}
