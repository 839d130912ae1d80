/**
 * URL-encoded text masked as its reader decodes it: a request target (path and query) and a form
 * body (`application/x-www-form-urlencoded`). A card number in either is found as a client wrote
 * it — raw, percent-encoded (`%34%31…`, `4111%201111…`, the UTF-8 of another script's digits) or
 * with `+` for a space (in a query, in a form) — because the masker reads the decoded text. Each
 * character the masker changed is then written back in place of that character's source, so the
 * text keeps its segments, `&`, `=` and whatever was percent-encoded stays so.
 *
 * A mask that changes the length (`full` masks a cvv as four stars, whatever its digits) cannot be
 * written back character by character: the text is then masked as written, and if its decoded form
 * still holds something the masker finds, it cannot be masked in place at all (`inPlace: false`,
 * with the decoded text masked, for a record; the gateway refuses to forward it).
 */

export interface UrlEncodedMasked {
  /** The text masked in place; or, when `inPlace` is false, the decoded text masked. */
  text: string;
  inPlace: boolean;
}

/** The text decoded, and for each UTF-16 unit of it the [start, end) of its source. */
interface Decoded {
  text: string;
  from: number[];
  to: number[];
}

/** `source` masked by `mask` as decoded; `+` is a space from `plusFrom` on (a query's start, 0 for a form). */
export function maskUrlEncoded(source: string, mask: (text: string) => string, plusFrom: number): UrlEncodedMasked {
  // Nothing encoded (most targets): the text is its own decoding, masked as it stands.
  if (!source.includes('%') && source.indexOf('+', plusFrom) < 0) return { text: mask(source), inPlace: true };
  const d = decode(source, plusFrom);
  const masked = mask(d.text);
  if (masked === d.text) return { text: source, inPlace: true };
  if (masked.length === d.text.length) {
    const inPlace = writeBack(source, d, masked);
    if (inPlace !== null) return { text: inPlace, inPlace: true };
  }
  const asWritten = mask(source);
  const again = decode(asWritten, plusFrom).text;
  return mask(again) === again ? { text: asWritten, inPlace: true } : { text: masked, inPlace: false };
}

/** `target` with each unit `masked` changed replaced at its source, or null when a change splits a source. */
function writeBack(target: string, d: Decoded, masked: string): string | null {
  let out = '';
  let at = 0;
  for (let k = 0; k < masked.length; k++) {
    if (masked.charCodeAt(k) === d.text.charCodeAt(k)) continue;
    // A surrogate pair shares one source: both its units must change to one character, which a mask never writes.
    if (d.from[k]! < at || isSurrogate(masked.charCodeAt(k)) || isSurrogate(d.text.charCodeAt(k))) return null;
    out += target.slice(at, d.from[k]) + encodeUnit(masked[k]!);
    at = d.to[k]!;
  }
  return out + target.slice(at);
}

function decode(target: string, plusFrom: number): Decoded {
  let text = '';
  const from: number[] = [];
  const to: number[] = [];
  const unit = (s: string, start: number, end: number) => {
    for (let k = 0; k < s.length; k++) {
      text += s[k];
      from.push(start);
      to.push(end);
    }
  };
  for (let i = 0; i < target.length; ) {
    const len = target.charCodeAt(i) === 0x25 ? encodedChar(target, i) : 0;
    if (len > 0) {
      const bytes = Buffer.from(target.slice(i, i + 3 * len).replaceAll('%', ''), 'hex');
      unit(bytes.toString('utf8'), i, i + 3 * len);
      i += 3 * len;
      continue;
    }
    // `+` is a space in a query or a form (forms encode spaces so); in a path it is itself.
    unit(i >= plusFrom && target[i] === '+' ? ' ' : target[i]!, i, i + 1);
    i++;
  }
  return { text, from, to };
}

/** How many `%XX` bytes from `i` spell one well-formed UTF-8 character (0: none; the `%` is itself). */
function encodedChar(s: string, i: number): number {
  const first = byteAt(s, i);
  if (first < 0) return 0;
  const len = first < 0x80 ? 1 : first >= 0xc2 && first < 0xe0 ? 2 : first >= 0xe0 && first < 0xf0 ? 3 : first >= 0xf0 && first < 0xf5 ? 4 : 0;
  if (len === 0) return 0;
  for (let k = 1; k < len; k++) {
    const b = byteAt(s, i + 3 * k);
    if (b < 0x80 || b > 0xbf) return 0;
  }
  // Overlong and surrogate forms decode to U+FFFD: read them as written.
  if (len > 1 && Buffer.from(s.slice(i, i + 3 * len).replaceAll('%', ''), 'hex').toString('utf8') === '\ufffd') return 0;
  return len;
}

function byteAt(s: string, i: number): number {
  if (s.charCodeAt(i) !== 0x25) return -1;
  const hex = s.slice(i + 1, i + 3);
  return /^[0-9A-Fa-f]{2}$/.test(hex) ? parseInt(hex, 16) : -1;
}

/** A masked character as a target may carry it: one that cannot change the target's structure as it is, the rest percent-encoded. */
function encodeUnit(c: string): string {
  return /^[A-Za-z0-9\-._~!$'()*,:@]$/.test(c) ? c : encodeURIComponent(c);
}

function isSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdfff;
}
