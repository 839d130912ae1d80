/**
 * The masking stage as the pipeline uses it: the policy's rules, with the bundle's custom
 * detectors, compiled by the mask stage and kept per bundle, applied to a JSON body's text or to a
 * stream. A rule the mask stage refuses is a policy fault (503, fail closed); a body it cannot
 * decode is refused rather than passed unmasked.
 */
import { assertText, compileMaskPlan, createResponseMasker, maskBody, maskJsonText, MaskRuleError, maskText, maskUrlEncoded, type CustomDetector, type MaskPlan } from '../mask/index.js';
import type { CustomDetectorSpec } from '../policy/index.js';
import type { MaskRule } from '../contract/index.js';
import { HttpError, PolicyFailed } from './errors.js';
import type { MaskService } from './services.js';

/** The masker could not process a body (unknown encoding, corrupt data): it is not passed on. */
export class MaskingFailed extends HttpError {
  static override readonly code: string = 'ERR_MASKING_FAILED';
  constructor(side: 'request' | 'response', cause: unknown) {
    super(502, 'masking_failed', `The ${side} body could not be masked as the policy requires (${(cause as Error).message}), so it is not passed on.`, {}, { cause });
  }
}

/** Refuses the first chunk of an identity-encoded response that shows it is binary (502). */
export function assertMaskable(first: Buffer): void {
  try {
    assertText(first);
  } catch (err) {
    throw new MaskingFailed('response', err);
  }
}

/** The masking count an outcome record carries when a route's `unmaskable: pass` let a body through unmasked. */
export const UNMASKABLE_PASSED = 'unmaskable_passed';

/** Distinct rule sets a bundle's masker keeps compiled (a policy rarely yields more than a handful). */
const PLANS_PER_BUNDLE = 256;

/**
 * The plan cache's key for a rule set, asked on every request: plain concatenation rather than
 * JSON.stringify (a per-request cost in the profile), each string length-prefixed so no two
 * distinct rule sets share a key.
 */
function rulesKey(rules: MaskRule[]): string {
  const part = (v: string | undefined) => (v === undefined ? '-' : `${v.length}:${v}`);
  let key = '';
  for (const r of rules) key += `${part(r.detector)}${part(r.path)}${part(r.format)};`;
  return key;
}

/**
 * The masker for one loaded bundle: its custom detectors (from the bundle's data) are compiled
 * here, once, when the bundle loads, so a pattern RE2 refuses rejects the bundle; each distinct
 * rule set a decision names is compiled on first use and kept with the bundle.
 */
export function bundleMasker(detectors: readonly CustomDetectorSpec[] = []): MaskService {
  const custom: CustomDetector[] = detectors.map((d) => ({ name: d.name, pattern: d.pattern, validate: d.validate, maxLength: d.max_length }));
  if (custom.length) compileMaskPlan(custom.map((d) => ({ detector: d.name })), custom);
  const plans = new Map<string, MaskPlan>();
  const plan = (rules: MaskRule[]): MaskPlan => {
    const key = rulesKey(rules);
    let p = plans.get(key);
    if (p) return p;
    try {
      p = compileMaskPlan(rules, custom);
    } catch (err) {
      if (err instanceof MaskRuleError) throw new PolicyFailed(err);
      throw err;
    }
    if (plans.size >= PLANS_PER_BUNDLE) plans.delete(plans.keys().next().value!);
    plans.set(key, p);
    return p;
  };
  return {
    maskJson(rules, json) {
      if (rules.length === 0) return { text: json, counts: {} };
      return maskJsonText(plan(rules), json);
    },
    maskText(rules, text) {
      if (rules.length === 0) return { text, counts: {} };
      return maskText(plan(rules), text);
    },
    maskUrlEncoded(rules, text, plusFrom) {
      if (rules.length === 0) return { text, counts: {}, inPlace: true };
      const p = plan(rules);
      // The first pass reads the decoded text: its findings are what is counted.
      let counts: Record<string, number> | null = null;
      const masked = maskUrlEncoded(text, (t) => {
        const r = maskText(p, t);
        counts ??= r.counts;
        return r.text;
      }, plusFrom);
      return { ...masked, counts: counts ?? {} };
    },
    maskBody(rules, body) {
      const p = plan(rules);
      if (p.empty) return { body, counts: {} };
      try {
        return maskBody(p, body);
      } catch (err) {
        throw new MaskingFailed('response', err);
      }
    },
    maskStream(rules, contentEncoding, side) {
      try {
        return createResponseMasker(plan(rules), contentEncoding);
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new MaskingFailed(side, err);
      }
    },
  };
}
