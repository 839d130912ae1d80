/**
 * Masking a JSON document from its source text: path rules replace whole fields, detectors run
 * over every string, every key and every number, and a JSON key names the context for a bare cvv
 * or expiry value. Only what the masker changes is rewritten (json-source.ts); a masked number
 * becomes a string, since `************1111` is not JSON. Of a number, the integer part of its exact
 * value is read as digits (a PAN sent as a number is an integer, in whatever notation:
 * `4111111111111111`, `4111111111111111.0`, `4.111111111111111e15` and `41111111111111110e-1` are
 * one card number to whoever parses them).
 * Text that is not JSON is masked as text.
 */
import { contextValue, keyContext } from './detectors.js';
import { applyFormat, FULL_MASK } from './format.js';
import { scanMask, scannable } from './json-scan.js';
import { applyEdits, parseJsonSource, type Edit, type JsonNode } from './json-source.js';
import { matched, START, step, type PathState } from './json-path.js';
import { addCount, type MaskCounts } from './pass.js';
import { maskText, type MaskPlan } from './plan.js';

/**
 * A JSON text masked without loss (`json` false: it was not JSON, and was masked as text): in one
 * scan of its source (json-scan.ts) when the plan allows, else by the walk over its tree.
 */
export function maskJsonText(plan: MaskPlan, text: string): { text: string; counts: MaskCounts; json: boolean } {
  if (plan.empty) return { text, counts: {}, json: true };
  if (!scannable(plan)) return maskJsonWalk(plan, text);
  const counts: MaskCounts = {};
  const edits = scanMask(new JsonMasker(plan, counts), text);
  if (edits) return { text: applyEdits(text, edits), counts, json: true };
  const r = maskText(plan, text);
  return { text: r.text, counts: r.counts, json: false };
}

/** The walk: parse the source into a tree, mask every key and leaf (the scan's reference in tests). */
export function maskJsonWalk(plan: MaskPlan, text: string): { text: string; counts: MaskCounts; json: boolean } {
  const counts: MaskCounts = {};
  if (plan.empty) return { text, counts, json: true };
  const root = parseJsonSource(text);
  if (!root) {
    const r = maskText(plan, text);
    return { text: r.text, counts: r.counts, json: false };
  }
  const edits: Edit[] = [];
  new JsonMasker(plan, counts).document(text, root, edits);
  return { text: applyEdits(text, edits), counts, json: true };
}

/** Strings up to this length are memoised by `short`, at most MEMO_SIZE of them. */
const SHORT = 64;
const MEMO_SIZE = 1024;

/** Where a node stands: its key, the node, and its parent's place (null at the root); shared, not copied. */
export type JsonPathTo = { parent: JsonPathTo; key: string | number; node: JsonNode } | null;

/** Shared by whole documents and SSE events: one decision per key and per leaf. */
export class JsonMasker {
  constructor(readonly plan: MaskPlan, readonly counts: MaskCounts) {}

  /** The path states after stepping into `key`. */
  enter(states: PathState[], key: string | number): PathState[] {
    if (states.length === 0) return states;
    return this.plan.paths.map((rule, i) => step(rule.path, states[i]!, key));
  }

  /** The path rule that claims a node in these states, if any. */
  claimed(states: PathState[]): number {
    return this.plan.paths.findIndex((rule, i) => matched(rule.path, states[i]!));
  }

  /**
   * Masks a document: the edits to its source. Leaves go to `leaf` (default: detectors over the
   * whole value), so the SSE masker can stream string leaves instead.
   */
  document(source: string, root: JsonNode, edits: Edit[], leaf: (node: JsonNode & { kind: 'string' }, path: JsonPathTo) => string | undefined = (n) => this.text(n.value)): void {
    const stack: { node: JsonNode; key: string | number | undefined; states: PathState[]; path: JsonPathTo }[] = [{ node: root, key: undefined, states: this.plan.paths.map(() => START), path: null }];
    while (stack.length) {
      const { node, key, states, path } = stack.pop()!;
      const rule = this.claimed(states);
      if (rule >= 0) {
        const claim = this.claim(rule, source, node);
        if (claim !== undefined) edits.push({ start: node.start, end: node.end, text: claim });
        continue;
      }
      if (node.kind === 'object') {
        // Children pushed last-first so they are visited in document order (streams depend on it).
        for (let e = node.entries.length - 1; e >= 0; e--) {
          const { key: k, value } = node.entries[e]!;
          const maskedKey = this.short(k.value);
          if (maskedKey !== undefined) edits.push({ start: k.start, end: k.end, text: JSON.stringify(maskedKey) });
          stack.push({ node: value, key: k.value, states: this.enter(states, k.value), path: { parent: path, key: k.value, node: value } });
        }
      } else if (node.kind === 'array') {
        for (let i = node.items.length - 1; i >= 0; i--) {
          const item = node.items[i]!;
          stack.push({ node: item, key: i, states: this.enter(states, i), path: { parent: path, key: i, node: item } });
        }
      } else if (node.kind !== 'literal') {
        const raw = source.slice(node.start, node.end);
        let masked = this.inContext(key, node.kind === 'string' ? node.value : raw);
        if (masked === undefined) masked = node.kind === 'string' ? leaf(node, path) : this.number(raw);
        if (masked !== undefined) edits.push({ start: node.start, end: node.end, text: JSON.stringify(masked) });
      }
    }
  }

