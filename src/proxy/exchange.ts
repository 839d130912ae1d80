/**
 * One request's record on its way through the pipeline: what the gateway learned (route,
 * identity, decision, upstream status, masked counts) for the log line, the metrics and the audit
 * records, and the small facts derived from a request or a decision.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { BodyCapturer } from '../audit/index.js';
import type { Decision, Identity } from '../contract/index.js';

/** Decision labels for metrics and logs. */
export type Outcome = 'allow' | 'deny' | 'mask' | 'hold' | 'limited' | 'unauthenticated' | 'error' | 'none';

/** What one request accumulated on its way through, for the log line, metrics and audit. */
export interface Exchange {
  id: string;
  started: number;
  /** Milliseconds the request waited for an approver: kept out of the request-latency histogram. */
  heldMs: number;
  method: string;
  path: string;
  search: string;
  route: string;
  subject: string | null;
  outcome: Outcome;
  error: string | null;
  upstreamStatus: number | null;
  masked: Record<string, number>;
  client: string;
  bodyBytes: number;
  /** Set once the decision record is durable: an outcome record then follows. */
  recorded: boolean;
  /** Set once the outcome record is written (or being written): no second one follows. */
  outcomeWritten: boolean;
  /** Set once an auth.failure record is durable (the refusal is then already audited). */
  authAudited: boolean;
  identity: Identity | null;
  /** The HTTP server gave up on receiving this request (request timeout). */
  timedOut: boolean;
  /** Set when the response has closed: its status and duration, for an outcome record written late. */
  closed: { status: number; seconds: number } | null;
  /** The policy revision that decided, once one did. */
  revision: string | null;
  /** What the client received of a forwarded response body, as it streamed. */
  response: Pick<BodyCapturer, 'bytes' | 'finish'> | null;
  /** Streaming maskers (request and response side): their counts are final when the exchange ends. */
  streamMaskers: { counts(): Record<string, number> }[];
  /** Told when the response closes before it finished (the client went away). */
  gone: { abort(): void } | null;
  /** Gives back the caller's concurrency slot when the response closes. */
  release: (() => void) | null;
}

/** What a refusal record names: whatever the gateway knew when it refused. */
export type RefusalFacts = Pick<Exchange, 'id' | 'client' | 'route' | 'method' | 'path' | 'identity'>;

/** The client's address, IPv4-mapped IPv6 shown as IPv4. */
export function clientAddress(remoteAddress: string | undefined): string {
  const a = remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

export function clientIp(req: IncomingMessage): string {
  return clientAddress(req.socket.remoteAddress);
}

/** A new exchange for a request just received. */
export function newExchange(req: IncomingMessage): Exchange {
  return {
    id: randomUUID(),
    started: performance.now(),
    heldMs: 0,
    method: req.method ?? 'GET',
    path: '',
    search: '',
    route: '',
    subject: null,
    outcome: 'none',
    error: null,
    upstreamStatus: null,
    masked: {},
    client: clientIp(req),
    bodyBytes: 0,
    recorded: false,
    outcomeWritten: false,
    authAudited: false,
    identity: null,
    timedOut: false,
    closed: null,
    revision: null,
    response: null,
    streamMaskers: [],
    gone: null,
    release: null,
  };
}

export function outcomeOf(d: Decision): Outcome {
  if (d.hold) return 'hold';
  if (!d.allow) return 'deny';
  return d.mask.request.length || d.mask.response.length ? 'mask' : 'allow';
}

export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const k in from) into[k] = (into[k] ?? 0) + from[k]!;
}
