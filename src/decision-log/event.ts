/**
 * A gateway decision as OPA's decision-log event (docs: OPA "Decision Logs", the event fields
 * `labels`, `decision_id`, `bundles`, `path`, `input`, `result`, `requested_by`, `timestamp`,
 * `masked`), built from the `request.decision` record the audit log is given, so the two can never
 * disagree and the decision id is the request id a client sees in `x-request-id`.
 *
 * Masking is the audit log's: the body is the record's masked capture, and every string of the
 * event passes the same card-data scrubber the audit log runs on every record; the JSON pointers
 * of strings the scrubber changed are listed in `masked`, as OPA lists what its mask policy changed.
 */
import type { RequestDecisionEvent } from '../audit/index.js';

export interface OpaDecisionEvent {
  labels: Record<string, string>;
  decision_id: string;
  bundles: Record<string, { revision: string }>;
  path: string;
  input: unknown;
  result: { effect: string; reason: string; rules?: string[] };
  requested_by: string;
  timestamp: string;
  masked?: string[];
}

export interface EventContext {
  labels: Record<string, string>;
  /** The bundle's name in `bundles` (OPA names bundles; regate has one). */
  bundleName: string;
  /** The policy's entrypoint, e.g. `regate/decision`. */
  path: string;
  /** The audit log's card-data scrubber. */
  scrub: (s: string) => string;
}

/** The input as recorded: the policy input with the masked body, or what the record names when it has no input. */
function inputOf(e: RequestDecisionEvent): unknown {
  const body = e.request_body === null ? null : parseOr(e.request_body.text);
  if (typeof e.policy_input === 'string') {
    const input = parseOr(e.policy_input);
    if (typeof input === 'object' && input !== null && typeof (input as { request?: unknown }).request === 'object') {
      (input as { request: { body: unknown } }).request.body = body;
      return input;
    }
  }
  return { identity: { sub: e.subject, groups: e.groups }, request: { method: e.method, path: e.path, body }, route: { name: e.route } };
}

/** A body that was cut at the audit cap is not JSON any more: it stays the (masked) text. */
function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const pointerToken = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** Scrubs every string under `value` (keys too), recording the JSON pointer of each one changed. */
function scrubDeep(value: unknown, scrub: (s: string) => string, pointer: string, masked: string[]): unknown {
  if (typeof value === 'string') {
    const s = scrub(value);
    if (s !== value) masked.push(pointer);
    return s;
  }
  if (Array.isArray(value)) return value.map((v, i) => scrubDeep(v, scrub, `${pointer}/${i}`, masked));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = scrub(k);
      if (key !== k) masked.push(`${pointer}/${pointerToken(key)}`);
      out[key] = scrubDeep(v, scrub, `${pointer}/${pointerToken(key)}`, masked);
    }
    return out;
  }
  return value;
}

/** The OPA event for a decision the policy made; undefined for a refusal by the gateway itself (no policy ran). */
export function opaEvent(e: RequestDecisionEvent, ctx: EventContext, at: Date): OpaDecisionEvent | undefined {
  const revision = e.decision.policy_revision;
  if (revision === null) return undefined;
  const masked: string[] = [];
  const result = { effect: e.decision.effect, reason: e.decision.reason, ...(e.decision.rules ? { rules: e.decision.rules } : {}) };
  const event: OpaDecisionEvent = {
    labels: ctx.labels,
    decision_id: e.request_id,
    bundles: { [ctx.bundleName]: { revision } },
    path: ctx.path,
    input: scrubDeep(inputOf(e), ctx.scrub, '/input', masked),
    result: scrubDeep(result, ctx.scrub, '/result', masked) as OpaDecisionEvent['result'],
    requested_by: e.client,
    timestamp: at.toISOString(),
  };
  if (masked.length) event.masked = masked;
  return event;
}
