/**
 * The `pan` / `pan_any` detector as a pass (pass.ts). RE2, or the JavaScript prefilter on short
 * strings, finds the first run of 12+ digits; the run is then decided in windows of WINDOW
 * characters: a digit of the window is hidden when any PAN covering it (pan.ts) hides it, which
 * needs PAN_MAX_LENGTH characters of context on each side and nothing more. A run longer than a
 * window is decided window by window (`resumesInside`), so a stream holds back at most one window
 * and its context of a digit run, and nothing of a text that ends outside one.
 */
import type { MaskFormat } from '../contract/index.js';
import type { CompiledPattern, RegexEngine } from './engine.js';
import { FULL_MASK } from './format.js';
import { digitAfterGap, digitBeforeGap, inGap, isDigit, isSeparatorCode, MAX_GAP, PAN_ANY_MIN_DIGITS, PAN_MAX_LENGTH, PAN_SEPARATOR_CLASS, pansStartingIn, shownDigits, type PanMode } from './pan.js';
import { isDigitCode } from './digits.js';
import type { Hit, Pass } from './pass.js';

/** Characters of a digit run decided at once. */
const WINDOW = 64;
/** Context a decision reads on either side of its window. */
const CONTEXT = PAN_MAX_LENGTH + 2;

/** The first 12 digits of a run: where RE2 finds a run long enough to hold a PAN. */
// \p{Nd}: digits of every script (digits.ts), not RE2's ASCII-only \d.
export const PAN_RUN_CANDIDATE = `\\p{Nd}(?:${PAN_SEPARATOR_CLASS}{0,${MAX_GAP}}\\p{Nd}){${PAN_ANY_MIN_DIGITS - 1}}`;
const CANDIDATE_LENGTH = PAN_ANY_MIN_DIGITS + (PAN_ANY_MIN_DIGITS - 1) * MAX_GAP;

/**
 * How far past the search position the JavaScript scan looks before RE2 takes over: a native RE2
 * call costs about 14 µs on a long text whatever it finds, the scan about 2 ns a character, so the
 * next card number of a dense text (one every 2 KB) is found sooner by the scan, and a text with
 * none is still searched by RE2 after the first few kilobytes.
 */
const SCAN_AHEAD = 4096;

export function panPass(engine: RegexEngine, mode: PanMode, format: MaskFormat): Pass {
  const re2 = engine.compile(PAN_RUN_CANDIDATE, { maxLength: CANDIDATE_LENGTH });
  const pattern: CompiledPattern = {
    ...(re2.prefilterBelow === undefined ? {} : { prefilterBelow: re2.prefilterBelow }),
    next(text, from) {
      const limit = Math.min(text.length, from + SCAN_AHEAD);
      const at = firstRun(text, from, limit);
      if (at >= 0 && at < limit) return { start: at, end: at + 1 };
      if (limit === text.length) return null;
      // A run still open at the limit may hold a card number: RE2 starts where it began.
      return re2.next(text, at < 0 ? limit : at);
    },
  };
  return {
    pattern,
    reach: WINDOW + CONTEXT + 2,
    context: CONTEXT + 2,
    decide: (text, m) => decideWindow(text, m.start, mode, format),
    firstCandidate: firstRun,
    screen: (text, from, to) => firstRun(text, from, to, false) >= 0,
    resumesInside: (text, p) => p > 0 && isRunChar(text, p) && isRunChar(text, p - 1),
    holdFrom,
  };
}

/** A digit, or a separator in a gap that joins two digits. */
function isRunChar(text: string, i: number): boolean {
  return isDigit(text, i) || inGap(text, i);
}

/** Which characters of a window (and its edges) are hidden: one decision at a time, so shared. */
const HIDDEN = new Uint8Array(WINDOW + 4 * MAX_GAP + 8);
const STARS = '*'.repeat(WINDOW + 4 * MAX_GAP + 8);

/**
 * Decides [w, X) of a digit run, X at most WINDOW on: the hit replaces it from its first hidden
 * digit to its last, and the search resumes at X (inside the run when it goes on).
 */
