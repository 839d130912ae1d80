/**
 * The records the holds stage keeps and the events it reports. A hold is one held HTTP request
 * awaiting approvers; a grant is a time-boxed widening of an approval (just-in-time access,
 * PCI DSS 7). Both are stored as plain JSON in LMDB, times in epoch milliseconds.
 */
import type { HoldSpec, Identity } from '../policy/types.js';

export type HoldState = 'pending' | 'approved' | 'denied' | 'expired';

/** Who someone is, as far as holds care: subject, issuer and groups (never claims or tokens). */
export interface Principal {
  sub: string;
  iss: string;
  groups: string[];
}

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
  path: string;
  body_sha256: string;
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
}

export interface Grant {
  id: string;
  hold_id: string;
  subject: Principal;
  route: string;
  approvers: string[];
  /** The approver groups of the hold it came from: members of these may revoke it. */
  approver_groups: string[];
  created_at_ms: number;
  expires_at_ms: number;
  revoked: { by: Principal; at_ms: number } | null;
}

export type HoldAuditType =
  | 'hold.created'
  | 'hold.approval'
  | 'hold.approved'
  | 'hold.denied'
  | 'hold.expired'
  | 'hold.timeout'
  | 'hold.replayed'
  | 'grant.created'
  | 'grant.revoked'
  | 'webhook.failed'
  | 'console.viewed';

/** One state change, handed to the audit callback before it takes effect. */
export interface HoldAuditEvent {
  type: HoldAuditType;
  at_ms: number;
  hold_id: string | null;
  grant_id: string | null;
  route: string | null;
  /** Who caused the change (approver, requester); null when the clock did (expiry). */
  actor: Principal | null;
  /** The requester of the hold, or the subject of the grant. */
  subject: Principal | null;
  detail: string;
  /** For `console.viewed` (an auditor viewed the log): the record numbers shown (-1 when none) and what was asked. */
  view?: { first: number; last: number; target: string };
}

export function principalOf(identity: Identity): Principal {
  return { sub: identity.sub, iss: identity.iss, groups: [...identity.groups] };
}

export function samePrincipal(a: Principal, b: Principal): boolean {
  return a.sub === b.sub && a.iss === b.iss;
}
