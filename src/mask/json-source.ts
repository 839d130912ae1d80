/**
 * JSON read from its source text, for masking without loss: a tree whose every node knows where it
 * stands in the text, so a masker replaces only the values it changes and every other byte (number
 * spellings beyond 2^53, escapes, white space, key order, duplicate keys) goes out as it came in.
 * Parsing is iterative, so nesting depth costs heap, not stack. Anything `JSON.parse` refuses is
 * refused here too (undefined), and the caller masks it as text.
 */

export type JsonNode = JsonObject | JsonArray | JsonString | JsonScalar;
interface Span {
  start: number;
  end: number;
}
export interface JsonObject extends Span {
  kind: 'object';
  entries: { key: JsonString; value: JsonNode }[];
}
export interface JsonArray extends Span {
  kind: 'array';
  items: JsonNode[];
}
export interface JsonString extends Span {
  kind: 'string';
  value: string;
}
/** A number (its source text is its value) or `true`, `false`, `null`. */
export interface JsonScalar extends Span {
  kind: 'number' | 'literal';
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WS = /[ \t\n\r]*/y;

class Invalid extends Error {}

/** The document's tree, or undefined when `text` is not one JSON value. */
export function parseJsonSource(text: string): JsonNode | undefined {
  try {
    return new Parser(text).document();
  } catch (err) {
    if (err instanceof Invalid) return undefined;
    throw err;
  }
}

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  document(): JsonNode {
    const root = this.value();
    this.ws();
    if (this.i !== this.text.length) throw new Invalid();
    return root;
  }

  private ws(): void {
    WS.lastIndex = this.i;
    WS.exec(this.text);
    this.i = WS.lastIndex;
  }

  /** One value; containers are filled by an explicit stack, not by recursion. */
  private value(): JsonNode {
    const stack: (JsonObject | JsonArray)[] = [];
    for (;;) {
      // Read a value (a scalar, or the opening of a container).
      this.ws();
      const c = this.text[this.i];
      let node: JsonNode;
      if (c === '{' || c === '[') {
        const open: JsonObject | JsonArray = c === '{' ? { kind: 'object', start: this.i, end: -1, entries: [] } : { kind: 'array', start: this.i, end: -1, items: [] };
        this.i++;
        this.ws();
        if (this.text[this.i] === (c === '{' ? '}' : ']')) {
          open.end = ++this.i;
          node = open;
        } else {
          stack.push(open);
          if (open.kind === 'object') this.key(open);
          continue;
        }
      } else {
        node = this.scalar();
      }
      // Attach it, closing every container it completes.
      for (;;) {
        const top = stack.at(-1);
        if (!top) return node;
        if (top.kind === 'object') top.entries.at(-1)!.value = node;
        else top.items.push(node);
        this.ws();
        const d = this.text[this.i++];
        if (d === ',') {
          if (top.kind === 'object') this.key(top);
          break;
        }
        if (d !== (top.kind === 'object' ? '}' : ']')) throw new Invalid();
        top.end = this.i;
        node = stack.pop()!;
      }
    }
  }

  /** An object's next key and its colon; the value is attached when read. */
  private key(obj: JsonObject): void {
    this.ws();
    if (this.text[this.i] !== '"') throw new Invalid();
    const key = this.string();
    this.ws();
    if (this.text[this.i++] !== ':') throw new Invalid();
    obj.entries.push({ key, value: undefined as unknown as JsonNode });
  }

  private scalar(): JsonNode {
    const c = this.text[this.i];
    const start = this.i;
    if (c === '"') return this.string();
    for (const lit of ['true', 'false', 'null']) {
      if (this.text.startsWith(lit, start)) {
        this.i += lit.length;
        return { kind: 'literal', start, end: this.i };
      }
    }
    NUMBER.lastIndex = start;
    if (!NUMBER.exec(this.text)) throw new Invalid();
    this.i = NUMBER.lastIndex;
    return { kind: 'number', start, end: this.i };
  }

  private string(): JsonString {
    const start = this.i;
    const scan = scanString(this.text, start);
    if (scan < 0) throw new Invalid();
    this.i = (scan >> 1) + 1;
    const raw = this.text.slice(start, this.i);
    if ((scan & 1) === 0) return { kind: 'string', start, end: this.i, value: raw.slice(1, -1) };
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new Invalid();
    }
    return { kind: 'string', start, end: this.i, value: value as string };
  }
}

/**
 * The string whose opening quote is at `start`: where its closing quote is, times two, plus one if
 * it holds escapes (their validity is JSON.parse's to judge), or -1 when it is not closed or holds
 * a raw control character. One number, so the screen (json-screen.ts) allocates nothing per string.
 */
export function scanString(text: string, start: number): number {
  let escaped = 0;
  let j = start + 1;
  for (;;) {
    const c = text.charCodeAt(j);
    // NaN (the end) and raw control characters are not JSON.
    if (!(c >= 0x20)) return -1;
    if (c === 0x22) return j * 2 + escaped;
    if (c === 0x5c) {
      escaped = 1;
      j += 2;
    } else {
      j++;
    }
  }
}

/** A replacement of [start, end) of a source text (an insertion when start === end). */
export interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The source with its edits applied; edits do not overlap, and come in any order. */
export function applyEdits(source: string, edits: Edit[]): string {
  if (edits.length === 0) return source;
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += source.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + source.slice(at);
}
