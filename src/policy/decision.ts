/**
 * Checks that what the policy returned is a Decision (types.ts) and nothing else. Anything off,
 * including unknown keys, is a policy error: a misspelt `detecter` must not silently unmask data,
 * so the gateway fails closed rather than guess.
 */
import { PolicyDecisionError } from './errors.js';
import type { Decision, HoldSpec, MaskRule } from '../contract/index.js';

const FORMATS = new Set(['full', 'last4', 'first6last4']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(where: string, what: string): never {
  throw new PolicyDecisionError(['policy decision', where, what].filter(Boolean).join(' '));
}

function onlyKeys(v: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) bad(where, `has unknown key ${JSON.stringify(k)}`);
}

function isCount(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

function maskRule(v: unknown, where: string): MaskRule {
  if (!isObject(v)) bad(where, 'is not an object');
  onlyKeys(v, where, ['detector', 'path', 'format']);
  const hasDetector = typeof v.detector === 'string' && v.detector !== '';
  const hasPath = typeof v.path === 'string' && v.path.startsWith('$');
  if (hasDetector === hasPath) bad(where, 'must name exactly one of "detector" (a name) or "path" (a JSON path starting with $)');
  if (v.format !== undefined && !FORMATS.has(v.format as string)) bad(`${where}.format`, `is ${JSON.stringify(v.format)}, not one of full, last4, first6last4`);
  return v as MaskRule;
}

function maskList(v: unknown, where: string): MaskRule[] {
  if (!Array.isArray(v)) bad(where, 'is not a list');
  return v.map((r, i) => maskRule(r, `${where}[${i}]`));
}

function hold(v: unknown): HoldSpec | null {
  if (v === null) return null;
  if (!isObject(v)) bad('"hold"', 'is neither null nor an object');
  onlyKeys(v, '"hold"', ['reason', 'approvers', 'ttl_seconds', 'approvals_required', 'max_grant_seconds']);
  if (typeof v.reason !== 'string' || v.reason === '') bad('"hold.reason"', 'is not a non-empty string');
  if (!Array.isArray(v.approvers) || v.approvers.length === 0 || !v.approvers.every((a) => typeof a === 'string' && a !== '')) {
    bad('"hold.approvers"', 'is not a non-empty list of group names');
  }
  if (!isCount(v.ttl_seconds, 1)) bad('"hold.ttl_seconds"', 'is not a positive integer');
  if (v.approvals_required !== undefined && !isCount(v.approvals_required, 1)) bad('"hold.approvals_required"', 'is not a positive integer');
  if (v.max_grant_seconds !== undefined && !isCount(v.max_grant_seconds, 0)) bad('"hold.max_grant_seconds"', 'is not a non-negative integer');
  return v as unknown as HoldSpec;
}

/** Returns `v` typed as a Decision, or throws PolicyDecisionError naming the offending field. */
export function validateDecision(v: unknown): Decision {
  if (!isObject(v)) bad('', 'is not an object');
  onlyKeys(v, '', ['allow', 'reason', 'mask', 'hold', 'rules']);
  if (typeof v.allow !== 'boolean') bad('"allow"', 'is not a boolean');
  if (typeof v.reason !== 'string') bad('"reason"', 'is not a string');
  if (!isObject(v.mask)) bad('"mask"', 'is not an object with "request" and "response" lists');
  onlyKeys(v.mask, '"mask"', ['request', 'response']);
  maskList(v.mask.request, '"mask.request"');
  maskList(v.mask.response, '"mask.response"');
  hold(v.hold);
  if (v.rules !== undefined && !(Array.isArray(v.rules) && v.rules.every((r) => typeof r === 'string' && r !== ''))) bad('"rules"', 'is not a list of rule ids (non-empty strings)');
  return v as unknown as Decision;
}
