/**
 * The masking stage as the pipeline uses it: the policy's rules compiled (and cached) by the mask
 * stage, applied to a parsed JSON body or to a stream. A rule the mask stage refuses is a policy
 * fault (503, fail closed); a body it cannot decode is refused rather than passed unmasked.
 */
import { compileMaskPlan, createResponseMasker, maskJson, MaskRuleError, type MaskPlan } from '../mask/index.js';
import type { MaskRule } from '../policy/types.js';
import { HttpError, PolicyFailed } from './errors.js';
import type { MaskService } from './gateway.js';

/** The masker could not process a body (unknown encoding, corrupt data): it is not passed on. */
export class MaskingFailed extends HttpError {
  static override readonly code: string = 'ERR_MASKING_FAILED';
  constructor(side: 'request' | 'response', cause: unknown) {
    super(502, 'masking_failed', `The ${side} body could not be masked as the policy requires (${(cause as Error).message}), so it is not passed on.`, {}, { cause });
  }
}

/** Every card detector, for text shown to approvers whatever the decision's own rules. */
export const CARD_RULES: MaskRule[] = [
  { detector: 'pan', format: 'last4' },
  { detector: 'cvv', format: 'full' },
  { detector: 'track', format: 'full' },
  { detector: 'expiry', format: 'full' },
];

function plan(rules: MaskRule[]): MaskPlan {
  try {
    return compileMaskPlan(rules);
  } catch (err) {
    if (err instanceof MaskRuleError) throw new PolicyFailed(err);
    throw err;
  }
}

export const maskService: MaskService = {
  maskJson(rules, value) {
    const p = plan(rules);
    return p.empty ? { value, counts: {} } : maskJson(p, value);
  },
  maskStream(rules, contentType, contentEncoding, side) {
    try {
      return createResponseMasker(plan(rules), contentType ?? '', contentEncoding);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new MaskingFailed(side, err);
    }
  },
};