function decideWindow(text: string, w: number, mode: PanMode, format: MaskFormat): { hit?: Hit; resume: number } {
  // Over digits and whole gaps: a window ends before a digit, never inside a gap, so the next one
  // starts where `full` can tell whether its stretch goes on.
  let x = w;
  for (;;) {
    if (isDigit(text, x)) {
      if (x - w >= WINDOW) break;
      x++;
    } else {
      const next = x > w && isDigit(text, x - 1) ? digitAfterGap(text, x) : -1;
      if (next < 0) break;
      x = next;
    }
  }
  if (x === w) return { resume: w + 1 };
  // Hidden digits over [w - 1 - MAX_GAP, x + 1): the edges tell `full` whether its `****` began before w.
  const base = w - 1 - MAX_GAP;
  const hidden = HIDDEN.fill(0, 0, x + 3 - base);
  let spans = 0;
  pansStartingIn(text, base - PAN_MAX_LENGTH, x + 1, mode, (start, digits, n) => {
    if (start >= w && start < x) spans++;
    const { head, tail } = shownDigits(format, n);
    for (let k = head; k < n - tail; k++) {
      const p = digits[k]!;
      if (p >= base && p <= x) hidden[p - base] = 1;
    }
  });
  const isHidden = (p: number) => p >= base && hidden[p - base] === 1;
  let h0 = -1;
  let h1 = -1;
  for (let p = w; p < x; p++) {
    if (!isHidden(p)) continue;
    if (h0 < 0) h0 = p;
    h1 = p + 1;
  }
  if (h0 < 0) return { resume: x };
  let replacement = '';
  if (format === 'full') {
    // A gap closing the window between two hidden digits belongs to the stretch.
    const after = h1 < x ? digitAfterGap(text, h1) : -1;
    if (isHidden(after)) h1 = after;
    // One `****` per stretch of hidden digits (and the gaps between them), so not even the
    // grouping shows; a stretch that began in the window before goes on without a second one.
    let inStretch = h0 === w && (isHidden(w - 1) || isHidden(digitBeforeGap(text, w)));
    for (let p = h0; p < h1; p++) {
      if (isHidden(p)) {
        if (!inStretch) replacement += FULL_MASK;
        inStretch = true;
      } else if (inStretch && inGap(text, p) && isHidden(digitAfterGap(text, p))) {
        continue;
      } else {
        replacement += text[p];
        inStretch = false;
      }
    }
  } else {
    // Runs of hidden digits become runs of `*`; what lies between is copied in one slice.
    let copied = h0;
    for (let p = h0; p < h1; ) {
      if (!isHidden(p)) {
        p++;
        continue;
      }
      let q = p + 1;
      while (q < h1 && isHidden(q)) q++;
      replacement += text.slice(copied, p) + STARS.slice(0, q - p);
      copied = p = q;
    }
    replacement += text.slice(copied, h1);
  }
  // Counted where a PAN starts, so a PAN spanning two windows counts once.
  return { hit: { start: h0, end: h1, replacement, detector: mode, count: spans }, resume: x };
}

/**
 * Where a stream must hold back from: the start of a digit run the text ends in (it may go on into
 * a PAN), but no more than a window and its context of it; everything when the text ends elsewhere.
 */
function holdFrom(text: string, from: number): number {
  const len = text.length;
  const limit = Math.max(from, len - WINDOW - CONTEXT - 2);
  let i = len;
  while (i > limit) {
    if (isDigit(text, i - 1)) i--;
    else {
      // A gap after a digit: between two digits of the run, or at the text's end, where digits may follow.
      const before = digitBeforeGap(text, i);
      if (before < 0) break;
      i = before + 1;
    }
  }
  return i === len ? len : i;
}

/**
 * The JavaScript scan: where the first run of 12+ digits with gaps of up to MAX_GAP separators starts in [from,
 * limit), or -1; when cut short by `limit` inside a run (`cut`: the text goes on past it), where
 * that run began (callers look on from there). One table-free scan; RE2 answers the same question
 * past SCAN_AHEAD.
 */
function firstRun(text: string, from: number, limit = text.length, cut = limit < text.length): number {
  let digits = 0;
  let start = -1;
  let gap = 0;
  for (let i = from; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (isDigitCode(c)) {
      if (digits === 0) start = i;
      if (++digits >= PAN_ANY_MIN_DIGITS) return start;
      gap = 0;
    } else if (digits > 0 && gap < MAX_GAP && isSeparatorCode(c)) {
      gap++;
    } else {
      digits = 0;
      gap = 0;
    }
  }
  // Cut short by `limit`: where the run still open there began (past the limit: not found).
  return digits > 0 && cut ? start : -1;
}
