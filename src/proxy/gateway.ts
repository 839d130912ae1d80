/**
 * The request pipeline: route → authenticate → read the JSON body (if any) → build the policy input
 * → decide → record → enforce (deny, hold, mask) → forward → stream the answer back. Each stage is a
 * service passed to the constructor through a narrow interface, so the pipeline knows their
 * contracts and nothing else. Every failure fails closed and answers with the JSON error body.
 */
import { hash, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { BodyCapturer, captureBody, recordInput, type AuditEvent, type DecisionEffect } from '../audit/index.js';
import type { ResolvedUpstream } from '../config/index.js';
import { refuseRepeatedCredentials } from '../identity/index.js';
import type { Approval, Decision, Identity, MaskRule, PolicyInput } from '../contract/index.js';
import { hasBody, isJsonType, parseJson, readBody } from './body.js';
import {
  AuditUnavailable,
  Forbidden,
  holdFailure,
  HttpError,
  InternalError,
  NoRoute,
  PolicyFailed,
  sendError,
  ShuttingDown,
  toHttpError,
  Unauthenticated,
} from './errors.js';
import { classifyUpstreamError, Upstreams, type Upstream, type UpstreamResponse } from './forward.js';
import { clientHeaders, upstreamHeaders } from './headers.js';
import { buildPolicyInput } from './input.js';
import { checkJsonBody } from './json-guard.js';
import { IdentityLimits, type LimitSettings } from './limits.js';
import { scrubPath, type Logger } from './log.js';
import { CARD_RULES } from './masking.js';
import { GatewayMetrics } from './metrics.js';
import { hostName, Router } from './router.js';
import { relay } from './relay.js';
import { ShadowObserver } from './shadow.js';
import { parseTarget } from './target.js';
import type { ActivePolicy, GatewayOptions, GatewayServices, MaskService } from './services.js';
import { UsageCounter } from './usage.js';

/** A request the HTTP parser refused before the pipeline saw it (smuggling shapes, header floods, slowloris). */
export interface ClientFault {
  status: number;
  error: string;
  message: string;
}

/** Node's parser and timeout error codes as the precise answer the client gets. */
export function clientFault(err: { code?: string; message?: string }): ClientFault {
  const code = err.code;
  // Node names the CL+TE clash by whichever header came second; both are the same smuggling shape.
  if (/can't be present with/.test(err.message ?? '')) {
    return { status: 400, error: 'ambiguous_length', message: 'The request carries both Content-Length and Transfer-Encoding; it is refused.' };
  }
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, error: 'headers_too_large', message: 'The request line and headers exceed the gateway\'s limit.' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, error: 'request_timeout', message: 'The request was not received in time.' };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, error: 'ambiguous_length', message: 'The request carries conflicting framing (Content-Length with Transfer-Encoding, or more than one Content-Length); it is refused.' };
    case 'HPE_INVALID_CONTENT_LENGTH':
      return { status: 400, error: 'ambiguous_length', message: 'The request carries an invalid Content-Length; it is refused.' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { status: 400, error: 'bad_framing', message: 'The request carries a Transfer-Encoding the gateway does not accept; it is refused.' };
    default:
      return { status: 400, error: 'bad_request', message: `The request is not valid HTTP/1.1${code ? ` (${code})` : ''}.` };
  }
}

/** Decision labels for metrics and logs. */
type Outcome = 'allow' | 'deny' | 'mask' | 'hold' | 'unauthenticated' | 'error' | 'none';

/** What one request accumulated on its way through, for the log line, metrics and audit. */
interface Exchange {
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
}

/** What a refusal record names: whatever the gateway knew when it refused. */
type RefusalFacts = Pick<Exchange, 'id' | 'client' | 'route' | 'method' | 'path' | 'identity'>;

const EMPTY_SHA256 = hash('sha256', '', 'hex');
/** Responses up to this size with a content-length are read whole and masked in one call, not streamed. */
const ONE_SHOT_BYTES = 64 * 1024;

/** Whether a response to be masked arrives whole and small enough to be masked in one call. */
function maskOneShot(method: string, up: UpstreamResponse): boolean {
  if (method === 'HEAD' || up.statusCode === 204 || up.statusCode === 304) return false;
  const encoding = up.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return false;
  const length = Number(up.headers['content-length']);
  return length > 0 && length <= ONE_SHOT_BYTES;
}