  /**
   * A scalar leaf's value (a string's, or a number's source) in the cvv or expiry context its key
   * gives it, masked and counted; undefined when the key gives none or the value does not fit it.
   */
  inContext(key: string | number | undefined, value: string): string | undefined {
    const context = typeof key === 'string' ? keyContext(key, this.plan.formats) : undefined;
    if (!context || !contextValue(context.label, value)) return undefined;
    addCount(this.counts, context.detector);
    return applyFormat(value, context.format);
  }

  /** A whole field a path rule claims: counted under the path, formatted if it is a scalar. */
  private claim(rule: number, source: string, node: JsonNode): string | undefined {
    const raw = source.slice(node.start, node.end);
    if (raw === 'null') return undefined;
    const { path, format } = this.plan.paths[rule]!;
    addCount(this.counts, path.source);
    if (node.kind === 'string') return JSON.stringify(applyFormat(node.value, format));
    if (node.kind === 'number') return JSON.stringify(applyFormat(raw, format));
    return JSON.stringify(FULL_MASK);
  }

  /**
   * `text` for the short strings that repeat (keys, SSE labels): each distinct one is masked once
   * per masker (a bounded memo), since an event stream repeats them in every event.
   */
  short(value: string): string | undefined {
    if (value.length > SHORT) return this.text(value);
    // Made on first use: most documents the scan masks need no memo at all.
    const memo = (this.memo ??= new Map<string, { text: string; counts: MaskCounts } | null>());
    let m = memo.get(value);
    if (m === undefined) {
      const r = maskText(this.plan, value);
      m = r.text === value ? null : { text: r.text, counts: r.counts };
      if (memo.size < MEMO_SIZE) memo.set(value, m);
    }
    if (m === null) return undefined;
    this.add(m.counts);
    return m.text;
  }

  private memo: Map<string, { text: string; counts: MaskCounts } | null> | undefined;

  /** Detectors over a whole string; undefined when nothing changed. */
  text(value: string): string | undefined {
    const r = maskText(this.plan, value);
    if (r.text === value) return undefined;
    this.add(r.counts);
    return r.text;
  }

  /** Adds a masked value's counts (no entry arrays: this runs for every value masked). */
  private add(counts: MaskCounts): void {
    for (const k in counts) addCount(this.counts, k, counts[k]);
  }

  /**
   * A number token: the integer part of its value (sign included) read as text. Without an exponent
   * that is the digits before the point, and the rest is kept; with one, the value's digits are
   * worked out exactly (decimal shifting, no floating point) and a masked number is written out
   * plainly (`************1111`, plus its fraction's digits if it has one).
   */
  number(raw: string): string | undefined {
    const e = raw.search(/[eE]/);
    if (e < 0) {
      const point = raw.indexOf('.');
      const cut = point < 0 ? raw.length : point;
      const masked = this.short(raw.slice(0, cut));
      return masked === undefined ? undefined : masked + raw.slice(cut);
    }
    const value = exactValue(raw, e);
    if (value === null) return undefined;
    const masked = this.short(value.int);
    return masked === undefined ? undefined : masked + (value.frac ? `.${value.frac}` : '');
  }
}

/** Integer parts longer than this are no card number: not worked out (`1e999999999` stays as it is). */
const MAX_INT_DIGITS = 40;

/**
 * The exact value of a JSON number with an exponent (`e` at `e`) as sign-and-integer text and
 * fraction digits (trailing zeros dropped; none when the integer part is 0); null when its integer
 * part is longer than MAX_INT_DIGITS.
 */
export function exactValue(raw: string, e: number): { int: string; frac: string } | null {
  const sign = raw.startsWith('-') ? '-' : '';
  const mantissa = raw.slice(sign.length, e);
  const point = mantissa.indexOf('.');
  const digits = point < 0 ? mantissa : mantissa.slice(0, point) + mantissa.slice(point + 1);
  const shift = Number(raw.slice(e + 1)) - (point < 0 ? 0 : mantissa.length - point - 1);
  const significant = digits.replace(/^0+/, '');
  // Where the decimal point falls in `significant`: past its end for a large exponent.
  const at = significant.length + shift;
  if (at > MAX_INT_DIGITS) return null;
  // An integer part of 0 holds no card number: its fraction is not needed.
  if (significant === '' || at <= 0) return { int: `${sign}0`, frac: '' };
  const int = at >= significant.length ? significant + '0'.repeat(at - significant.length) : significant.slice(0, at);
  const frac = at >= significant.length ? '' : significant.slice(at).replace(/0+$/, '');
  return { int: sign + int, frac };
}
