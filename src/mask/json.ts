/**
 * Masking a parsed JSON value: path rules replace whole fields, detectors run over every string
 * (and every number and key, since a PAN may arrive as either), and a JSON key names the context
 * for a bare cvv or expiry value. A masked number becomes a string: `************1111` is not JSON.
 */
import { contextValue, keyContext } from './detectors.js';
import { applyFormat, FULL_MASK } from './format.js';
import { matched, START, step, type PathState } from './json-path.js';
import { addCount, type MaskCounts } from './pass.js';
import { maskText, type MaskPlan } from './plan.js';

export function maskJson(plan: MaskPlan, value: unknown): { value: unknown; counts: MaskCounts } {
  const counts: MaskCounts = {};
  if (plan.empty) return { value, counts };
  const walker = new JsonMasker(plan, counts);
  return { value: walker.node(value, undefined, plan.paths.map(() => START)), counts };
}

/** Shared by the parsed and the streaming JSON maskers: one decision per key and per leaf. */
export class JsonMasker {
  constructor(readonly plan: MaskPlan, readonly counts: MaskCounts) {}

  /** The path states after stepping into `key`. */
  enter(states: PathState[], key: string | number): PathState[] {
    return this.plan.paths.map((rule, i) => step(rule.path, states[i]!, key));
  }

  /** The path rule that claims a node in these states, if any. */
  claimed(states: PathState[]): number {
    return this.plan.paths.findIndex((rule, i) => matched(rule.path, states[i]!));
  }

  /** A whole field a path rule claims: counted under the path, formatted if it is a scalar. */
  claim(rule: number, value: unknown): unknown {
    if (value === null) return null;
    const { path, format } = this.plan.paths[rule]!;
    addCount(this.counts, path.source);
    return typeof value === 'string' || typeof value === 'number' ? applyFormat(String(value), format) : FULL_MASK;
  }

  /** A string or number leaf under `key`, not claimed by a path. */
  leaf(value: string | number, key: string | number | undefined): string | number {
    const text = String(value);
    const context = typeof key === 'string' ? keyContext(key, this.plan.formats) : undefined;
    if (context && contextValue(context.detector, text)) {
      addCount(this.counts, context.detector);
      return applyFormat(text, context.format);
    }
    return this.text(text, value);
  }

  /** Detectors over a string (keys included); numbers stay numbers unless something was masked. */
  text(text: string, original: string | number = text): string | number {
    const r = maskText(this.plan, text);
    if (r.text === text) return original;
    for (const [k, n] of Object.entries(r.counts)) addCount(this.counts, k, n);
    return r.text;
  }

  node(value: unknown, key: string | number | undefined, states: PathState[]): unknown {
    const rule = this.claimed(states);
    if (rule >= 0) return this.claim(rule, value);
    if (typeof value === 'string' || typeof value === 'number') return this.leaf(value, key);
    if (Array.isArray(value)) return value.map((v, i) => this.node(v, i, this.enter(states, i)));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[String(this.text(k))] = this.node(v, k, this.enter(states, k));
      return out;
    }
    return value;
  }
}
