/**
 * The built-in detectors: `track`, `cvv` and `expiry` as one combined RE2 pass, `pan` / `pan_any`
 * as their own pass (pan-pass.ts), and custom detectors from policy data as a last one. Patterns find candidates without capture groups (the
 * fastest RE2 path); code classifies and validates them. Which detectors take part, and in which
 * format, comes from the mask rules.
 */
import type { MaskFormat } from '../contract/index.js';
import type { Match, RegexEngine } from './engine.js';
import { MaskRuleError } from './errors.js';
import { applyFormat, FULL_MASK } from './format.js';
import { isDigit, luhnValid } from './pan.js';
import type { Hit, Pass } from './pass.js';

export type BuiltinDetector = 'pan' | 'pan_any' | 'track' | 'cvv' | 'expiry';
export const BUILTIN_DETECTORS: readonly BuiltinDetector[] = ['pan', 'pan_any', 'track', 'cvv', 'expiry'];
/** The detectors of the combined RE2 pass. */
type LabelledDetector = 'track' | 'cvv' | 'expiry';
const RE2_DETECTORS: readonly LabelledDetector[] = ['track', 'cvv', 'expiry'];

export interface CustomDetector {
  name: string;
  /** RE2 syntax. Matches must not exceed `maxLength` (default 64): streams hold back that much. */
  pattern: string;
  validate?: 'luhn' | ((match: string) => boolean);
  maxLength?: number;
}

/** Labels that put a number in CVV or expiry context (case-insensitive, `_`/`-`/space optional). */
const CVV_LABELS = ['cvv2', 'cvv', 'cvc2', 'cvc', 'cvn2', 'cvn', 'cid', 'csc', 'card verification value', 'card verification code', 'card verification', 'security code'];
const EXPIRY_LABELS = ['expiration date', 'expiry date', 'exp date', 'expiration', 'expiry', 'expires', 'exp', 'valid thru', 'valid through', 'valid until', 'good thru'];
/** Between a label and its value: a closing quote, `:`/`=`/`is`, an opening quote, some spaces. */
const SEP = `["']?\\s{0,3}(?:[:=]|is)?\\s{0,3}["']?`;
const SEP_MAX = 10;
const labelSource = (labels: string[]) => `(?:${labels.map((l) => l.replace(/ /g, '[ _-]?')).join('|')})`;
const longest = (labels: string[]) => Math.max(...labels.map((l) => l.length));

const TRACK1 = `%?B\\d{12,19}\\^[^^\\r\\n]{2,26}\\^\\d{7}\\d{0,40}\\??`;
const TRACK2 = `;?\\d{12,19}=\\d{7}\\d{0,30}\\??`;
/**
 * MM/YY, MM-YYYY (a space either side of the separator allowed), or ISO 8601's YYYY-MM, YYYY/MM. An
 * ISO value takes the first digit of a day or a time after it (`2027-01-1`, `2027-01T1`) so that
 * `decideBuiltin` can tell a date, which no card carries, from an expiry: matched here, that digit
 * is held back with the rest in a stream, and a stream decides as one pass over the whole text does.
 */
const EXPIRY_VALUE = `(?:(?:0?[1-9]|1[0-2])\\s?[/-]\\s?(?:\\d{4}|\\d{2})\\b|(?:19|20)\\d{2}\\s?[/-]\\s?(?:0[1-9]|1[0-2])(?:[-/.T]\\d|\\b))`;
/** An ISO value with the start of a day or a time after its month: a date, not an expiry. */
const ISO_DATE = /(?:19|20)\d{2}\s?[/-]\s?(?:0[1-9]|1[0-2])[-/.T]\d$/i;
const SOURCES: Record<LabelledDetector, { source: string; maxLength: number }> = {
  track: { source: `${TRACK2}|${TRACK1}`, maxLength: 2 + 19 + 1 + 26 + 1 + 7 + 40 + 1 },
  cvv: { source: `${labelSource(CVV_LABELS)}${SEP}\\d{3,4}\\b`, maxLength: longest(CVV_LABELS) + SEP_MAX + 4 },
  expiry: { source: `${labelSource(EXPIRY_LABELS)}${SEP}${EXPIRY_VALUE}`, maxLength: longest(EXPIRY_LABELS) + SEP_MAX + 12 },
};

