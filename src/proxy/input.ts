/**
 * Builds the policy input (docs/policy.md) once per request, from facts the pipeline has
 * already gathered: nothing here reads a socket or a clock twice. Query values are lists of strings
 * as the URL carries them; objects keyed by client-chosen names have no prototype, so a query key
 * like `__proto__` is data, not a prototype change.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Approval, Identity, PolicyInput } from '../contract/index.js';
import { policyValue } from './credentials.js';
import { policyHeaders } from './headers.js';

/**
 * Query parameters as lists of strings, in the order the URL carries them; a credential's values
 * (a parameter named as one, or a value that is a JWT) redacted (credentials.ts).
 */
export function queryLists(search: string): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  if (search.length <= 1) return out;
  for (const [k, raw] of new URLSearchParams(search)) {
    const v = policyValue(k, raw);
    const prior = out[k];
    if (prior) prior.push(v);
    else out[k] = [v];
  }
  return out;
}

export interface InputFacts {
  identity: Identity;
  method: string;
  path: string;
  search: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or null when the body is not JSON (or absent). */
  body: unknown;
  bodyBytes: number;
  route: string;
  requestsLastMinute: number;
  approval: Approval | null;
  grants: Approval[];
  nowMs: number;
}

export function buildPolicyInput(f: InputFacts): PolicyInput {
  return {
    identity: f.identity,
    request: {
      method: f.method,
      path: f.path,
      query: queryLists(f.search),
      headers: policyHeaders(f.headers),
      body: f.body,
      body_bytes: f.bodyBytes,
    },
    route: { name: f.route },
    usage: { requests_last_minute: f.requestsLastMinute },
    approval: f.approval,
    grants: f.grants,
    time: { now_ns: f.nowMs * 1_000_000 },
  };
}
