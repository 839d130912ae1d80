/**
 * The narrow interfaces the pipeline plugs each stage in through, and its settings: the gateway
 * knows these contracts and nothing else of the stages (the composition root in src/app supplies
 * the implementations).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import type { AuditEvent } from '../audit/index.js';
import type { ResolvedUpstream, RouteConfig } from '../config/index.js';
import type { Approval, Decision, Identity, MaskRule, PolicyInput } from '../contract/index.js';
import type { HoldRequest, OpenedHold } from '../hold/index.js';
import type { LimitSettings } from './limits.js';
import type { Logger } from './log.js';
import type { ShadowPolicy } from './shadow.js';

/** Verifies the caller; rejects with an error carrying `status` and `wwwAuthenticate` (identity's AuthError). */
export interface AuthenticatorService {
  authenticate(headers: IncomingHttpHeaders): Promise<Identity>;
}

/** One loaded bundle: its decisions, and the masker that knows its custom detectors. */
export interface ActivePolicy {
  readonly revision: string;
  /** Throws on any policy fault. */
  evaluate(input: PolicyInput): Decision;
  /** The same for an input already serialised (`serialiseInput`'s `evaluated`), which the decision record shares. */
  evaluateJson(json: string): Decision;
  readonly masker: MaskService;
}

/** The policy in force; the bundle watcher swaps it, so a request takes it once and keeps it. */
export interface PolicyService {
  current(): ActivePolicy;
}

/** Masking per the decision's rules: whole JSON texts (from their source, without loss), and streams (raw text, JSON, SSE). */
export interface MaskService {
  maskJson(rules: MaskRule[], json: string): { text: string; counts: Record<string, number> };
  /** A short text (a header value) masked as text. */
  maskText(rules: MaskRule[], text: string): { text: string; counts: Record<string, number> };
  /** URL-encoded text (a request target, a form body) masked as decoded, in place where it can be (mask/url-encoded.ts). */
  maskUrlEncoded(rules: MaskRule[], text: string, plusFrom: number): { text: string; counts: Record<string, number>; inPlace: boolean };
  /** A whole identity-encoded response body masked at once (the same bytes `maskStream` would give). */
  maskBody(rules: MaskRule[], body: Buffer): { body: Buffer; counts: Record<string, number> };
  /** What a body is comes from its first bytes, not its content type. Output is identity-encoded: callers drop content-encoding and content-length. */
  maskStream(
    rules: MaskRule[],
    contentEncoding: string | undefined,
    side: 'request' | 'response',
  ): Transform & { counts(): Record<string, number> };
}

/** The holds stage as the pipeline uses it. */
export interface HoldsService {
  /** Creates a hold (rejects when the limits refuse it) and starts the client's wait for its decision. */
  open(req: HoldRequest, signal: AbortSignal): Promise<OpenedHold>;
  approvalFor(identity: Identity, route: string, method: string, path: string, bodySha256: string): Approval | null;
  grantsFor(identity: Identity, route: string): Approval[];
  /** Uses up the one replay owed on `holdId` for the retried request `requestId`. */
  consumeReplay(holdId: string, requestId: string): Promise<void>;
}

/** The audit log: a record is durable when `append` resolves. */
export interface AuditSink {
  append(event: AuditEvent): Promise<unknown>;
}

/**
 * Other nodes' request counts for `usage.requests_last_minute` (the cluster store's batched
 * counters): `record` queues this node's count, `otherNodes` answers from the last read-back.
 * Neither may do I/O: they run on every request.
 */
export interface SharedUsage {
  record(key: string): void;
  otherNodes(key: string): number;
}

export interface GatewayServices {
  authenticator: AuthenticatorService;
  audit: AuditSink;
  policy: PolicyService;
  holds: HoldsService;
  logger: Logger;
  /** Absent on a single node: the counts are this process's own. */
  sharedUsage?: SharedUsage;
  /** Shadow mode (config `policy.shadow`): a second policy that decides beside the enforced one, never changing the answer. */
  shadow?: { current(): ShadowPolicy };
}

export interface GatewayOptions {
  routes: RouteConfig[];
  upstreams: Record<string, ResolvedUpstream>;
  maxBodyBytes: number;
  /** Bytes of each masked body kept in the audit log (its full length and hash are always kept). */
  bodyCapBytes: number;
  /** Log one line per request (the default). */
  logRequests?: boolean;
  /** Per-identity rate and concurrency limits, and the deepest JSON body read (config `limits:`). */
  limits: LimitSettings & { jsonMaxDepth: number };
}
