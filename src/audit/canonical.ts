/**
 * Canonical JSON (RFC 8785 JCS, restricted to what records hold): the one byte form of a record,
 * so its hash is reproducible by an auditor's own code. docs/audit-format.md §1 is the spec.
 * Hand-rolled rather than JSON.stringify with a sorted replacer: this runs once per request.
 */
import { AuditFormatError } from './errors.js';

/**
 * Serialises `value` canonically: sorted keys (UTF-16 order), no whitespace, integers only. With
 * `scrub`, every string, keys included, passes through it on the way out: the audit writer's
 * defence in depth costs no second walk and no copy of the record. String values under a key in
 * `keep` are written as they are.
 */
export function canonicalJson(value: unknown, scrub?: (s: string) => string, keep?: ReadonlySet<string>): string {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes exactly as JCS does (a lone surrogate too, as a \u escape).
      return JSON.stringify(scrub ? scrub(value) : value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new AuditFormatError(`canonical JSON holds only safe integers, got ${value}`);
      return value === 0 ? '0' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i] ?? null, scrub, keep);
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      if (scrub && keys.some((k) => scrub(k) !== k)) return canonicalJson(renamed(obj, scrub), scrub, keep);
      let out = '{';
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        out += (out.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v, typeof v === 'string' && keep?.has(k) ? undefined : scrub, keep);
      }
      return out + '}';
    }
    default:
      throw new AuditFormatError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/**
 * The object with its keys scrubbed (rare: a key holding card data), so they sort as written. Keys
 * that scrub to the same name keep the last value, as JSON.parse would.
 */
function renamed(obj: Record<string, unknown>, scrub: (s: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(obj)) out[scrub(k)] = obj[k];
  return out;
}

/** The canonical bytes of `value`. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