function clientIp(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function outcomeOf(d: Decision): Outcome {
  if (d.hold) return 'hold';
  if (!d.allow) return 'deny';
  return d.mask.request.length || d.mask.response.length ? 'mask' : 'allow';
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const k in from) into[k] = (into[k] ?? 0) + from[k]!;
}

function authFailure(err: unknown): HttpError {
  const e = err as { status?: unknown; wwwAuthenticate?: unknown; message?: unknown };
  if (typeof e?.status === 'number' && typeof e.wwwAuthenticate === 'string') {
    const message = typeof e.message === 'string' ? e.message : 'The credentials were not accepted.';
    if (e.status === 401) return new Unauthenticated(`The credentials were not accepted: ${message}.`, e.wwwAuthenticate, 401, { cause: err });
    if (e.status === 400) return new HttpError(400, 'ambiguous_credentials', `The credentials are ambiguous: ${message}.`, {}, { cause: err });
    return new HttpError(e.status, 'identity_unavailable', `The caller could not be authenticated now: ${message}.`, {}, { cause: err });
  }
  return toHttpError(err);
}

export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly #router: Router;
  readonly #upstreams: Upstreams;
  readonly #usage = new UsageCounter();
  readonly #limits: IdentityLimits;
  readonly #jsonMaxDepth: number;
  /** The exchange each socket is serving, so a server-level timeout can be told to it. */
  readonly #bySocket = new WeakMap<Socket, Exchange>();
  /** Sockets the server already refused (answered once, then closed). */
  readonly #answered = new WeakSet<Socket>();
  readonly #maxBody: number;
  readonly #bodyCap: number;
  readonly #logRequests: boolean;
  #inflight = 0;
  #draining = false;
  /** Outcome records not yet durable; close() waits for them. */
  readonly #writes = new Set<Promise<void>>();
  #drained: (() => void) | null = null;
  readonly #shadow: ShadowObserver | null;

  constructor(
    private readonly services: GatewayServices,
    opts: GatewayOptions,
  ) {
    this.#shadow = services.shadow ? new ShadowObserver(services.shadow, { append: (e) => services.audit.append(e), metrics: this.metrics, logger: services.logger }) : null;
    this.#router = new Router(opts.routes);
    this.#upstreams = new Upstreams(opts.upstreams);
    this.#maxBody = opts.maxBodyBytes;
    this.#bodyCap = opts.bodyCapBytes;
    this.#logRequests = opts.logRequests ?? true;
    this.#limits = new IdentityLimits(opts.limits);
    this.#jsonMaxDepth = opts.limits.jsonMaxDepth;
  }

  /** The node:http request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const x: Exchange = {
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
      authAudited: false,
      identity: null,
      timedOut: false,
      closed: null,
      revision: null,
      response: null,
      streamMaskers: [],
    };
    this.#bySocket.set(req.socket, x);
    this.#inflight++;
    this.metrics.inflight.inc({}, 1);
    if (this.#draining) res.setHeader('connection', 'close');
    res.once('close', () => this.#finish(x, res));
    this.#serve(x, req, res)
      .catch(async (err: unknown) => {
        let e = x.timedOut ? new HttpError(408, 'request_timeout', clientFault({ code: 'ERR_HTTP_REQUEST_TIMEOUT' }).message) : toHttpError(err);
        x.error = e.error;
        if (e instanceof InternalError) {
          this.services.logger.log('error', 'internal error', { request_id: x.id, error: err instanceof Error ? err.message : String(err) });
        }
        // A refusal before the policy decided is audited as a gateway denial (PCI DSS 10.2.1: every
        // access attempt); if it cannot be recorded the answer is the audit failure.
        if (!x.recorded && !x.authAudited && !(e instanceof AuditUnavailable)) {
          e = await this.#recordRefusal(x, e).then(
            () => {
              x.recorded = true;
              // The connection may already be gone (a timed-out body): the outcome follows now.
              if (x.closed) this.#recordOutcome(x, res);
              return e;
            },
            (failure: unknown) => toHttpError(failure),
          );
          x.error = e.error;
        }
        sendError(res, e, x.id);
      })
      .catch((err: unknown) => {
        this.services.logger.log('error', 'internal error', { request_id: x.id, error: err instanceof Error ? err.message : String(err) });
        res.destroy();
      });
  };

  /**
   * The HTTP server refused a request before or while reading it. The answer goes straight to the
   * socket; when an exchange is reading that request, it records the refusal itself, else it is
   * recorded here (no identity: the parser never got that far).
   */
  readonly clientError = (err: NodeJS.ErrnoException, socket: Socket): void => {
    // After a refusal Node reports the cut connection once more (HPE_INVALID_EOF_STATE): the first word stands.
    if (this.#answered.has(socket)) {
      socket.destroy();
      return;
    }
    this.#answered.add(socket);
    const fault = clientFault(err);
    const live = this.#bySocket.get(socket);
    if (live) {
      live.timedOut = fault.status === 408;
      live.error = fault.error;
    }
    const id = live?.id ?? randomUUID();
    const body = JSON.stringify({ error: fault.error, message: fault.message, request_id: id });
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 ${fault.status} ${fault.status === 431 ? 'Request Header Fields Too Large' : fault.status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
          `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\nx-request-id: ${id}\r\n\r\n${body}`,
      );
    } else socket.destroy();
    if (live) return;
    const a = socket.remoteAddress ?? '';
    const facts: RefusalFacts = { id, client: a.startsWith('::ffff:') ? a.slice(7) : a, route: '', method: '', path: '', identity: null };
    this.metrics.requests.inc({ route: '(none)', decision: 'none', status: String(fault.status) });
    const write = this.#recordRefusal(facts, new HttpError(fault.status, fault.error, fault.message))
      .then(() => this.services.audit.append({ type: 'request.outcome', request_id: id, status: fault.status, bytes_in: 0, bytes_out: 0, duration_ms: 0, masked: {}, response_body: null, error: fault.error }))
      .then(
        () => undefined,
        (e: unknown) => this.services.logger.log('error', 'audit refusal record failed', { request_id: id, error: (e as Error).message }),
      )
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  };

  /** Stops taking new requests (they get 503) and resolves once every in-flight one has ended. */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }

  get inflight(): number {
    return this.#inflight;
  }

  async close(): Promise<void> {
    await this.#shadow?.close();
    await Promise.all(this.#writes);
    this.#usage.close();
    this.#limits.close();
    await this.#upstreams.close();
  }

  async #serve(x: Exchange, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#draining) throw new ShuttingDown();
    const target = parseTarget(req.url);
    x.path = target.path;
    x.search = target.search;
    const host = hostName(req.headers.host);
    const route = this.#router.match(host, target.path);
    if (!route) throw new NoRoute(host, target.path);
    x.route = route.name;
    const upstream = this.#upstreams.get(route.upstream);

    // The upstream request is aborted when the client goes away, whether we are holding, waiting
    // for headers or streaming.
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });

    let identity: Identity;
    try {
      refuseRepeatedCredentials(req.rawHeaders);
      identity = await this.services.authenticator.authenticate(req.headers);
    } catch (err) {
      x.outcome = 'unauthenticated';
      const failure = authFailure(err);
      // PCI DSS 10.2.1.4: invalid access attempts are recorded; if they cannot be, nothing is served.
      await this.#record({ type: 'auth.failure', request_id: x.id, client: x.client, route: route.name, reason: (err as { code?: string }).code ?? failure.error });
      x.authAudited = true;
      throw failure;
    }
    x.subject = identity.sub;
    x.identity = identity;
    const key = `${identity.iss}\u0000${identity.sub}`;
    res.once('close', this.#limits.admit(key, identity.sub));

    let raw: Buffer | null = null;
    let body: unknown = null;
    let bodyBytes = 0;
    if (hasBody(req)) {
      if (isJsonType(req.headers['content-type'])) {
        raw = await readBody(req, this.#maxBody);
        checkJsonBody(raw, this.#jsonMaxDepth);
        body = parseJson(raw);
        bodyBytes = raw.length;
      } else {
        bodyBytes = Number(req.headers['content-length'] ?? 0) || 0;
      }
    }
    x.bodyBytes = bodyBytes;
    // Streamed bodies are not hashed (that would mean buffering them): replays match on the rest.
    const bodySha256 = raw ? hash('sha256', raw, 'hex') : raw === null && bodyBytes === 0 ? EMPTY_SHA256 : 'streamed';
    const holds = this.services.holds;
    // Holds and replays name the request with its query: approving `limit=5000` must not let a
    // replay with `limit=500000` through.
    const heldTarget = target.path + target.search;
    const approval = holds.approvalFor(identity, route.name, x.method, heldTarget, bodySha256);
    const input = buildPolicyInput({
      identity,
      method: x.method,
      path: target.path,
      search: target.search,
      headers: req.headers,
      body,
      bodyBytes,
      route: route.name,
      requestsLastMinute: this.#requestsLastMinute(key),
      approval,
      grants: holds.grantsFor(identity, route.name),
      nowMs: Date.now(),
    });
    const policy = this.services.policy.current();
    x.revision = policy.revision;
    const shadowFacts = { request_id: x.id, subject: identity.sub, route: route.name };
    let decision: Decision;
    try {
      decision = this.#decide(x, policy, input);
    } catch (err) {
      const reason = (err as PolicyFailed).message;
      this.#shadow?.observe(shadowFacts, input, policy.revision, { error: reason });
      await this.#recordDecision(x, identity, route.upstream, { effect: 'error', reason, rules: [] }, approval, input, body === null ? null : this.#auditBody(policy, [], body));
      throw err;
    }
    this.#shadow?.observe(shadowFacts, input, policy.revision, { decision });
    x.outcome = outcomeOf(decision);
    const recorded = { effect: x.outcome as DecisionEffect, reason: decision.reason, rules: decision.rules ?? [] };
    await this.#recordDecision(x, identity, route.upstream, recorded, approval, input, body === null ? null : this.#auditBody(policy, decision.mask.request, body));

    if (decision.hold) {
      const waitStart = performance.now();
      let waited = 'failed';
      const outcome = await holds
        .hold({ identity, route: route.name, method: x.method, path: heldTarget, bodySha256, summary: this.#summary(policy, x.method, heldTarget, body), spec: decision.hold }, abort.signal)
        .then((o) => ((waited = abort.signal.aborted ? 'client_gone' : o.status), o))
        .catch((err: unknown) => Promise.reject(holdFailure(err)))
        .finally(() => {
          x.heldMs = performance.now() - waitStart;
          this.metrics.holdWait.observe(x.heldMs / 1000, { route: route.name, outcome: waited });
        });
      if (outcome.status === 'denied') {
        throw new Forbidden(`An approver denied this request${outcome.reason ? `: ${outcome.reason}` : ''}.`, { hold_id: outcome.holdId });
      }
      if (outcome.status === 'timeout') {
        if (abort.signal.aborted) return;
        throw new Forbidden(
          `This request is held for approval (${decision.hold.reason}); no approver decided in time. Once hold ${outcome.holdId} is approved, send the same request again.`,
          { hold_id: outcome.holdId },
        );
      }
    } else if (!decision.allow) {
      throw new Forbidden(decision.reason);
    } else if (approval?.kind === 'replay') {
      await holds.consumeReplay(approval.hold_id).catch((err: unknown) => Promise.reject(holdFailure(err)));
    }

    await this.#forward(x, req, res, upstream, policy.masker, decision, { raw, body }, abort.signal);
  }

  async #record(event: AuditEvent): Promise<void> {
    try {
      await this.services.audit.append(event);
    } catch (err) {
      this.services.logger.log('error', 'audit log write failed; the request is refused with 503', {
        request_id: 'request_id' in event ? event.request_id : null,
        record: event.type,
        error: (err as Error).message,
      });
      throw new AuditUnavailable(err);
    }
  }

  /**
   * The request body as the audit log keeps it: card data masked whatever the decision says, and
   * whatever else the decision masks on the request side (custom detectors, JSON paths) too.
   */
  #auditBody(policy: ActivePolicy, requestRules: MaskRule[], body: unknown): string {
    const rules = requestRules.length ? [...CARD_RULES, ...requestRules] : CARD_RULES;
    return JSON.stringify(policy.masker.maskJson(rules, body).value);
  }

  /**
   * The decision record, durable before anything is enforced or forwarded, with the input it was
   * decided on (`policy diff` decides it again); `body` is the masked request body.
   */
  async #recordDecision(
    x: Exchange,
    identity: Identity,
    upstream: string,
    decided: { effect: DecisionEffect; reason: string; rules: string[] },
    approval: Approval | null,
    input: PolicyInput,
    body: string | null,
  ): Promise<void> {
    await this.#record({
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
      approval: approval?.hold_id ?? null,
      request_body: body === null ? null : captureBody(body, this.#bodyCap),
      policy_input: recordInput(input),
    });
    x.recorded = true;
  }

  /** A request the gateway refused before the policy decided (no route, limits, bad body): a denial by the gateway itself. */
  async #recordRefusal(x: RefusalFacts, e: HttpError): Promise<void> {
    await this.#record({
      type: 'request.decision',
      request_id: x.id,
      subject: x.identity?.sub ?? null,
      groups: x.identity?.groups ?? [],
      client: x.client,
      route: x.route,
      upstream: null,
      method: x.method,
      path: scrubPath(x.path),
      decision: { effect: e.status >= 500 ? 'error' : 'deny', reason: `gateway refused (${e.error}): ${e.message}`, policy_revision: null, rules: [] },
      approval: null,
      request_body: null,
      policy_input: null,
    });
  }

  /** What approvers see of a held request: method, path and body, card data masked whatever the decision says. */
  /** This identity's requests in the last minute: exact here, plus other nodes' as last read back. */
  #requestsLastMinute(key: string): number {
    const local = this.#usage.hit(key);
    const shared = this.services.sharedUsage;
    if (!shared) return local;
    shared.record(key);
    return local + shared.otherNodes(key);
  }

  #summary(policy: ActivePolicy, method: string, path: string, body: unknown): string {
    const head = `${method} ${scrubPath(path)}`;
    if (body === null) return head;
    return `${head} ${JSON.stringify(policy.masker.maskJson(CARD_RULES, body).value).slice(0, 500)}`;
  }

  #decide(x: Exchange, policy: ActivePolicy, input: PolicyInput): Decision {
    const t0 = performance.now();
    try {
      return policy.evaluate(input);
    } catch (err) {
      x.outcome = 'error';
      throw new PolicyFailed(err);
    } finally {
      this.metrics.policyEval.observe((performance.now() - t0) / 1000);
    }
  }

  /** The body sent upstream: the read JSON (masked if the policy says so) or the client's stream. */
  #requestBody(x: Exchange, req: IncomingMessage, masker: MaskService, rules: MaskRule[], read: { raw: Buffer | null; body: unknown }): Buffer | Readable | null {
    if (read.raw) {
      if (!rules.length || read.body === null) return read.raw;
      const masked = masker.maskJson(rules, read.body);
      addCounts(x.masked, masked.counts);
      return Buffer.from(JSON.stringify(masked.value));
    }
    if (!hasBody(req)) return null;
    // A pass-through of our own, so undici tearing down the body on failure leaves the client's
    // socket open for the 502.
    if (!rules.length) return req.pipe(new PassThrough());
    const out = masker.maskStream(rules, req.headers['content-type'], req.headers['content-encoding'], 'request');
    x.streamMaskers.push(out);
    req.pipe(out);
    return out;
  }

  async #forward(
    x: Exchange,
    req: IncomingMessage,
    res: ServerResponse,
    upstream: Upstream,
    maskService: MaskService,
    decision: Decision,
    read: { raw: Buffer | null; body: unknown },
    signal: AbortSignal,
  ): Promise<void> {
    const reqBody = this.#requestBody(x, req, maskService, decision.mask.request, read);
    const headers = upstreamHeaders(req.headers, {
      clientIp: clientIp(req),
      proto: 'http',
      host: req.headers.host ?? '',
      requestId: x.id,
      credential: upstream.credential,
      identityEncoding: decision.mask.response.length > 0,
    });
    if (Buffer.isBuffer(reqBody)) headers['content-length'] = String(reqBody.length);
    else if (reqBody && decision.mask.request.length) {
      delete headers['content-length'];
      delete headers['content-encoding'];
    }

    let up;
    try {
      up = await upstream.request({ method: x.method, pathAndQuery: x.path + x.search, headers, body: reqBody, signal });
    } catch (err) {
      if (signal.aborted) return;
      throw this.#upstreamFailure(upstream, err);
    }
    x.upstreamStatus = up.statusCode;
    const rules = decision.mask.response;
    if (rules.length && maskOneShot(x.method, up)) {
      let whole: Buffer;
      try {
        whole = Buffer.from(await up.body.arrayBuffer());
      } catch (err) {
        if (signal.aborted) return;
        throw this.#upstreamFailure(upstream, err);
      }
      const masked = maskService.maskBody(rules, up.headers['content-type'] as string | undefined, whole);
      addCounts(x.masked, masked.counts);
      const captured = captureBody(masked.body, this.#bodyCap);
      x.response = { bytes: captured.bytes, finish: () => captured };
      // Framed as the streamed path frames a masked body (chunked, no length), so clients see one behaviour.
      res.writeHead(up.statusCode, clientHeaders(up.headers, x.id, true));
      res.end(masked.body);
      return;
    }
    let masker: ReturnType<MaskService['maskStream']> | null = null;
    try {
      if (rules.length) masker = maskService.maskStream(rules, String(up.headers['content-type'] ?? ''), up.headers['content-encoding'] as string | undefined, 'response');
    } catch (err) {
      up.body.destroy();
      throw err;
    }
    if (masker) x.streamMaskers.push(masker);
    res.writeHead(up.statusCode, clientHeaders(up.headers, x.id, masker !== null));
    // The audit log keeps what the client receives (masked), hashed as it streams past: a second
    // reader of the chunks piped to the client, so nothing is buffered beyond the capture's cap.
    const capture = (x.response = new BodyCapturer(this.#bodyCap));
    (masker ?? up.body).on('data', (chunk: Buffer) => capture.update(chunk));
    try {
      await relay(up.body, masker, res);
    } catch (err) {
      // The client leaving is its own business; anything else is the upstream failing mid-body,
      // and with the status already sent the only honest signal left is a reset.
      if (!signal.aborted) x.error = this.#upstreamFailure(upstream, err).error;
      res.destroy();
    }
  }

  /** An upstream fault as the client's error, counted in the metrics by kind. */
  #upstreamFailure(upstream: Upstream, err: unknown): HttpError {
    const failure = classifyUpstreamError(upstream.name, err);
    this.metrics.upstreamErrors.inc({ upstream: upstream.name, kind: failure.kind });
    return failure.error;
  }

  #finish(x: Exchange, res: ServerResponse): void {
    const seconds = (performance.now() - x.started - x.heldMs) / 1000;
    const status = x.timedOut ? 408 : res.writableFinished ? res.statusCode : res.headersSent ? res.statusCode : 499;
    if (!res.writableFinished && !x.error) x.error = 'client_closed';
    const route = x.route || '(none)';
    this.metrics.requests.inc({ route, decision: x.outcome, status: String(status) });
    this.metrics.latency.observe(seconds, { route });
    this.metrics.inflight.inc({}, -1);
    if (this.#logRequests) {
      this.services.logger.log(status >= 500 ? 'warn' : 'info', 'request', {
        request_id: x.id,
        method: x.method,
        path: scrubPath(x.path),
        route: x.route || null,
        sub: x.subject,
        decision: x.outcome,
        status,
        upstream_status: x.upstreamStatus,
        error: x.error,
        duration_ms: Math.round(seconds * 1e4) / 10,
        policy_revision: x.revision,
      });
    }
    x.closed = { status, seconds };
    if (x.recorded) this.#recordOutcome(x, res);
    if (--this.#inflight === 0 && this.#draining) this.#drained?.();
  }

  /** The outcome record of a closed exchange whose decision (or refusal) record is durable. */
  #recordOutcome(x: Exchange, res: ServerResponse): void {
    const { status, seconds } = x.closed!;
    // Read here, not where the pipe resolves: the response's close can come first.
    for (const m of x.streamMaskers) addCounts(x.masked, m.counts());
    const write = this.services.audit
      .append({
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
      })
      .then(
        () => undefined,
        (err: unknown) => this.services.logger.log('error', 'audit outcome record failed', { request_id: x.id, error: (err as Error).message }),
      )
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }
}
