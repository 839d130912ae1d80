/**
 * Canonical JSON (RFC 8785 JCS, restricted to what records hold): the one byte form of a record,
 * so its hash is reproducible by an auditor's own code. docs/audit-format.md §1 is the spec.
 * Hand-rolled rather than JSON.stringify with a sorted replacer: this runs once per request.
 */
import { AuditFormatError } from './errors.js';

/** Serialises `value` canonically: sorted keys (UTF-16 order), no whitespace, integers only. */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes exactly as JCS does (a lone surrogate too, as a \u escape).
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new AuditFormatError(`canonical JSON holds only safe integers, got ${value}`);
      return value === 0 ? '0' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i] ?? null);
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      let out = '{';
      for (const k of Object.keys(obj).sort()) {
        const v = obj[k];
        if (v === undefined) continue;
        out += (out.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v);
      }
      return out + '}';
    }
    default:
      throw new AuditFormatError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/** The canonical bytes of `value`. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
