/**
 * The request pipeline: route → authenticate → read the JSON body (if any) → build the policy input
 * → decide → record → enforce (deny, hold, mask) → forward → stream the answer back. Each stage is a
 * service passed to the constructor through a narrow interface (services.ts), so the pipeline knows
 * their contracts and nothing else. Every failure fails closed and answers with the JSON error body.
 *
 * This file is longer than most (~400 lines) because `Gateway` is the pipeline's one stateful
 * object (in-flight count and drain, pending audit writes, the exchange each socket serves) and its
 * methods are the steps in order, so one read follows a request end to end. What each step does
 * lives beside it: exchange.ts (what a request accumulates), client-fault.ts (parser refusals),
 * audit-records.ts (the records), mask-strategy.ts (which body is masked how), errors.ts.
 */
import { hash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { serialiseInput, type AuditEvent, type DecisionEffect } from '../audit/index.js';
import type { Approval, Decision, HoldSpec, Identity, PolicyInput } from '../contract/index.js';
import { refuseRepeatedCredentials } from '../identity/index.js';
import { scrubPath } from '../mask/index.js';
import {
  answerOutcomeRecord, auditBody, decisionRecord, faultOutcomeRecord, holdSummary, outcomeRecord, refusalEffect, refusalRecord, type RecordedDecision,
} from './audit-records.js';
import { readRequest } from './body.js';
import { answerClientFault, clientFault } from './client-fault.js';
import {
  AuditUnavailable, authFailure, Forbidden, holdFailure, HttpError, InternalError, NoRoute, PolicyFailed, sendError, ShuttingDown, toHttpError,
} from './errors.js';
import { ClientGone } from './client-gone.js';
import { addCounts, clientAddress, clientIp, newExchange, outcomeOf, type Exchange } from './exchange.js';
import { forwardsAfterCommit } from './commit-order.js';
import { classifyUpstreamError, Upstreams, type Upstream, type UpstreamResponse } from './forward.js';
import { upstreamHeaders } from './headers.js';
import { buildPolicyInput } from './input.js';
import { IdentityLimits } from './limits.js';
import { requestBody, requestTarget, sendResponse, valueMasker } from './mask-strategy.js';
import { scrubDecision } from './card-scrub.js';
import { GatewayMetrics } from './metrics.js';
import { hostName, Router } from './router.js';
import { ShadowObserver } from './shadow.js';
import { parseTarget } from './target.js';
import type { ActivePolicy, GatewayOptions, GatewayServices, MaskService } from './services.js';
import { UsageCounter } from './usage.js';

const EMPTY_SHA256 = hash('sha256', '', 'hex');

export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly #router: Router;
  readonly #upstreams: Upstreams;
  readonly #usage = new UsageCounter();
  readonly #limits: IdentityLimits;
  readonly #jsonMaxDepth: number;
  /** The exchange each socket is serving, so a server-level timeout can be told to it. */
  readonly #bySocket = new WeakMap<Socket, { x: Exchange; res: ServerResponse }>();
  /** Sockets the server already refused (answered once, then closed). */
  readonly #answered = new WeakSet<Socket>();
  readonly #maxBody: number;
  readonly #bodyCap: number;
  /** Routes with their own body cap (routes[].body_cap_bytes), by name; the others take #bodyCap. */
  readonly #routeBodyCaps: Map<string, number>;
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
    this.#routeBodyCaps = new Map(opts.routes.flatMap((r) => (r.body_cap_bytes === undefined ? [] : [[r.name, r.body_cap_bytes] as const])));
    this.#logRequests = opts.logRequests ?? true;
    this.#limits = new IdentityLimits(opts.limits);
    this.#jsonMaxDepth = opts.limits.jsonMaxDepth;
  }

  /** The node:http request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const x = newExchange(req);
    this.#bySocket.set(req.socket, { x, res });
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
        e = await this.#recordAnswer(x, res, e);
        x.error = e.error;
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
    // The exchange still receiving its request on this socket, when the fault is in that request
    // (not in a later pipelined one, nor a new request on a kept-alive socket after it ended).
    const entry = this.#bySocket.get(socket);
    const live = entry && !entry.x.closed && !entry.res.headersSent ? entry.x : undefined;
    if (live) {
      live.timedOut = fault.status === 408;
      live.error = fault.error;
    }
    const id = live?.id ?? randomUUID();
    if (!live) this.metrics.requests.inc({ route: '(none)', decision: 'none', status: String(fault.status) });
    // The refusal (and its outcome) is durable before the answer goes out; a live exchange's
    // records say what it had learned. If it cannot be recorded, the answer is the audit failure.
    const events: AuditEvent[] = [];
    if (!live?.outcomeWritten) {
      const refused = new HttpError(fault.status, fault.error, fault.message);
      if (!live?.recorded) {
        events.push(refusalRecord(live ?? { id, client: clientAddress(socket.remoteAddress), route: '', method: '', path: '', identity: null }, refused));
      }
      events.push(faultOutcomeRecord(id, fault.status, fault.error, live?.bodyBytes ?? 0));
      if (live) live.recorded = live.outcomeWritten = true;
    }
    const write = Promise.all(events.map((e) => this.#record(e)))
      .then(
        () => answerClientFault(socket, fault, id),
        (failure: unknown) => {
          const e = toHttpError(failure);
          answerClientFault(socket, { status: e.status, error: e.error, message: e.message }, id);
        },
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
    // for headers or streaming (#finish, on the response's one close listener).
    const gone = (x.gone = new ClientGone());

    const identity = await this.#authenticate(x, req);
    const key = `${identity.iss}\u0000${identity.sub}`;
    const release = this.#limits.admit(key, identity.sub);
    // A client gone while it was authenticated has already closed: its slot is released at once.
    if (x.closed) release();
    else x.release = release;

    const read = await readRequest(req, this.#maxBody, this.#jsonMaxDepth);
    const { raw, body, bodyBytes } = read;
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
    // Serialised once: the policy evaluates `evaluated`, the decision record keeps `recorded` (body null).
    const inputJson = serialiseInput(input);
    const policy = this.services.policy.current();
    x.revision = policy.revision;
    const shadowFacts = { request_id: x.id, subject: identity.sub, route: route.name };
    let decision: Decision;
    try {
      // A reason may quote the request (`limit 4111… exceeds…`): it reaches clients, approvers and logs card-free.
      decision = scrubDecision(this.#decide(x, policy, inputJson.evaluated));
    } catch (err) {
      const reason = (err as PolicyFailed).message;
      this.#shadow?.observe(shadowFacts, input, policy.revision, { error: reason });
      await this.#recordDecision(x, identity, route.upstream, { effect: 'error', reason, rules: [] }, null, inputJson.recorded, raw === null ? null : auditBody(policy, [], { raw, form: read.form }));
      throw err;
    }
    this.#shadow?.observe(shadowFacts, input, policy.revision, { decision });
    x.outcome = outcomeOf(decision);
    const auditedBody = raw === null ? null : auditBody(policy, decision.mask.request, { raw, form: read.form });
    const record: RecordDecision = (effect, reason, approvalId) =>
      this.#recordDecision(x, identity, route.upstream, { effect, reason, rules: decision.rules ?? [] }, approvalId, inputJson.recorded, auditedBody);

    if (decision.hold) {
      if (!(await this.#hold(x, policy, decision.hold, { identity, heldTarget, bodySha256, raw, form: read.form }, record, gone))) return;
    } else {
      const durable = record(x.outcome as DecisionEffect, decision.reason, this.#letThrough(policy, input, decision, approval));
      // A plain allow leaves for the upstream while its record commits; the answer waits for the
      // record (commit-order.ts). Refusals, holds, replays and state-changing calls wait first.
      if (decision.allow && approval?.kind !== 'replay' && !forwardsAfterCommit(route, x.method, target.path)) {
        await this.#forward(x, req, res, upstream, policy.masker, decision, read, route.unmaskable, gone, durable);
        return;
      }
      if (!decision.allow) {
        // A denial's decision and outcome go to the log in the same commit, both before the answer.
        const denied = new Forbidden(decision.reason);
        x.outcomeWritten = true;
        await Promise.all([durable, this.#record(answerOutcomeRecord(x, denied))]);
        throw denied;
      }
      await durable;
      if (approval?.kind === 'replay') {
        await holds.consumeReplay(approval.hold_id, x.id).catch((err: unknown) => Promise.reject(holdFailure(err)));
      }
    }
    await this.#forward(x, req, res, upstream, policy.masker, decision, read, route.unmaskable, gone, null);
  }

  /**
   * The approval that let an allowed request through, for its decision record: the replay it uses
   * up, or a grant without which the policy would not have allowed it (decided again without the
   * grants: a grant held by a caller the policy allows anyway let nothing through). Else null.
   */
  #letThrough(policy: ActivePolicy, input: PolicyInput, decision: Decision, approval: Approval | null): string | null {
    if (!decision.allow) return null;
    if (approval?.kind === 'replay') return approval.hold_id;
    const grant = input.grants[0];
    if (!grant) return null;
    try {
      const without = policy.evaluate({ ...input, grants: [] });
      if (without.allow && !without.hold) return null;
    } catch {
      // The policy decides nothing without the grants: the grant is what let the request through.
    }
    return grant.grant_id ?? grant.hold_id;
  }

  /** Verifies the caller; a refusal is recorded (PCI DSS 10.2.1.4: invalid access attempts) before it is answered. */
  async #authenticate(x: Exchange, req: IncomingMessage): Promise<Identity> {
    let identity: Identity;
    try {
      refuseRepeatedCredentials(req.rawHeaders);
      identity = await this.services.authenticator.authenticate(req.headers);
    } catch (err) {
      x.outcome = 'unauthenticated';
      const failure = authFailure(err);
      // If the attempt cannot be recorded, nothing is served.
      await this.#record({ type: 'auth.failure', request_id: x.id, client: x.client, route: x.route, reason: (err as { code?: string }).code ?? failure.error, status: failure.status });
      x.authAudited = true;
      throw failure;
    }
    x.subject = identity.sub;
    x.identity = identity;
    return identity;
  }

  /**
   * Holds a request the policy held: the hold is made first (the limits may refuse it: a 429 is
   * recorded as `limited`, never as a hold), then the decision is recorded naming the hold, then
   * the client waits for the approvers. An approver's refusal or no decision in time throws. True
   * when the request goes on to the upstream; false when the client left while it was held.
   */
  async #hold(
    x: Exchange, policy: ActivePolicy, spec: HoldSpec, held: { identity: Identity; heldTarget: string; bodySha256: string; raw: Buffer | null; form: boolean },
    record: RecordDecision, gone: ClientGone,
  ): Promise<boolean> {
    const { identity, heldTarget, bodySha256, raw, form } = held;
    const waitStart = performance.now();
    let waited = 'failed';
    let outcome;
    try {
      const opened = await this.services.holds
        .open({ requestId: x.id, identity, route: x.route, method: x.method, path: heldTarget, bodySha256, summary: holdSummary(policy, x.method, heldTarget, { raw, form }), spec }, gone.signal)
        .catch(async (err: unknown) => {
          const e = holdFailure(err);
          if (e.status === 429) x.outcome = 'limited';
          // What the gateway enforced: a limit's 429 is `limited`, a store that cannot take the hold (503) an `error`; never a hold nobody holds.
          if (!(e instanceof AuditUnavailable)) await record(refusalEffect(e.status), `held by the policy (${spec.reason}), but the hold was refused: ${e.message}`, null);
          throw e;
        });
      await record('hold', spec.reason, opened.holdId).catch((err: unknown) => {
        // Not recorded, not held: the client is refused, and the hold waits for nobody.
        gone.abort();
        throw err;
      });
      outcome = await opened.outcome;
      waited = gone.aborted ? 'client_gone' : outcome.status;
    } finally {
      x.heldMs = performance.now() - waitStart;
      this.metrics.holdWait.observe(x.heldMs / 1000, { route: x.route, outcome: waited });
    }
    if (outcome.status === 'denied') {
      throw new Forbidden(`An approver denied this request${outcome.reason ? `: ${outcome.reason}` : ''}.`, { hold_id: outcome.holdId });
    }
    if (outcome.status === 'timeout') {
      if (gone.aborted) return false;
      throw new Forbidden(
        `This request is held for approval (${spec.reason}); no approver decided in time. Once hold ${outcome.holdId} is approved, send the same request again.`,
        { hold_id: outcome.holdId },
      );
    }
    return true;
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

  /** The decision record, durable before anything is enforced or forwarded; `body` is the masked request body. */
  async #recordDecision(x: Exchange, identity: Identity, upstream: string, decided: RecordedDecision, approval: string | null, policyInput: string, body: string | null): Promise<void> {
    await this.#record(decisionRecord(x, identity, upstream, decided, approval, policyInput, body, this.#bodyCapOf(x)));
    x.recorded = true;
  }

  /** This identity's requests in the last minute: exact here, plus other nodes' as last read back. */
  #requestsLastMinute(key: string): number {
    const local = this.#usage.hit(key);
    const shared = this.services.sharedUsage;
    if (!shared) return local;
    shared.record(key);
    return local + shared.otherNodes(key);
  }

  /**
   * Records what the gateway is about to answer itself with `e`, before the answer goes out (PCI
   * DSS 10.2.1: every access attempt, refusals included): a refusal before the policy decided is
   * a gateway decision, and the outcome is written with it, both durable before the first byte. If
   * they cannot be recorded the answer is the audit failure. Returns the error to answer with.
   */
  async #recordAnswer(x: Exchange, res: ServerResponse, e: HttpError): Promise<HttpError> {
    // Nothing can be recorded; an auth.failure is the refusal's one record; a response already
    // under way (or an outcome already written) is recorded when the exchange closes.
    if (e instanceof AuditUnavailable || x.authAudited || x.outcomeWritten || res.headersSent) return e;
    const events: AuditEvent[] = [];
    if (!x.recorded) {
      if (e.status === 429) x.outcome = 'limited';
      events.push(refusalRecord(x, e));
    }
    events.push(x.closed ? this.#outcomeEvent(x, res) : answerOutcomeRecord(x, e));
    x.recorded = x.outcomeWritten = true;
    return Promise.all(events.map((event) => this.#record(event))).then(
      () => e,
      (failure: unknown) => toHttpError(failure),
    );
  }

  #decide(x: Exchange, policy: ActivePolicy, inputJson: string): Decision {
    const t0 = performance.now();
    try {
      return policy.evaluateJson(inputJson);
    } catch (err) {
      x.outcome = 'error';
      throw new PolicyFailed(err);
    } finally {
      this.metrics.policyEval.observe((performance.now() - t0) / 1000);
    }
  }

  /**
   * Sends the request upstream and relays the answer. With `durable` (the decision record still
   * committing) the request leaves at once and nothing of the answer is read or sent before the
   * record is durable; if it cannot be written the upstream call is aborted and the client gets
   * the audit failure (503), never an upstream byte.
   */
  async #forward(
    x: Exchange,
    req: IncomingMessage,
    res: ServerResponse,
    upstream: Upstream,
    maskService: MaskService,
    decision: Decision,
    read: { raw: Buffer | null; body: unknown; form: boolean },
    unmaskable: 'refuse' | 'pass',
    gone: ClientGone,
    durable: Promise<void> | null,
  ): Promise<void> {
    let sent: Promise<UpstreamResponse>;
    try {
      const reqBody = requestBody(x, req, maskService, decision.mask.request, read);
      // A masked request is masked whole: its target and headers as well as its body.
      const maskValue = decision.mask.request.length > 0 ? valueMasker(x, maskService, decision.mask.request) : undefined;
      const headers = upstreamHeaders(req.headers, {
        clientIp: clientIp(req),
        proto: 'http',
        host: req.headers.host ?? '',
        requestId: x.id,
        credential: upstream.credential,
        identityEncoding: decision.mask.response.length > 0,
      }, maskValue);
      if (Buffer.isBuffer(reqBody)) headers['content-length'] = String(reqBody.length);
      else if (reqBody && decision.mask.request.length) {
        delete headers['content-length'];
        delete headers['content-encoding'];
      }
      const pathAndQuery = requestTarget(x, maskService, decision.mask.request, x.path + x.search);
      sent = upstream.request({ method: x.method, pathAndQuery, headers, body: reqBody, signal: gone });
    } catch (err) {
      // Nothing left: the record is still written before the failure is answered.
      if (durable) await durable;
      throw err;
    }
    if (durable) {
      sent.catch(() => undefined); // read below, once the record is durable
      try {
        await durable;
      } catch (err) {
        gone.abort();
        throw err;
      }
      // The client left while the record committed: its outcome follows the record now.
      if (x.closed && !x.outcomeWritten) this.#recordOutcome(x, res);
    }

    let up;
    try {
      up = await sent;
    } catch (err) {
      if (gone.aborted) return;
      throw this.#upstreamFailure(upstream, err);
    }
    x.upstreamStatus = up.statusCode;
    await sendResponse(x, res, up, maskService, decision.mask.response, unmaskable, this.#bodyCapOf(x), gone, (err) => this.#upstreamFailure(upstream, err));
  }

  /** How much of each masked body of this exchange's route the audit log keeps. */
  #bodyCapOf(x: Exchange): number {
    return this.#routeBodyCaps.get(x.route) ?? this.#bodyCap;
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
    if (x.recorded && !x.outcomeWritten) this.#recordOutcome(x, res);
    if (!res.writableFinished) x.gone?.abort();
    x.release?.();
    if (--this.#inflight === 0 && this.#draining) this.#drained?.();
  }

  /** The outcome record of a closed exchange whose decision (or refusal) record is durable. */
  #recordOutcome(x: Exchange, res: ServerResponse): void {
    x.outcomeWritten = true;
    const write = this.services.audit
      .append(this.#outcomeEvent(x, res))
      .then(
        () => undefined,
        (err: unknown) => this.services.logger.log('error', 'audit outcome record failed', { request_id: x.id, error: (err as Error).message }),
      )
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }

  #outcomeEvent(x: Exchange, res: ServerResponse): AuditEvent {
    // Read here, not where the pipe resolves: the response's close can come first.
    for (const m of x.streamMaskers) addCounts(x.masked, m.counts());
    return outcomeRecord(x, res);
  }
}

/** Records the policy's decision with the effect the gateway enforces and the hold or grant id it names. */
type RecordDecision = (effect: DecisionEffect, reason: string, approvalId: string | null) => Promise<void>;
