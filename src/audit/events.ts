/**
 * What the audit log records: one discriminated union of events (docs/audit-format.md §6), and the
 * body capture that keeps a capped, masked copy of an exchange together with its full length and
 * hash. Callers hand in already-masked data; the writer's optional scrubber is defence in depth.
 */
import { createHash, hash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { Decision, HoldAuditEvent } from '../contract/index.js';

/** A masked body as recorded: the first `cap` bytes as text, plus the full length and hash. */
export interface BodyCapture {
  bytes: number;
  sha256: string;
  text: string;
  truncated: boolean;
}

/**
 * `limited`: refused with 429 by a limit (rate, requests in flight, pending holds), never "hold" or
 * "deny": the caller may retry later, and an auditor tells throttling from policy refusals.
 */
export type DecisionEffect = 'allow' | 'deny' | 'mask' | 'hold' | 'error' | 'limited';

export interface RequestDecisionEvent {
  type: 'request.decision';
  request_id: string;
  subject: string | null;
  groups: string[];
  client: string;
  route: string;
  upstream: string | null;
  method: string;
  path: string;
  /**
   * `rules`: the ids of the policy rules that decided (docs/policy.md), empty when it names none or
   * the gateway refused. Records written before regate recorded it have none.
   */
  decision: { effect: DecisionEffect; reason: string; policy_revision: string | null; rules?: string[] };
  /** The hold id (a held request, or one let through on an approval) or grant id, else null. */
  approval: string | null;
  request_body: BodyCapture | null;
  /**
   * The policy input the decision was made on, as JSON text with `request.body` null (the body is
   * `request_body`), so `regate policy diff` can decide it again; null when the gateway refused
   * before the policy decided; absent from records written before regate recorded inputs. Text,
   * because an input holds numbers a record cannot (nanosecond times, fractions in claims).
   */
  policy_input?: string | null;
}

export interface RequestOutcomeEvent {
  type: 'request.outcome';
  request_id: string;
  status: number;
  bytes_in: number;
  bytes_out: number;
  duration_ms: number;
  /** Detector (or JSON path) name → values masked, both directions. */
  masked: Record<string, number>;
  response_body: BodyCapture | null;
  /** The error code when the gateway answered itself (502, 503, 504…), else null. */
  error: string | null;
}

export interface AuthFailureEvent {
  type: 'auth.failure';
  request_id: string;
  client: string;
  route: string | null;
  reason: string;
  /**
   * The status the client was answered with (401, 400 for ambiguous credentials, 503 when the
   * identity provider could not be asked): the refusal's one record is also its outcome. Absent
   * from records written before regate recorded it.
   */
  status?: number;
}

export interface BundleEvent {
  type: 'bundle.loaded' | 'bundle.rejected';
  source: string;
  revision: string | null;
  reason: string | null;
}

export interface GatewayEvent {
  /**
   * `gateway.recovered`: the log was reopened after an unclean stop (its reason says what was sealed);
   * `gateway.override`: opened although the store did not extend the published checkpoint (the operator's reason, then why).
   */
  type: 'gateway.start' | 'gateway.stop' | 'gateway.recovered' | 'gateway.override';
  version: string;
  reason: string | null;
}

/**
 * The log's signing key changed: written by the new key's writer when the last checkpoint was
 * signed by another key. It vouches for that key (`previous_kid`, RFC 7638 thumbprint) so a
 * verifier trusting only the new key also trusts the checkpoints the previous one signed.
 */
export interface KeyRotatedEvent {
  type: 'key.rotated';
  kid: string;
  /** The previous key's thumbprint; null when the writer did not have the previous public key. */
  previous_kid: string | null;
}

export interface SegmentSealedEvent {
  type: 'segment.sealed';
  segment: number;
  first: number;
  last: number;
  root: string;
}

/**
 * Archived segments deleted under `audit.retain_archive`: segments `first_segment..last_segment`
 * (records `first..last`), each sealed before `sealed_before`. Written (durably) before the files go,
 * so a verifier can tell a gap that expired from one that was deleted.
 */
export interface SegmentExpiredEvent {
  type: 'segment.expired';
  first_segment: number;
  last_segment: number;
  first: number;
  last: number;
  sealed_before: string;
  retain_days: number;
}

/** The live store crossed 80 % or 90 % of its size (`audit.max_size_bytes`). */
export interface StoreFillEvent {
  type: 'audit.store_fill';
  percent: number;
  used_bytes: number;
  max_bytes: number;
}

export interface LogAccessEvent {
  type: 'log.exported' | 'log.viewed';
  actor: string | null;
  first: number;
  last: number;
  target: string | null;
}

/** One policy's answer in a shadow disagreement: what the gateway would do, and why. */
export interface ShadowSide {
  policy_revision: string;
  effect: DecisionEffect;
  reason: string;
  rules: string[];
  mask: Decision['mask'] | null;
  hold: Decision['hold'];
}

/** The shadow policy (config `policy.shadow`) would have answered a request otherwise than the enforced one did. */
export interface ShadowDisagreementEvent {
  type: 'policy.shadow_disagreement';
  request_id: string;
  subject: string | null;
  route: string;
  /** How they differ: `allow_to_deny` (enforced allowed, shadow would deny), `mask_change`, … (src/policy/compare.ts). */
  kind: string;
  enforced: ShadowSide;
  shadow: ShadowSide;
}

export type AuditEvent =
  | RequestDecisionEvent
  | ShadowDisagreementEvent
  | RequestOutcomeEvent
  | AuthFailureEvent
  | HoldAuditEvent
  | BundleEvent
  | GatewayEvent
  | KeyRotatedEvent
  | SegmentSealedEvent
  | SegmentExpiredEvent
  | StoreFillEvent
  | LogAccessEvent;

export type Scrub = (s: string) => string;

/**
 * Fields whose strings the gateway makes itself: ids and digests. The scrubber passes them by:
 * digits in a UUID or a hex digest can form a Luhn-valid card number by chance (44 request ids and
 * 193 body digests in 200,000 did), and a masked id or hash no longer matches the response header,
 * the log line or the body an auditor checks it against.
 */
const GATEWAY_MADE: ReadonlySet<string> = new Set(['request_id', 'hold_id', 'grant_id', 'approval', 'sha256', 'policy_revision', 'revision', 'root']);

/** An event's canonical JSON with its strings scrubbed, as the log stores it. */
export function eventJson(event: AuditEvent, scrub?: Scrub): string {
  return canonicalJson(event, scrub, GATEWAY_MADE);
}

/** Default cap on recorded body text, in bytes. */
export const DEFAULT_BODY_CAP = 8192;

/**
 * Captures a masked body as it streams past: hashes every byte, keeps only the first `cap` bytes,
 * so a long response is recorded without being buffered whole.
 */
export class BodyCapturer {
  readonly #hash = createHash('sha256');
  readonly #head: Buffer[] = [];
  #kept = 0;
  #bytes = 0;

  constructor(private readonly cap = DEFAULT_BODY_CAP) {}

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.byteLength;
    if (this.#kept <= this.cap) {
      // One byte past the cap is kept so `finish` can tell a cut character from a whole one.
      const take = Math.min(chunk.byteLength, this.cap + 1 - this.#kept);
      if (take > 0) {
        this.#head.push(Buffer.from(chunk.subarray(0, take)));
        this.#kept += take;
      }
    }
  }

  /** The capture: the first `cap` bytes (cut on a UTF-8 character boundary) as text, full length, hash. */
  finish(): BodyCapture {
    const head = Buffer.concat(this.#head, this.#kept);
    let end = Math.min(this.cap, head.length);
    // Step back over continuation bytes so a multi-byte character is not split into U+FFFD.
    if (end < this.#bytes) while (end > 0 && (head[end]! & 0xc0) === 0x80) end--;
    return { bytes: this.#bytes, sha256: this.#hash.digest('hex'), text: head.subarray(0, end).toString('utf8'), truncated: end < this.#bytes };
  }
}

const SURROGATE = /[\ud800-\udfff]/;

/** Captures a whole masked body (see BodyCapturer). */
export function captureBody(masked: Uint8Array | string, cap = DEFAULT_BODY_CAP): BodyCapture {
  const text = typeof masked === 'string';
  const bytes = text ? Buffer.byteLength(masked) : masked.byteLength;
  // Whole and within the cap (the common case): the text is the body itself, hashed once, not
  // copied into a capture first. A string with surrogates takes the long way, which records a lone
  // one as UTF-8 encoded it (U+FFFD).
  if (bytes <= cap && (!text || !SURROGATE.test(masked))) {
    return { bytes, sha256: hash('sha256', masked, 'hex'), text: text ? masked : Buffer.from(masked.buffer, masked.byteOffset, masked.byteLength).toString('utf8'), truncated: false };
  }
  const c = new BodyCapturer(cap);
  c.update(typeof masked === 'string' ? Buffer.from(masked, 'utf8') : masked);
  return c.finish();
}
