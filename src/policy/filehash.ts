/**
 * OPA's bundle file digests (bundle/hash.go), byte for byte, so signatures made by `opa build
 * --signing-key` verify here and ours verify in `opa`. Structured files (`data.json`,
 * `.manifest`) are hashed over a canonical form: objects with keys in byte order, no whitespace,
 * strings re-encoded as Go's encoder writes them (no HTML escaping), and numbers exactly as they
 * are written in the file (OPA parses them as json.Number). Every other file is hashed raw.
 */
import { createHash } from 'node:crypto';
import { BundleError } from './errors.js';

/** OPA's algorithm names → node:crypto's. */
const ALGORITHMS: Record<string, string> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512-224': 'sha512-224',
  'SHA-512-256': 'sha512-256',
};

/** True for the files OPA hashes structurally (bundle.IsStructuredDoc). */
export function isStructured(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return base === 'data.json' || base === '.manifest';
}

/** Hex digest of a bundle file as OPA computes it. */
export function hashBundleFile(name: string, bytes: Uint8Array, algorithm = 'SHA-256'): string {
  const node = ALGORITHMS[algorithm];
  if (!node) throw new BundleError(`${name}: unsupported hashing algorithm ${JSON.stringify(algorithm)}`, { file: name });
  const hash = createHash(node);
  hash.update(isStructured(name) ? canonicalJson(name, bytes) : bytes);
  return hash.digest('hex');
}

/** The canonical byte string OPA hashes for a structured file. */
export function canonicalJson(name: string, bytes: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const parser = new Canonicaliser(name, text);
  try {
    const out = parser.value();
    parser.end();
    return out;
  } catch (err) {
    if (err instanceof RangeError) throw new BundleError(`${name} nests JSON too deeply to hash`, { cause: err, file: name });
    throw err;
  }
}

/** Go's json.Encoder string form with SetEscapeHTML(false) (Go 1.22+: \b and \f short forms). */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd';
    else out += ch;
  }
  return `${out}"`;
}

const utf8 = new TextEncoder();
function byteOrder(a: string, b: string): number {
  return Buffer.compare(utf8.encode(a), utf8.encode(b));
}

/** A strict JSON reader that emits the canonical form while it parses. */
class Canonicaliser {
  private i = 0;
  constructor(private readonly name: string, private readonly s: string) {}

  private fail(what: string): never {
    throw new BundleError(`${this.name} is not valid JSON: ${what} at offset ${this.i}`, { file: this.name });
  }

  private ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i]!)) this.i++;
  }

  end(): void {
    this.ws();
    if (this.i !== this.s.length) this.fail('trailing characters');
  }

  value(): string {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return goJsonString(this.string());
    for (const lit of ['true', 'false', 'null']) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return lit;
      }
    }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail('unexpected character');
    this.i += m[0].length;
    return m[0];
  }

  private object(): string {
    this.i++;
    const members = new Map<string, string>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return '{}';
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a key');
      const key = this.string();
      this.ws();
      if (this.s[this.i++] !== ':') this.fail('expected ":"');
      members.set(key, this.value());
      this.ws();
      const sep = this.s[this.i++];
      if (sep === '}') break;
      if (sep !== ',') this.fail('expected "," or "}"');
    }
    const keys = [...members.keys()].sort(byteOrder);
    return `{${keys.map((k) => `${goJsonString(k)}:${members.get(k)}`).join(',')}}`;
  }

  private array(): string {
    this.i++;
    const items: string[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return '[]';
    }
    for (;;) {
      items.push(this.value());
      this.ws();
      const sep = this.s[this.i++];
      if (sep === ']') break;
      if (sep !== ',') this.fail('expected "," or "]"');
    }
    return `[${items.join(',')}]`;
  }

  private string(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        try {
          return JSON.parse(this.s.slice(start, this.i)) as string;
        } catch {
          this.i = start;
          this.fail('malformed string');
        }
      }
      this.i += c === '\\' ? 2 : 1;
    }
    return this.fail('unterminated string');
  }
}
