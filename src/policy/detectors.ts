/**
 * Custom masking detectors shipped with the policy, in the bundle's data at `data.custom_detectors`
 * (`[{name, pattern, validate?, max_length?}]`), so security engineers add an internal account
 * number pattern in git, beside the rules that reference it by name, and it is signed and
 * hot-reloaded with them. The shape is checked here, when the bundle loads, so a malformed entry
 * rejects the bundle (the last good one keeps serving) instead of failing requests.
 */
import { BundleError } from './errors.js';

/** One detector as the bundle declares it; `pattern` is RE2 syntax (compiled by the mask stage). */
export interface CustomDetectorSpec {
  name: string;
  pattern: string;
  /** `luhn`: a match counts only when its digits pass the Luhn check. */
  validate?: 'luhn';
  /** Longest match in characters (default 64); streams hold back this much. */
  max_length?: number;
}

/** Where in the bundle's data the detectors live. */
export const CUSTOM_DETECTORS_KEY = 'custom_detectors';

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const KEYS = new Set(['name', 'pattern', 'validate', 'max_length']);

/** The detectors declared in `data`, validated; none when the key is absent. */
export function customDetectorsOf(data: Record<string, unknown>): CustomDetectorSpec[] {
  const list = data[CUSTOM_DETECTORS_KEY];
  if (list === undefined) return [];
  const fault = (where: string, expected: string) =>
    new BundleError(`data.json: ${CUSTOM_DETECTORS_KEY}${where}: expected ${expected}`, { file: 'data.json' });
  if (!Array.isArray(list)) throw fault('', 'a list of {name, pattern, validate?, max_length?}');
  const seen = new Set<string>();
  return list.map((d: unknown, i) => {
    const at = `[${i}]`;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw fault(at, 'an object {name, pattern, validate?, max_length?}');
    const o = d as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!KEYS.has(k)) throw fault(`${at}.${k}`, 'no such key (known: name, pattern, validate, max_length)');
    if (typeof o.name !== 'string' || !NAME.test(o.name)) throw fault(`${at}.name`, 'a lower-case name (letters, digits, _ -)');
    if (seen.has(o.name)) throw fault(`${at}.name`, `a name not used before (${o.name})`);
    seen.add(o.name);
    if (typeof o.pattern !== 'string' || o.pattern.length === 0) throw fault(`${at}.pattern`, 'a non-empty RE2 pattern');
    if (o.validate !== undefined && o.validate !== 'luhn') throw fault(`${at}.validate`, '"luhn" or nothing');
    if (o.max_length !== undefined && !(Number.isInteger(o.max_length) && (o.max_length as number) >= 1 && (o.max_length as number) <= 4096)) {
      throw fault(`${at}.max_length`, 'an integer from 1 to 4096');
    }
    return { name: o.name, pattern: o.pattern, ...(o.validate ? { validate: 'luhn' as const } : {}), ...(o.max_length ? { max_length: o.max_length as number } : {}) };
  });
}
