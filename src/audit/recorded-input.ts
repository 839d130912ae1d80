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

/** One request's input as the policy evaluates it and as its decision record keeps it. */
export interface SerialisedInput {
  /** The `policy_input` text: `recordInput(input)`, byte for byte. */
  readonly recorded: string;
  /** What the policy evaluates: `JSON.stringify(input)`, byte for byte (the recorded text with the body in). */
  readonly evaluated: string;
}

/**
 * The input serialised once for both its readers: the text is written with `request.body` cut
 * out, then closed once with `null` (the record) and once with the body's JSON (the policy), so the
 * record holds exactly what was decided, body aside, and the request pays one serialisation
 * instead of two (bench/README.md, round 5).
 */
export function serialiseInput(input: PolicyInput): SerialisedInput {
  const cut = aroundBody(input);
  if (cut === null) return { recorded: recordInput(input), evaluated: JSON.stringify(input) };
  const [head, body, tail] = cut;
  return { recorded: head + 'null' + tail, evaluated: head + body + tail };
}

type Members = Record<string, unknown>;

/**
 * `JSON.stringify(input)` in three parts, [before the body's value, the body's JSON, after it], by
 * JSON.stringify's own walk of the two outer objects (members in `Object.keys` order, those whose
 * value serialises to nothing left out, each value by JSON.stringify). Null when that walk is not
 * exactly JSON.stringify's: a value with `toJSON` (which would be handed another key) or a body
 * that serialises to nothing. Neither occurs in an input the gateway builds; callers then serialise twice.
 */
function aroundBody(input: PolicyInput): [string, string, string] | null {
  const request = input.request as unknown as Members;
  if (typeof request !== 'object' || request === null || Array.isArray(request) || hasToJson(input) || hasToJson(request)) return null;
  let head: string | undefined;
  let body: string | undefined;
  let text = '{';
  for (const k of Object.keys(input)) {
    if (k === 'request') {
      text += (text.length === 1 ? '' : ',') + '"request":{';
      const open = text.length;
      for (const rk of Object.keys(request)) {
        const v = request[rk];
        if (hasToJson(v)) return null;
        const json = JSON.stringify(v);
        if (rk === 'body') {
          if (json === undefined) return null;
          head = text + (text.length === open ? '' : ',') + '"body":';
          body = json;
          text = '';
          continue;
        }
        if (json === undefined) continue;
        text += (text.length === open && head === undefined ? '' : ',') + quoted(rk) + json;
      }
      text += '}';
      continue;
    }
    const v = (input as unknown as Members)[k];
    if (hasToJson(v)) return null;
    const json = JSON.stringify(v);
    if (json !== undefined) text += (text.length === 1 && head === undefined ? '' : ',') + quoted(k) + json;
  }
  if (head === undefined || body === undefined) return null;
  return [head, body, text + '}'];
}

/** `"key":` for a member name; the input's few names are quoted once. */
const QUOTED = new Map<string, string>();
function quoted(key: string): string {
  let q = QUOTED.get(key);
  if (q === undefined) {
    q = JSON.stringify(key) + ':';
    if (QUOTED.size < 64) QUOTED.set(key, q);
  }
  return q;
}

function hasToJson(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function';
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