/** Prefix-closed shapes of what a match may look like so far (over-approximations, see Pass). */
const labelWords = (labels: string[]) => [...new Set(labels.map((l) => l.replace(/ /g, '')))];
// Built once: a stream asks CONTINUES about every position of its held-back tail on every push.
const CVV_WORDS = labelWords(CVV_LABELS);
const EXPIRY_WORDS = labelWords(EXPIRY_LABELS);
const CONTINUES: Record<LabelledDetector, (tail: string) => boolean> = {
  track: (t) => /^(?:;\d*(?:=\d*\??)?|%?(?:B\d*(?:\^[^^\r\n]*(?:\^\d*\??)?)?)?)$/.test(t) || /^\d+(?:=\d*\??)?$/.test(t),
  cvv: (t) => labelContinues(t, CVV_WORDS, /^["']?\s{0,3}(?:[:=]|is?)?\s{0,3}["']?\d{0,4}$/i),
  expiry: (t) => labelContinues(t, EXPIRY_WORDS, /^["']?\s{0,3}(?:[:=]|is?)?\s{0,3}["']?(?:\d{0,4}(?:\s?(?:[/-]\s?\d{0,4}(?:[-/.t]\d{0,2})?)?)?)$/i),
};

function labelContinues(tail: string, words: string[], rest: RegExp): boolean {
  if (!/^[a-z]/i.test(tail)) return false;
  // Compare letters only: separators inside a label are optional.
  let letters = '';
  let i = 0;
  for (; i < tail.length && letters.length < 32; i++) {
    const c = tail[i]!;
    if (/[a-z]/i.test(c)) letters += c.toLowerCase();
    else if (!/[ _-]/.test(c)) break;
  }
  if (i === tail.length && words.some((w) => w.startsWith(letters))) return true;
  for (const w of words) {
    if (!letters.startsWith(w)) continue;
    // Find where the label's letters end in the tail and test what follows.
    let seen = 0;
    let j = 0;
    while (j < tail.length && seen < w.length) if (/[a-z]/i.test(tail[j++]!)) seen++;
    if (rest.test(tail.slice(j))) return true;
  }
  return false;
}

export type Formats = Partial<Record<BuiltinDetector, MaskFormat>>;

/**
 * The combined pass for the track, cvv and expiry detectors in `formats`, or null when none is
 * active. It runs before the PAN pass: track data holds a PAN and is masked whole.
 */
export function builtinPass(engine: RegexEngine, formats: Formats): Pass | null {
  const active = RE2_DETECTORS.filter((d) => formats[d] !== undefined);
  if (active.length === 0) return null;
  const source = active.map((d) => SOURCES[d].source).join('|');
  const maxLength = Math.max(...active.map((d) => SOURCES[d].maxLength));
  const continues = active.map((d) => CONTINUES[d]);
  return {
    pattern: engine.compile(source, { ignoreCase: true, maxLength }),
    reach: maxLength + 1,
    decide: (text, m) => decideBuiltin(text, m, formats),
    mayContinue: (text, p) => {
      const tail = text.slice(p, p + maxLength + 1);
      return continues.some((c) => c(tail));
    },
    firstCandidate: firstBuiltinCandidate,
    screen: (text, from, to) => firstBuiltinCandidate(text, from, to) >= 0,
  };
}

/**
 * Where the first match of a built-in detector could start in `text` at or after `from` (and, with
 * `limit`, ends before it), found in one scan without RE2, or -1 when none can: track data needs a
 * run of 12+ digits directly followed by `=` or `^` (a card number alone is the PAN pass's, and
 * needs no RE2 call here); a cvv or expiry value needs 3+ digits and a label before it, and
 * every label starts with one of ten letter triples (`labelStart`), none of them hex (so ids,
 * hashes and revisions are not labels). Any non-ASCII character counts as a possible label, since
 * case folding maps some (ſ, K) onto ASCII letters. The position is a lower bound, never past a
 * match: track data may begin two characters before its digits (`%B`, `;`), and a label whose
 * triple holds a folded letter (`cſc`) up to two before the character that flagged it.
 */
function firstBuiltinCandidate(text: string, from: number, limit = text.length): number {
  let digits = 0;
  let run = 0;
  let label = -1;
  for (let i = from; i < limit; i++) {
    const c = text.charCodeAt(i);
    // One table load per character: this scan runs over every string the gateway masks or audits.
    // It stops as soon as a candidate could be complete: callers scan on from there after each match.
    switch (c < 128 ? CHAR_CLASS[c] : LABEL_FIRST) {
      case DIGIT:
        run++;
        if (++digits >= 3 && label >= 0) return Math.max(from, label - 2);
        break;
      case TRACK_SEPARATOR:
        // Track data: 12+ digits right before its first field separator (`=`, or `^` after `%B`).
        if (run >= 12) return Math.max(from, i - run - 2);
        run = 0;
        break;
      case LABEL_FIRST:
        run = 0;
        if (label < 0 && (c > 127 || labelStart(text, i))) {
          label = i;
          if (digits >= 3) return Math.max(from, label - 2);
        }
        break;
      default:
        run = 0;
    }
  }
  return -1;
}

const OTHER = 0;
const DIGIT = 1;
/** `=` and `^`: what follows the digits of track 2 and track 1 data. */
const TRACK_SEPARATOR = 2;
/** The first letter of a label (c, s, e, v, g in either case); non-ASCII characters count too. */
const LABEL_FIRST = 3;
const CHAR_CLASS = (() => {
  const t = new Uint8Array(128).fill(OTHER);
  for (let c = 48; c <= 57; c++) t[c] = DIGIT;
  t[61] = t[94] = TRACK_SEPARATOR;
  for (const l of 'csevgCSEVG') t[l.charCodeAt(0)] = LABEL_FIRST;
  return t;
})();

/**
 * Whether a cvv or expiry label may start at `i`: cvv, cvc, cvn, cid, csc, card v(erification),
 * sec(urity code), exp, val(id thru), goo(d thru), in any case. `card` is read to its `v` (no
 * letter of "card verification" has a non-ASCII case fold), so "card 4111…" is no label.
 */
function labelStart(text: string, i: number): boolean {
  const b = text.charCodeAt(i + 1) | 32;
  const c = text.charCodeAt(i + 2) | 32;
  switch (text.charCodeAt(i) | 32) {
    case 0x63: // c
      return b === 0x76 ? c === 0x76 || c === 0x63 || c === 0x6e : (b === 0x69 && c === 0x64) || (b === 0x73 && c === 0x63) || (b === 0x61 && c === 0x72 && cardV(text, i + 3));
    case 0x73: // s
      return b === 0x65 && c === 0x63;
    case 0x65: // e
      return b === 0x78 && c === 0x70;
    case 0x76: // v
      return b === 0x61 && c === 0x6c;
    case 0x67: // g
      return b === 0x6f && c === 0x6f;
    default:
      return false;
  }
}

/** `d`, an optional space, `_` or `-`, then `v`, from `i`: the rest of "card v" (any case). */
function cardV(text: string, i: number): boolean {
  if ((text.charCodeAt(i) | 32) !== 0x64) return false;
  const s = text.charCodeAt(i + 1);
  return ((s === 0x20 || s === 0x5f || s === 0x2d ? text.charCodeAt(i + 2) : s) | 32) === 0x76;
}

function decideBuiltin(text: string, m: Match, formats: Formats): { hit?: Hit; resume: number } {
  const body = text.slice(m.start, m.end);
  // Track data starts with a sentinel, `B` or a digit and has field separators; labels start with
  // a letter other than `b`.
  if (/^[;%Bb\d]/.test(body) && (body.includes('=') || body.includes('^'))) {
    return { hit: { start: m.start, end: m.end, replacement: FULL_MASK, detector: 'track' }, resume: m.end };
  }
  // A label and a date (`expires 2027-01-15`): no card's expiry has a day.
  if (ISO_DATE.test(body)) return { resume: m.end };
  // A label and its value: cvv values are bare digits, expiry values have a `/` or `-` in them.
  let v = m.end;
  while (v > m.start && isDigit(text, v - 1)) v--;
  let b = v - 1;
  while (b > m.start && text[b] === ' ') b--;
  const expiry = text[b] === '/' || text[b] === '-';
  if (expiry) {
    v = m.start;
    while (!isDigit(text, v)) v++;
  }
  const detector: LabelledDetector = expiry ? 'expiry' : 'cvv';
  const format = detector === 'cvv' ? 'full' : formats.expiry!;
  const replacement = text.slice(m.start, v) + applyFormat(text.slice(v, m.end), format);
  return { hit: { start: m.start, end: m.end, replacement, detector }, resume: m.end };
}

const GROUP_PREFIX = 'regate_custom_';
const DEFAULT_CUSTOM_MAX = 64;

/** One combined pass for the custom detectors named in `formats`. */
export function customPass(engine: RegexEngine, detectors: CustomDetector[], formats: Record<string, MaskFormat>): Pass | null {
  const active = detectors.filter((d) => formats[d.name] !== undefined);
  if (active.length === 0) return null;
  const maxLength = Math.max(...active.map((d) => d.maxLength ?? DEFAULT_CUSTOM_MAX));
  const source = active.map((d, i) => `(?P<${GROUP_PREFIX}${i}>${d.pattern})`).join('|');
  return {
    pattern: compileCustom(engine, source, maxLength, active),
    reach: maxLength + 1,
    decide(text, m) {
      const group = m.groups?.find((g) => g.startsWith(GROUP_PREFIX));
      const d = active[Number(group?.slice(GROUP_PREFIX.length))]!;
      const value = text.slice(m.start, m.end);
      if (!validates(d, value)) return { resume: m.end };
      return { hit: { start: m.start, end: m.end, replacement: applyFormat(value, formats[d.name]!), detector: d.name }, resume: m.end };
    },
  };
}

/** Compiles the combined pattern; when it fails, names the detector whose pattern is at fault. */
function compileCustom(engine: RegexEngine, source: string, maxLength: number, active: CustomDetector[]) {
  try {
    return engine.compile(source, { maxLength });
  } catch (err) {
    const culprit = active.find((d) => {
      try {
        engine.compile(d.pattern, { maxLength });
        return false;
      } catch {
        return true;
      }
    });
    const name = culprit ? JSON.stringify(culprit.name) : active.map((d) => JSON.stringify(d.name)).join(', ');
    throw new MaskRuleError(`custom detector ${name}: pattern is not valid RE2: ${(err as Error).message}`, { cause: err });
  }
}

function validates(d: CustomDetector, value: string): boolean {
  if (d.validate === undefined) return true;
  if (d.validate === 'luhn') return luhnValid(value.replace(/\D/g, ''));
  return d.validate(value);
}

/**
 * The context a JSON key gives its value: `{"cvv": "123"}` or `{"card_expiry": "12/27"}` has no
 * label in the value itself, so the key is the label. Keys are split into words (`cardCvv`,
 * `card_cvv`) and a trailing run of words must spell a label, or one half of an expiry date:
 * payment APIs keep the month and the year apart (`exp_month`/`exp_year`, `expirationMonth`,
 * `expiryYear`), and the two together are the card's expiry as surely as `12/29` is.
 */
export function keyContext(key: string, formats: Formats): KeyContext | undefined {
  if (!formats.cvv && !formats.expiry) return undefined;
  // Bodies repeat their keys (one per row): each distinct key is split into words once.
  let label = KEY_LABELS.get(key);
  if (label === undefined) {
    if (KEY_LABELS.size >= KEY_LABELS_MAX) KEY_LABELS.clear();
    KEY_LABELS.set(key, (label = keyLabel(key)));
  }
  if (label === null) return undefined;
  if (label === 'cvv') return formats.cvv ? { detector: 'cvv', format: 'full', label } : undefined;
  return formats.expiry ? { detector: 'expiry', format: formats.expiry, label } : undefined;
}

/** What a key names: a cvv, an expiry date, or the month or the year of one. */
export type KeyLabel = 'cvv' | 'expiry' | 'expiry_month' | 'expiry_year';
/** The detector a key's value is counted under and masked by, and what the key names (the value's shape). */
export interface KeyContext {
  detector: 'cvv' | 'expiry';
  format: MaskFormat;
  label: KeyLabel;
}

const KEY_LABELS = new Map<string, KeyLabel | null>();
const KEY_LABELS_MAX = 4096;
/** Keys naming half an expiry date: an expiry word, then a month or a year word (`exp_mm`, `expiryYear`). */
const EXPIRY_STEMS = ['exp', 'expiry', 'expiration'];
const parts = (ends: string[]) => EXPIRY_STEMS.flatMap((stem) => ends.map((end) => stem + end));
const EXPIRY_MONTH_WORDS = parts(['month', 'mon', 'mm']);
const EXPIRY_YEAR_WORDS = parts(['year', 'yr', 'yy', 'yyyy']);

/** The label a trailing run of the key's words spells, the first (longest) run that does. */
function keyLabel(key: string): KeyLabel | null {
  const words = key.split(/[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])/).filter(Boolean).map((w) => w.toLowerCase());
  for (let k = 0; k < words.length; k++) {
    const tail = words.slice(k).join('');
    if (CVV_WORDS.includes(tail)) return 'cvv';
    if (EXPIRY_WORDS.includes(tail)) return 'expiry';
    if (EXPIRY_MONTH_WORDS.includes(tail)) return 'expiry_month';
    if (EXPIRY_YEAR_WORDS.includes(tail)) return 'expiry_year';
  }
  return null;
}

/**
 * Whether the key spelled by [from, to) of `text` (a JSON key's source, no escapes in it) could give
 * its value a cvv or expiry context, told without slicing it out: `keyLabel` needs a trailing run of
 * its words to spell a label (or half an expiry date), so its letters and digits, lower-cased, must end in one. A
 * necessary condition only (`xcvv` passes it); the JSON screen sends such documents to the walk.
 */
export function keyMayNameLabel(text: string, from: number, to: number, formats: Formats): boolean {
  if (!formats.cvv && !formats.expiry) return false;
  let end = to;
  while (end > from && !isAsciiAlnum(text.charCodeAt(end - 1))) end--;
  if (end === from) return false;
  // Digits already have the 0x20 bit; letters get it: lower case.
  const candidates = KEY_WORDS_BY_LAST[text.charCodeAt(end - 1) | 32];
  if (!candidates) return false;
  words: for (const w of candidates) {
    let j = end - 1;
    for (let k = w.length - 2; k >= 0; k--) {
      let c: number;
      do {
        if (j <= from) continue words;
        c = text.charCodeAt(--j);
      } while (!isAsciiAlnum(c));
      if ((c | 32) !== w.charCodeAt(k)) continue words;
    }
    return true;
  }
  return false;
}

/** The label words by their last character (lower case): a key is compared with a few at most. */
const KEY_WORDS_BY_LAST: (string[] | undefined)[] = [];
for (const w of [...CVV_WORDS, ...EXPIRY_WORDS, ...EXPIRY_MONTH_WORDS, ...EXPIRY_YEAR_WORDS]) (KEY_WORDS_BY_LAST[w.charCodeAt(w.length - 1)] ??= []).push(w);

function isAsciiAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122);
}

const EXPIRY_WHOLE = new RegExp(`^\\s*${EXPIRY_VALUE}\\s*$`);
/** The shape of a value under each kind of key (a number's source, or a string's value). */
const KEY_VALUE: Record<KeyLabel, { test(value: string): boolean }> = {
  cvv: /^\s*\d{3,4}\s*$/,
  expiry: { test: (v: string) => EXPIRY_WHOLE.test(v) && !ISO_DATE.test(v.trimEnd()) },
  expiry_month: /^\s*(?:0?[1-9]|1[0-2])\s*$/,
  expiry_year: /^\s*(?:\d{2}|\d{4})\s*$/,
};

/** Whether a value under a key naming `label` has the shape of what the key names. */
export function contextValue(label: KeyLabel, value: string): boolean {
  return KEY_VALUE[label].test(value);
}
