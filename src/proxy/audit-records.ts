/**
 * The audit records one exchange produces, built from what the pipeline learned: the decision
 * record (durable before anything is enforced or forwarded), the refusal record for a request the
 * gateway turned away before the policy decided, and the outcome record once the response closed.
 * Card data never reaches them unmasked: bodies pass the card rules whatever the decision says.
 */
import type { ServerResponse } from 'node:http';
import { captureBody, type DecisionEffect, type RequestDecisionEvent, type RequestOutcomeEvent } from '../audit/index.js';
import type { Identity, MaskRule } from '../contract/index.js';
import { scrubPath } from '../mask/index.js';
import { CARD_RULES } from './card-scrub.js';
import { shownTarget } from './credentials.js';
import { errorFields, type HttpError } from './errors.js';
import type { Exchange, RefusalFacts } from './exchange.js';
import type { ActivePolicy } from './services.js';

/** What the decision record keeps of a decision (the effect the gateway enforces). */
export interface RecordedDecision {
  effect: DecisionEffect;
  reason: string;
  rules: string[];
}

/** A read request body as it is shown: a form masked as decoded (`+`, `%XX`), anything else as JSON. */
function maskedBody(policy: ActivePolicy, rules: MaskRule[], read: { raw: Buffer; form: boolean }): string {
  const text = read.raw.toString('utf8');
  return read.form ? policy.masker.maskUrlEncoded(rules, text, 0).text : policy.masker.maskJson(rules, text).text;
}

/**
 * The request body as the audit log keeps it: card data masked whatever the decision says, and
 * whatever else the decision masks on the request side (custom detectors, JSON paths) too.
 */
export function auditBody(policy: ActivePolicy, requestRules: MaskRule[], read: { raw: Buffer; form: boolean }): string {
  return maskedBody(policy, requestRules.length ? [...CARD_RULES, ...requestRules] : CARD_RULES, read);
}

/** What approvers see of a held request: method, path and body, card data masked whatever the decision says. */
export function holdSummary(policy: ActivePolicy, method: string, path: string, read: { raw: Buffer | null; form: boolean }): string {
  const head = `${method} ${shownTarget(path)}`;
  if (read.raw === null) return head;
  return `${head} ${maskedBody(policy, CARD_RULES, { raw: read.raw, form: read.form }).slice(0, 500)}`;
}

/**
 * The policy's decision on an exchange, with the input it was decided on (`policy diff` decides it
 * again): `policyInput` is the recorded text serialised with the text the policy evaluated
 * (`serialiseInput`); `body` is the masked request body, kept up to `bodyCap` bytes. `approval` is the hold id
 * of a held request, or the hold or grant id that let this one through.
 */
export function decisionRecord(
  x: Exchange, identity: Identity, upstream: string, decided: RecordedDecision, approval: string | null, policyInput: string, body: string | null, bodyCap: number,
): RequestDecisionEvent {
  return {
    type: 'request.decision',
    request_id: x.id,
    subject: identity.sub,
    groups: identity.groups,
    client: x.client,
    route: x.route,
    upstream,
    method: x.method,
    path: scrubPath(x.path),
    decision: { ...decided, policy_revision: x.revision },
    approval,
    request_body: body === null ? null : captureBody(body, bodyCap),
    policy_input: policyInput,
  };
}

/** A request the gateway refused before the policy decided (no route, limits, bad body): a denial by the gateway itself. */
export function refusalRecord(x: RefusalFacts, e: HttpError): RequestDecisionEvent {
  return {
    type: 'request.decision',
    request_id: x.id,
    subject: x.identity?.sub ?? null,
    groups: x.identity?.groups ?? [],
    client: x.client,
    route: x.route,
    upstream: null,
    method: x.method,
    path: scrubPath(x.path),
    decision: { effect: refusalEffect(e.status), reason: `gateway refused (${e.error}): ${e.message}`, policy_revision: null, rules: [] },
    approval: null,
    request_body: null,
    policy_input: null,
  };
}

/** A refusal's effect: a limit's 429 is `limited` (never a denial or a hold), a gateway fault `error`. */
export function refusalEffect(status: number): DecisionEffect {
  return status === 429 ? 'limited' : status >= 500 ? 'error' : 'deny';
}

/**
 * The outcome of an exchange the gateway answers itself with `e`, recorded before the answer goes
 * out: the status and the exact length of the JSON error body the client is about to receive.
 */
export function answerOutcomeRecord(x: Exchange, e: HttpError): RequestOutcomeEvent {
  return {
    type: 'request.outcome',
    request_id: x.id,
    status: e.status,
    bytes_in: x.bodyBytes,
    bytes_out: Buffer.byteLength(JSON.stringify(errorFields(e, x.id))),
    duration_ms: Math.round(performance.now() - x.started),
    masked: x.masked,
    response_body: null,
    error: e.error,
  };
}

/** The outcome of a closed exchange (`x.closed` set, the stream maskers' counts already added). */
export function outcomeRecord(x: Exchange, res: ServerResponse): RequestOutcomeEvent {
  const { status, seconds } = x.closed!;
  return {
    type: 'request.outcome',
    request_id: x.id,
    status,
    bytes_in: x.bodyBytes,
    // A forwarded body is counted as it streamed (chunked too); the gateway's own answers carry a length.
    bytes_out: x.response ? x.response.bytes : Number(res.getHeader('content-length') ?? 0) || 0,
    // Canonical audit JSON holds integers only.
    duration_ms: Math.round(seconds * 1000),
    masked: x.masked,
    response_body: x.response?.finish() ?? null,
    error: x.error,
  };
}

/** The outcome of a request the HTTP parser refused: nothing read, nothing sent but the fault. */
export function faultOutcomeRecord(requestId: string, status: number, error: string, bytesIn = 0): RequestOutcomeEvent {
  return { type: 'request.outcome', request_id: requestId, status, bytes_in: bytesIn, bytes_out: 0, duration_ms: 0, masked: {}, response_body: null, error };
}
