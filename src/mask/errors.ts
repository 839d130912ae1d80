/**
 * Typed failures of the masking stage. The gateway maps each code to a fail-closed response; none
 * of the messages ever quotes the text being masked, only the rule, detector or header at fault.
 */
import { RegateError } from '../util/index.js';

/** A mask rule or custom detector from policy data that cannot be applied as written. */
export class MaskRuleError extends RegateError {
  static override readonly code: string = 'ERR_MASK_RULE';
}

/** The requested RE2 engine cannot be loaded. */
export class MaskEngineError extends RegateError {
  static override readonly code: string = 'ERR_MASK_ENGINE';
}

/** A body the masker cannot read: unknown content encoding, or JSON that does not parse. */
export class MaskBodyError extends RegateError {
  static override readonly code: string = 'ERR_MASK_BODY';
}
