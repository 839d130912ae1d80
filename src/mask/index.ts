/**
 * The masking stage's public API, what the gateway calls: compile the policy's mask rules once
 * (cached), then mask texts, parsed JSON, or a streaming response body. See docs/masking.md.
 */
export { compileMaskPlan, maskText, type MaskPlan, type PlanOptions } from './plan.js';
export { maskJsonText } from './json.js';
export { maskDocument } from './sniff.js';
export { containsPan } from './contains-pan.js';
export { isDigitCode } from './digits.js';
export { PAN_SEPARATOR_CLASS } from './pan.js';
export { scrubPath } from './scrub-path.js';
export { maskUrlEncoded, type UrlEncodedMasked } from './url-encoded.js';
export { assertText, createResponseMasker, maskBody, type ResponseMasker, type MaskerOptions } from './response.js';
export type { CustomDetector } from './detectors.js';
export type { MaskCounts } from './pass.js';
export type { EngineName } from './engine.js';
export { MaskBodyError, MaskEngineError, MaskRuleError } from './errors.js';
