/**
 * Checks a JSON request body before anything parses it. Invalid UTF-8 would be silently turned into
 * U+FFFD by the decoder (the policy and the upstream would then see different bytes), and deep
 * nesting drives the recursive code downstream (JSON.stringify into the policy's Wasm memory, the
 * masker's tree walk, the audit's canonical JSON) into stack overflows. Both are refused with a
 * precise 400. The depth scan is one linear pass over the bytes, skipping strings.
 */
import { isUtf8 } from 'node:buffer';
import { HttpError } from './errors.js';

export class InvalidUtf8 extends HttpError {
  static override readonly code: string = 'ERR_INVALID_UTF8';
  constructor() {
    super(400, 'invalid_utf8', 'The JSON request body is not valid UTF-8.');
  }
}

export class JsonTooDeep extends HttpError {
  static override readonly code: string = 'ERR_JSON_TOO_DEEP';
  constructor(limit: number) {
    super(400, 'json_too_deep', `The JSON request body nests arrays and objects deeper than the gateway's limit of ${limit} levels.`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** The deepest nesting of `{`/`[` in the bytes, strings skipped; stops counting past `limit`. */
export function jsonDepth(bytes: Uint8Array, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) depth--;
  }
  return max;
}

/** Throws InvalidUtf8 or JsonTooDeep; otherwise the bytes are safe to parse. */
export function checkJsonBody(bytes: Buffer, maxDepth: number): void {
  if (!isUtf8(bytes)) throw new InvalidUtf8();
  if (jsonDepth(bytes, maxDepth) > maxDepth) throw new JsonTooDeep(maxDepth);
}
