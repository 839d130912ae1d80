/**
 * The records the holds stage keeps and the events it reports. A hold is one held HTTP request
 * awaiting approvers; a grant is a time-boxed widening of an approval (just-in-time access,
 * PCI DSS 7). Both are stored as plain JSON in LMDB, times in epoch milliseconds.
 */
import type { HoldAuditEvent, HoldAuditType, HoldSpec, Identity, Principal } from '../contract/index.js';

export type { HoldAuditEvent, HoldAuditType, Principal };

export type HoldState = 'pending' | 'approved' | 'denied' | 'expired';

export interface ApprovalEntry {
  by: Principal;
  at_ms: number;
  comment: string;
  /** Seconds of just-in-time access this approver asked to grant, if any. */
  grant_seconds: number | null;
}

export interface Hold {
  id: string;
  state: HoldState;
  requester: Principal;
  route: string;
  method: string;
  /**
   * The path and query as approvers see them: card data masked (`HoldServiceOptions.shownPath`).
   * Holds stored before regate kept `request_sha256` have the path as sent, until they are rewritten
   * on the next open (`HoldService.open`).
   */
  path: string;
  body_sha256: string;
  /** What a replay must match: `requestDigest` of the request as sent (request-digest.ts). */
  request_sha256?: string;
  /** Masked request summary, as the proxy built it: shown to approvers, never unmasked data. */
  summary: string;
  spec: HoldSpec;
  created_at_ms: number;
  expires_at_ms: number;
  approvals: ApprovalEntry[];
  denial: { by: Principal; at_ms: number; reason: string } | null;
  decided_at_ms: number | null;
  /** True once the waiting client got the upstream's answer: no replay is owed then. */
  delivered: boolean;
  /** Set when the one replay owed after a late approval was used. */
  replayed_at_ms: number | null;
  grant_id: string | null;
  /** The held request (its `x-request-id`); absent from holds stored before regate recorded it. */
  request_id?: string | null;
}

export interface Grant {
  id: string;
  hold_id: string;
  /** The request whose hold the grant came from; absent from grants stored before regate recorded it. */
  request_id?: string | null;
  subject: Principal;
  route: string;
  approvers: string[];
  /** The approver groups of the hold it came from: members of these may revoke it. */
  approver_groups: string[];
  created_at_ms: number;
  expires_at_ms: number;
  revoked: { by: Principal; at_ms: number } | null;
}

export function principalOf(identity: Identity): Principal {
  return { sub: identity.sub, iss: identity.iss, groups: [...identity.groups] };
}

export function samePrincipal(a: Principal, b: Principal): boolean {
  return a.sub === b.sub && a.iss === b.iss;
}
