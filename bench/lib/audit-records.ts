/** The records the audit benchmarks write: a decision and its outcome, as the gateway writes them for a masked request. */
import { captureBody, recordInput, type AuditEvent } from '../../src/audit/index.js';
import { typical } from './inputs.js';

export const body = captureBody(JSON.stringify({ transaction: { amount: 1234, card: '411111******1111', merchant: 'x'.repeat(600) } }));

// The policy input a decision record carries (`policy_input`, for `regate policy diff`), as the gateway records it.
export const input = recordInput(typical());

/** A decision record as the gateway writes it; `withInput: false` is the record before inputs were recorded. */
export function decision(i: number, withInput = true): AuditEvent {
  return {
    type: 'request.decision', request_id: `req-${i}`, subject: 'alice@example.com', groups: ['fraud-analysts'], client: '10.0.0.7',
    route: 'fraud-model', upstream: 'http://fraud-model.internal:8080', method: 'POST', path: '/v1/score',
    decision: { effect: 'mask', reason: 'fraud analysts may score; PAN masked', policy_revision: 'sha256:3f1c…', rules: ['allow.permitted', 'mask.card_data.response'] }, approval: null, request_body: body,
    ...(withInput ? { policy_input: input } : {}),
  };
}

/** The outcome record of request `i`. */
export function outcome(i: number): AuditEvent {
  return { type: 'request.outcome', request_id: `req-${i}`, status: 200, bytes_in: 700, bytes_out: 120, duration_ms: 4, masked: { pan: 1 }, response_body: null, error: null };
}
