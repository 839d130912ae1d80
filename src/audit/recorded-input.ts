/**
 * The policy input a `request.decision` record carries (docs/audit-format.md §6, `policy_input`),
 * written and read in one place so the writer and `regate policy diff` cannot drift apart. The
 * input is kept as JSON text, because it holds numbers a canonical record cannot (nanosecond
 * times, fractions in claims), with `request.body` null: the body is the record's `request_body`,
 * masked and capped as every recorded body is. The writer's scrubber masks the text like any other.
 */
import type { PolicyInput } from '../contract/index.js';
import type { RequestDecisionEvent } from './events.js';

/** The `policy_input` text of a decision made on `input`. */
export function recordInput(input: PolicyInput): string {
  return JSON.stringify({ ...input, request: { ...input.request, body: null } });
}

/**
 * Why a recorded decision's input cannot be rebuilt: the gateway refused before the policy decided
 * (no route, limits, bad body); the record predates recorded inputs; its body was longer than the
 * audit cap (`audit.body_cap_bytes`) and is only partly kept; its input or body does not parse.
 */
export type UnrebuiltReason = 'gateway_refusal' | 'no_input' | 'body_truncated' | 'input_unreadable';

export const UNREBUILT_REASONS: readonly UnrebuiltReason[] = ['gateway_refusal', 'no_input', 'body_truncated', 'input_unreadable'];

export type RebuiltInput = { input: PolicyInput; revision: string; skip: null } | { input: null; revision: string | null; skip: UnrebuiltReason };

/** The input the policy decided `e` on (masked as the log masks everything), with the revision that decided. */
export function rebuildInput(e: RequestDecisionEvent): RebuiltInput {
  const revision = e.decision.policy_revision;
  if (revision === null) return { skip: 'gateway_refusal', input: null, revision };
  if (typeof e.policy_input !== 'string') return { skip: 'no_input', input: null, revision };
  if (e.request_body?.truncated) return { skip: 'body_truncated', input: null, revision };
  try {
    const input = JSON.parse(e.policy_input) as PolicyInput;
    input.request.body = e.request_body ? JSON.parse(e.request_body.text) : null;
    return { skip: null, input, revision };
  } catch {
    return { skip: 'input_unreadable', input: null, revision };
  }
}
