/**
 * JSON masked in one scan of its source, without a tree: the scan validates the document as the
 * source parser does (json-source.ts, which the differential tests hold to JSON.parse) and asks
 * each pass's bounded `screen` about every string, key and number's integer part where it stands;
 * only those that could hold a candidate are sliced out (or decoded, when they have escapes: an
 * escape may spell a digit or a separator) and masked, by the same JsonMasker calls the walk
 * makes. A key whose words could spell a cvv or expiry label has its value judged in that context,
 * as the walk does. Most answers hold no card data (an id, a score, a model name): for them this
 * is one scan and no allocation; building their tree and running every pass over every string
 * was the masking stage's whole cost on the allow path (bench/README.md, round 5).
 *
 * Plans the scan cannot serve (path rules, custom detectors without a screen) are walked
 * (json.ts). Text that is not JSON is masked as text by the caller, as the walk does.
 */
import { keyMayNameLabel } from './detectors.js';
import { scanString, type Edit } from './json-source.js';
import type { Pass } from './pass.js';
import type { MaskPlan } from './plan.js';

/** What the scan asks of json.ts's JsonMasker (declared here, so the two files do not import each other). */
export interface LeafMasker {
  readonly plan: MaskPlan;
  inContext(key: string | undefined, value: string): string | undefined;
  number(raw: string): string | undefined;
  text(value: string): string | undefined;
  short(value: string): string | undefined;
}

/** Whether `plan` can be applied by the scan: no path rules, and every pass can screen. */
export function scannable(plan: MaskPlan): boolean {
  return plan.paths.length === 0 && plan.passes.every((p) => p.screen !== undefined);
}

/**
 * The edits masking `text` needs (none: nothing to mask), made through `masker` (which counts
 * them), or undefined when `text` is not JSON (the caller drops the masker's counts).
 */
export function scanMask(masker: LeafMasker, text: string): Edit[] | undefined {
  try {
    return new Scan(masker, text).document();
  } catch (err) {
    if (err === INVALID) return undefined;
    throw err;
  }
}

const OBJECT = 1;
const ARRAY = 2;

class Invalid extends Error {}
const INVALID = new Invalid('not JSON');

class Scan {
  private i = 0;
  private readonly passes: readonly Pass[];
  private readonly edits: Edit[] = [];
  /** The key of the member whose value comes next when it may give a cvv/expiry context, else undefined. */
  private label: string | undefined;

  constructor(private readonly masker: LeafMasker, private readonly text: string) {
    this.passes = masker.plan.passes;
  }

  /** One value, containers followed by an explicit stack (nesting depth costs no call stack). */
  document(): Edit[] {
    const text = this.text;
    const stack: number[] = [];
    for (;;) {
      this.ws();
      const c = text.charCodeAt(this.i);
      if (c === 0x7b || c === 0x5b) {
        // `{` or `[`: empty, or pushed and its first member read. A context is a leaf's only.
        this.label = undefined;
        this.i++;
        this.ws();
        if (text.charCodeAt(this.i) === (c === 0x7b ? 0x7d : 0x5d)) {
          this.i++;
        } else {
          stack.push(c === 0x7b ? OBJECT : ARRAY);
          if (c === 0x7b) this.key();
          continue;
        }
      } else {
        this.scalar(c);
        this.label = undefined;
      }
      // After a value: a comma, or the close of its container (and of every container it closes).
      for (;;) {
        this.ws();
        const top = stack.length === 0 ? 0 : stack[stack.length - 1]!;
        if (top === 0) {
          if (this.i !== text.length) throw INVALID;
          return this.edits;
        }
        const d = text.charCodeAt(this.i++);
        if (d === 0x2c) {
          if (top === OBJECT) this.key();
          break;
        }
        if (d !== (top === OBJECT ? 0x7d : 0x5d)) throw INVALID;
        stack.pop();
      }
    }
  }

  private ws(): void {
    const text = this.text;
    let i = this.i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.i = i;
  }

