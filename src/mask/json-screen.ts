/**
 * The JSON screen: one scan of a JSON body's source that tells whether masking it could change
 * anything, before any tree is built. Most answers hold no card data (an id, a score, a model
 * name), and building their tree, slicing out every string and running every pass over each was
 * the masking stage's whole cost on the allow path (bench/README.md, round 5). The scan validates
 * the document as JSON.parse does (json-source.ts's parser, which the differential tests hold to
 * JSON.parse) and asks each pass's `screen` about every string, key and number's integer part in
 * place; a key that could name a cvv or expiry context sends the document to the walk too. Only
 * strings with escapes are decoded (JSON.parse of that one string), since an escape may spell a
 * digit or a separator.
 *
 * The screen is a necessary condition: "clean" means no pass could find a candidate in any text
 * the walk would mask, so the walk would return the source unchanged. Anything it cannot vouch
 * for (path rules, custom detectors, text that is not JSON) goes to the walk.
 */
import { keyMayNameLabel } from './detectors.js';
import { scanString } from './json-source.js';
import type { Pass } from './pass.js';
import type { MaskPlan } from './plan.js';

/** Whether masking `text` as JSON by `plan` may change it; false only when it certainly cannot. */
export function jsonMayMask(plan: MaskPlan, text: string): boolean {
  if (plan.paths.length > 0) return true;
  for (const p of plan.passes) if (!p.screen) return true;
  return new Screen(plan, text).run();
}

const OBJECT = 1;
const ARRAY = 2;

class Invalid extends Error {}
/** Thrown to stop the scan at the first possible candidate. */
class Candidate extends Error {}
const INVALID = new Invalid();
const CANDIDATE = new Candidate();

class Screen {
  private i = 0;
  private readonly passes: readonly Pass[];

  constructor(private readonly plan: MaskPlan, private readonly text: string) {
    this.passes = plan.passes;
  }

  run(): boolean {
    try {
      this.document();
      return false;
    } catch (err) {
      if (err === INVALID || err === CANDIDATE) return true;
      throw err;
    }
  }

  /** One value, containers followed by an explicit stack (nesting depth costs no call stack). */
  private document(): void {
    const text = this.text;
    const stack: number[] = [];
    for (;;) {
      this.ws();
      const c = text.charCodeAt(this.i);
      if (c === 0x7b || c === 0x5b) {
        // `{` or `[`: empty, or pushed and its first member read.
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
      }
      // After a value: a comma, or the close of its container (and of every container it closes).
      for (;;) {
        this.ws();
        const top = stack.length === 0 ? 0 : stack[stack.length - 1]!;
        if (top === 0) {
          if (this.i !== text.length) throw INVALID;
          return;
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
    this.check(start, i);
    if (text.charCodeAt(i) === 0x2e && isDigitCode(text.charCodeAt(i + 1))) i = digitsFrom(text, i + 1);
    const e = text.charCodeAt(i) | 32;
    if (e === 0x65) {
      let j = i + 1;
      const s = text.charCodeAt(j);
      if (s === 0x2b || s === 0x2d) j++;
      if (isDigitCode(text.charCodeAt(j))) i = digitsFrom(text, j);
    }
    this.i = i;
  }

  /** A string (opening quote at `i`): checked in place, or decoded first when it has escapes. */
  private string(isKey: boolean): void {
    const text = this.text;
    const start = this.i;
    const scan = scanString(text, start);
    if (scan < 0) throw INVALID;
    const j = scan >> 1;
    this.i = j + 1;
    if ((scan & 1) === 0) {
      if (isKey && keyMayNameLabel(text, start + 1, j, this.plan.formats)) throw CANDIDATE;
      this.check(start + 1, j, text);
      return;
    }
    let value: string;
    try {
      value = JSON.parse(text.slice(start, j + 1)) as string;
    } catch {
      throw INVALID;
    }
    if (isKey && keyMayNameLabel(value, 0, value.length, this.plan.formats)) throw CANDIDATE;
    this.check(0, value.length, value);
  }

  /** Stops the scan when any pass could find a candidate in [from, to) of `s` read alone. */
  private check(from: number, to: number, s = this.text): void {
    for (const p of this.passes) if (p.screen!(s, from, to)) throw CANDIDATE;
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
