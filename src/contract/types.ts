/**
 * The policy contract (docs/policy.md, "The input" and "The decision"): what the gateway hands the policy and what the
 * policy must answer. Every stage shares these types; only src/policy validates a decision.
 */

export interface Identity {
  sub: string;
  iss: string;
  groups: string[];
  /** The verified token's claims, for policies that need more than subject and groups. */
  claims: Record<string, unknown>;
}

export interface RequestFacts {
  method: string;
  path: string;
  /** Query values are lists of strings, as the URL carries them. */
  query: Record<string, string[]>;
  /** Lower-cased names; never `authorization` or `cookie`. */
  headers: Record<string, string>;
  /** Parsed JSON body when JSON and within the configured limit, else null. */
  body: unknown;
  body_bytes: number;
}

/** An approval of a held request, or an active just-in-time grant, as the policy sees it. */
export interface Approval {
  hold_id: string;
  /** A just-in-time grant's own id (kind `grant`); absent for a replay. */
  grant_id?: string;
  approvers: string[];
  approved_at_ns: number;
  kind: 'replay' | 'grant';
  expires_at_ns: number;
}

export interface PolicyInput {
  identity: Identity;
  request: RequestFacts;
  route: { name: string };
  usage: { requests_last_minute: number };
  approval: Approval | null;
  /** Active just-in-time grants for this identity and route. */
  grants: Approval[];
  time: { now_ns: number };
}

export type MaskFormat = 'full' | 'last4' | 'first6last4';

/** One masking rule: a detector (`pan`, `cvv`, `track`, `expiry`, or a custom one) or a JSON path. */
export interface MaskRule {
  detector?: string;
  path?: string;
  format?: MaskFormat;
}

export interface HoldSpec {
  reason: string;
  approvers: string[];
  ttl_seconds: number;
  approvals_required?: number;
  max_grant_seconds?: number;
}

/**
 * The policy's answer. `hold` set means "hold for approval", whatever `allow` says; otherwise
 * `allow` decides, and `mask` applies to an allowed exchange.
 */
export interface Decision {
  allow: boolean;
  reason: string;
  mask: { request: MaskRule[]; response: MaskRule[] };
  hold: HoldSpec | null;
  /**
   * Why: the ids of the rules that decided, as the policy names them (e.g. `deny.group_required`,
   * `hold.bulk_limit`). Optional; shown in the audit log, the console and `regate policy diff`.
   */
  rules?: string[];
}

/** Who acted or was acted on, as the identity stage verified them (never claims or tokens). */
export interface Principal {
  sub: string;
  iss: string;
  groups: string[];
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

/**
 * A hold or grant state change, as the holds stage reports it and the audit log stores it
 * unchanged: one shape here so the two stages cannot drift apart.
 */
export interface HoldAuditEvent {
  type: HoldAuditType;
  at_ms: number;
  hold_id: string | null;
  grant_id: string | null;
  /**
   * The request the hold or grant concerns: the held request (a grant made from a hold carries its
   * hold's); null when there is none (`console.viewed`, holds and grants stored before regate
   * recorded it).
   */
  request_id: string | null;
  /** `hold.replayed`: the retried request that used the approval (the link back from the held one). */
  replay_request_id?: string;
  route: string | null;
  /** Who caused the change (approver, requester); null when the clock did (expiry). */
  actor: Principal | null;
  /** The requester of the hold, or the subject of the grant. */
  subject: Principal | null;
  detail: string;
  /** For `console.viewed` (an auditor viewed the log): the record numbers shown (-1 when none) and what was asked. */
  view?: { first: number; last: number; target: string };
}