  /** An object's key and its colon. */
  private key(): void {
    this.ws();
    if (this.text.charCodeAt(this.i) !== 0x22) throw INVALID;
    this.string(true);
    this.ws();
    if (this.text.charCodeAt(this.i++) !== 0x3a) throw INVALID;
  }

  private scalar(c: number): void {
    const text = this.text;
    if (c === 0x22) return this.string(false);
    for (const lit of LITERALS) {
      if (text.startsWith(lit, this.i)) {
        this.i += lit.length;
        return;
      }
    }
    this.number();
  }

  /** `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`, as the parser's pattern reads it. */
  private number(): void {
    const text = this.text;
    const start = this.i;
    let i = start;
    if (text.charCodeAt(i) === 0x2d) i++;
    const first = text.charCodeAt(i);
    if (first === 0x30) i++;
    else if (first >= 0x31 && first <= 0x39) i = digitsFrom(text, i);
    else throw INVALID;
    // The walk masks a number's integer part (sign included) as a text of its own.
    const candidate = this.label !== undefined || this.mayHold(text, start, i);
    if (text.charCodeAt(i) === 0x2e && isDigitCode(text.charCodeAt(i + 1))) i = digitsFrom(text, i + 1);
    let exponent = false;
    if ((text.charCodeAt(i) | 32) === 0x65) {
      let j = i + 1;
      const s = text.charCodeAt(j);
      if (s === 0x2b || s === 0x2d) j++;
      if (isDigitCode(text.charCodeAt(j))) {
        i = digitsFrom(text, j);
        exponent = true;
      }
    }
    this.i = i;
    // With an exponent the value's integer part is not where it stands (4.111111111111111e15): the walk works it out.
    if (!candidate && !exponent) return;
    const raw = text.slice(start, i);
    const masked = this.masker.inContext(this.label, raw) ?? this.masker.number(raw);
    if (masked !== undefined) this.edits.push({ start, end: i, text: JSON.stringify(masked) });
  }

  /** A string (opening quote at `i`): screened in place, decoded first when it has escapes. */
  private string(isKey: boolean): void {
    const text = this.text;
    const start = this.i;
    const scan = scanString(text, start);
    if (scan < 0) throw INVALID;
    const j = scan >> 1;
    this.i = j + 1;
    let value: string | undefined;
    let from = start + 1;
    let to = j;
    let s = text;
    if ((scan & 1) === 1) {
      try {
        value = JSON.parse(text.slice(start, j + 1)) as string;
      } catch {
        throw INVALID;
      }
      [s, from, to] = [value, 0, value.length];
    }
    const formats = this.masker.plan.formats;
    if (isKey) {
      const named = keyMayNameLabel(s, from, to, formats);
      const candidate = this.mayHold(s, from, to);
      if (named || candidate) value ??= text.slice(from, to);
      this.label = named ? value : undefined;
      const masked = candidate ? this.masker.short(value!) : undefined;
      if (masked !== undefined) this.edits.push({ start, end: j + 1, text: JSON.stringify(masked) });
      return;
    }
    if (this.label === undefined && !this.mayHold(s, from, to)) return;
    value ??= text.slice(from, to);
    const masked = this.masker.inContext(this.label, value) ?? this.masker.text(value);
    if (masked !== undefined) this.edits.push({ start, end: j + 1, text: JSON.stringify(masked) });
  }

  /**
   * Whether any pass could find a candidate in [from, to) of `s` read alone. A string at least as
   * long as a pass's `prefilterBelow` is not screened in JavaScript: its engine searches it faster,
   * as the walk always did, so it is masked outright.
   */
  private mayHold(s: string, from: number, to: number): boolean {
    for (const p of this.passes) if (to - from >= (p.pattern.prefilterBelow ?? Infinity) || p.screen!(s, from, to)) return true;
    return false;
  }
}

const LITERALS = ['true', 'false', 'null'];

function isDigitCode(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function digitsFrom(text: string, i: number): number {
  while (isDigitCode(text.charCodeAt(i))) i++;
  return i;
}
