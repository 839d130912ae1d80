/**
 * A pass is one combined RE2 pattern plus the code that decides its candidates. The same routine
 * masks a whole text at once and a stream piece by piece: a candidate is decided only when the
 * text already holds everything its decision can read, so both give the same output whatever the
 * chunk boundaries. A stream holds back only the tail where a match could still be forming.
 */
import type { CompiledPattern, Match } from './engine.js';

export type MaskCounts = Record<string, number>;

export interface Hit {
  start: number;
  end: number;
  replacement: string;
  detector: string;
  /** Findings this hit stands for (default 1; 0 when it finishes one counted before). */
  count?: number;
}

export interface Pass {
  pattern: CompiledPattern;
  /** How far past a candidate's start its decision may read: longest match plus one lookahead. */
  reach: number;
  /** The candidate's outcome, and where the search resumes (always after `m.start`). */
  decide(text: string, m: Match): { hit?: Hit; resume: number };
  /**
   * Whether a match starting at `p` could still reach past the end of `text` (an
   * over-approximation is safe: it only holds back more). Undefined: assume it always could.
   */
  mayContinue?(text: string, p: number): boolean;
  /**
   * Where the first match at or after `from` could start (never past it), or -1 when the pattern
   * cannot match there at all, found far cheaper than by asking RE2: most strings of a JSON body or
   * an audit record hold no candidate, and in those that do RE2 starts at the candidate instead of
   * scanning the same text again. Undefined: ask RE2 from `from`.
   */
  firstCandidate?(text: string, from: number): number;
  /**
   * Whether [from, to) of `text`, masked as a text of its own, could hold a match: the same test
   * as `firstCandidate`, bounded, so a JSON body can be screened string by string in its source
   * without slicing a string out of it (json-screen.ts). Undefined: it may (no cheap way to tell).
   */
  screen?(text: string, from: number, to: number): boolean;
  /**
   * Whether the search position `p` lies inside something the pass decides piece by piece (a long
   * digit run): the next candidate is then `p` itself, found or not by the pattern.
   */
  resumesInside?(text: string, p: number): boolean;
  /** Where a stream must hold back from, computed directly; undefined: from `reach` and `mayContinue`. */
  holdFrom?(text: string, from: number): number;
  /** Characters before the undecided text a decision may read (default 1). */
  context?: number;
}

export function addCount(counts: MaskCounts, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/**
 * Masks `text` from `from`, deciding candidates that start before `horizon`. Returns the masked
 * text of [from, decided) and `decided`: everything before it is final (all of `text` when
 * `horizon` is its length).
 */
export function maskSpan(pass: Pass, text: string, from: number, horizon: number, counts: MaskCounts): { out: string; decided: number } {
  let pos = from;
  let copied = from;
  let out = '';
  const prefilterBelow = pass.pattern.prefilterBelow ?? Infinity;
  while (pos < horizon) {
    let m: Match | null;
    if (pass.resumesInside?.(text, pos)) {
      m = { start: pos, end: pos + 1 };
    } else {
      if (pass.firstCandidate && text.length - pos < prefilterBelow) {
        const at = pass.firstCandidate(text, pos);
        if (at < 0 || at >= horizon) break;
        pos = at;
      }
      m = pass.pattern.next(text, pos);
      if (!m || m.start >= horizon) break;
    }
    const d = m.end > m.start ? pass.decide(text, m) : { resume: m.start + (isHigh(text, m.start) ? 2 : 1) };
    if (d.hit) {
      out += text.slice(copied, d.hit.start) + d.hit.replacement;
      copied = d.hit.end;
      const n = d.hit.count ?? 1;
      if (n > 0) addCount(counts, d.hit.detector, n);
    }
    pos = Math.max(d.resume, m.start + 1);
  }
  const decided = Math.min(text.length, Math.max(pos, horizon));
  return { out: out + text.slice(copied, decided), decided };
}

/** One-shot masking of a whole text by a pass. */
export function maskWhole(pass: Pass, text: string, counts: MaskCounts): string {
  return maskSpan(pass, text, 0, text.length, counts).out;
}

/** Incremental masking by one pass: `push` returns what is final, `end` the rest. */
export class StreamPass {
  private buf = '';
  /** buf[0, from) is already released; kept as context for lookbehind. */
  private from = 0;

  constructor(private readonly pass: Pass, private readonly counts: MaskCounts) {}

  /** Characters currently held back. */
  get held(): number {
    return this.buf.length - this.from;
  }

  push(chunk: string): string {
    if (chunk === '') return '';
    this.buf += chunk;
    const { out, decided } = maskSpan(this.pass, this.buf, this.from, this.horizon(), this.counts);
    this.release(decided);
    return out;
  }

  end(): string {
    const { out } = maskSpan(this.pass, this.buf, this.from, this.buf.length, this.counts);
    this.buf = '';
    this.from = 0;
    return out;
  }

  /** The first position whose candidate could still change with more text. */
  private horizon(): number {
    const len = this.buf.length;
    if (this.pass.holdFrom) return this.notMidPair(this.pass.holdFrom(this.buf, this.from));
    const start = Math.max(this.from, len - this.pass.reach);
    const may = this.pass.mayContinue;
    let h = len;
    if (!may) h = start;
    else for (let p = start; p < len; p++) if (may(this.buf, p)) {
      h = p;
      break;
    }
    return this.notMidPair(h);
  }

  /** Never release half of a surrogate pair: UTF-8 could not encode it, RE2 could not resume there. */
  private notMidPair(h: number): number {
    return h > this.from && isHigh(this.buf, h - 1) ? h - 1 : h;
  }

  private release(decided: number): void {
    // Keep the context decisions read (one character by default, more if a surrogate pair is cut).
    let keep = Math.max(0, decided - (this.pass.context ?? 1));
    const c = this.buf.charCodeAt(keep);
    if (keep > 0 && c >= 0xdc00 && c <= 0xdfff) keep--;
    this.buf = this.buf.slice(keep);
    this.from = decided - keep;
  }
}

function isHigh(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff;
}
