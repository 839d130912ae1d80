/**
 * The holds stage: keeps one HTTP request waiting while human approvers decide, and remembers
 * what they decided. The proxy calls `hold()` for a `hold` decision, `approvalFor()` and
 * `grantsFor()` to fill the policy input, and `consumeReplay()` before forwarding a replay; the
 * admin API (src/admin) calls the approvers' methods and `viewAuditLog()`.
 *
 * Every mutation runs one at a time (a promise chain), and within it: read the hold, apply the
 * rules, report the change to the audit callback, then write it. If auditing fails the change does
 * not happen (fail closed). Waiting clients and event-stream subscribers are told after the write.
 *
 * The file is ~400 lines because every transition must run inside that one chain and see the same
 * waiters and pending set; the pure rules are in rules.ts, storage in store.ts, reads in reader.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Approval, HoldSpec, Identity } from '../contract/index.js';
import { ApprovalRefused, AuditViewUnavailable, HoldAuditFailed, HoldLimitExceeded, HoldNotFound, ReplayUnavailable } from './errors.js';
import * as rules from './rules.js';
import type { HoldBackend, HoldWriter, RemoteChange } from './backend.js';
import { LocalHoldBackend } from './local-backend.js';
import { HoldReader } from './reader.js';
import { requestDigest, requestDigestOf } from './request-digest.js';
import { principalOf, samePrincipal, type Grant, type Hold, type HoldAuditEvent, type Principal } from './types.js';
import { notifyWebhook } from './webhook.js';

export interface HoldRequest {
  /** The held request's id (its `x-request-id`), carried by every record of the hold and its grant. */
  requestId: string;
  identity: Identity;
  route: string;
  method: string;
  path: string;
  bodySha256: string;
  /** A masked summary of the request for approvers; the proxy masks it before handing it over. */
  summary: string;
  spec: HoldSpec;
}

export type HoldOutcome =
  | { status: 'approved'; holdId: string }
  | { status: 'denied'; holdId: string; reason: string }
  | { status: 'timeout'; holdId: string };

/**
 * A hold just created: its id at once (the proxy records it in the request's decision before the
 * client waits) and the decision to come.
 */
export interface OpenedHold {
  holdId: string;
  outcome: Promise<HoldOutcome>;
}

export interface HoldServiceOptions {
  /** Directory of the hold store's own LMDB environment (the single-node backend). */
  dir?: string;
  /** Where holds are kept instead of `dir`'s LMDB: the cluster store (src/cluster-store). */
  backend?: HoldBackend;
  /** How long `hold()` keeps the client waiting before answering `timeout`. */
  waitSeconds: number;
  maxPendingPerIdentity?: number;
  maxPendingTotal?: number;
  /** Slack-compatible incoming webhook notified of each new hold. */
  webhookUrl?: string;
  webhookAttempts?: number;
  webhookBackoffMs?: number;
  webhookTimeoutMs?: number;
  /** The console's public address, put in webhook messages. */
  consoleUrl?: string;
  /** Receives every state change before it takes effect; a rejection aborts the change. */
  audit?: (event: HoldAuditEvent) => Promise<void>;
  now?: () => number;
  /** How often pending holds past their TTL are expired. */
  sweepIntervalMs?: number;
  /** Groups whose members may view the audit log (default `auditors`). */
  auditorGroups?: string[];
  /**
   * How a held request's path (query included) is stored and shown — the holds API, the console,
   * the CLI and the webhook: the composition root passes the card scrubber (mask's `scrubPath`).
   * A replay is matched on the request's digest (request-digest.ts), never on the stored path.
   */
  shownPath?: (path: string) => string;
}

/** What changed, for event-stream subscribers (the console updates in place from these). */
export interface HoldChange {
  kind: 'hold' | 'grant';
  id: string;
  state: string;
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

export class HoldService {
  private readonly waiters = new Map<string, (hold: Hold | null) => void>();
  private readonly subscribers = new Set<(change: HoldChange) => void>();
  /** Pending holds by id, for the limits; loaded from the store on open. */
  private readonly pending = new Map<string, Hold>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly closing = new AbortController();
  private mutations: Promise<unknown> = Promise.resolve();
  /** Effects of the step in progress, run when it commits (see `mutate`). */
  private effects: (() => void)[] | null = null;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly reader: HoldReader;
  private readonly unfollow: () => void;

  private constructor(
    private readonly store: HoldBackend,
    private readonly opts: HoldServiceOptions,
    pending: Hold[],
  ) {
    this.now = opts.now ?? Date.now;
    this.reader = new HoldReader(store.index, this.now);
    for (const h of pending) this.pending.set(h.id, h);
    this.unfollow = store.onRemoteChange((c) => this.onRemoteChange(c));
    this.sweepTimer = setInterval(() => this.track(this.expireDue()), opts.sweepIntervalMs ?? 1000);
    this.sweepTimer.unref();
  }

  static async open(opts: HoldServiceOptions): Promise<HoldService> {
    if (!opts.backend && opts.dir === undefined) throw new TypeError('HoldService.open needs a dir or a backend');
    const store = opts.backend ?? LocalHoldBackend.open(opts.dir!);
    await HoldService.upgradeStored(store, opts.shownPath);
    const service = new HoldService(store, opts, await store.pendingHolds());
    await service.expireDue();
    return service;
  }

  // ---- called by the proxy ------------------------------------------------------------------

  /** Creates a hold and waits up to `waitSeconds` for its decision (or until `signal` aborts). */
  async hold(req: HoldRequest, signal: AbortSignal): Promise<HoldOutcome> {
    return (await this.open(req, signal)).outcome;
  }

  /**
   * Creates a hold (limits checked, `hold.created` recorded) and starts the wait of up to
   * `waitSeconds` for its decision (or until `signal` aborts); the id is known before the wait ends.
   */
  async open(req: HoldRequest, signal: AbortSignal): Promise<OpenedHold> {
    // The waiter is registered in the same step that stores the hold, so no decision can slip
    // between the two.
    const { hold, decision } = await this.mutate(async (w) => {
      const created = await this.create(w, req);
      return { hold: created, decision: this.waitFor(created.id, signal) };
    });
    if (this.opts.webhookUrl) this.track(this.notify(hold, this.opts.webhookUrl));
    const outcome = decision.then(async (decided): Promise<HoldOutcome> => {
      if (decided?.state === 'approved') return { status: 'approved', holdId: hold.id };
      if (decided?.state === 'denied') return { status: 'denied', holdId: hold.id, reason: decided.denial?.reason ?? '' };
      if (!decided) {
        await this.emit({ ...this.eventFor('hold.timeout', hold, principalOf(req.identity)),
          detail: `the client stopped waiting; an approval now grants one replay until the hold expires` }).catch(() => undefined);
      }
      return { status: 'timeout', holdId: hold.id };
    });
    return { holdId: hold.id, outcome };
  }

  /** The replay owed for exactly this request after a late approval, if any (not yet consumed). */
  approvalFor(identity: Identity, route: string, method: string, path: string, bodySha256: string): Approval | null {
    return this.reader.approvalFor(identity, route, method, path, bodySha256);
  }

  /**
   * Uses up the one replay of `holdId` for the retried request `requestId` (recorded, so the held
   * request links to the retry); throws ReplayUnavailable if already used or expired.
   */
  async consumeReplay(holdId: string, requestId: string | null = null): Promise<void> {
    await this.mutate(async (w) => {
      const hold = await this.mustGetHold(w, holdId);
      const now = this.now();
      // The claim is what makes the replay once across nodes; replayUsable alone is this node's view.
      if (!rules.replayUsable(hold, now) || !(await w.claimUse(holdId, 'replay', now))) {
        throw new ReplayUnavailable(`hold ${holdId} owes no replay: it was already used, delivered, or it expired`);
      }
      await this.emit({
        ...this.eventFor('hold.replayed', hold, hold.requester),
        ...(requestId ? { replay_request_id: requestId } : {}),
        detail: requestId ? `the approved request was replayed as request ${requestId}` : 'the approved request was replayed',
      });
      return this.save(w, { ...hold, replayed_at_ms: now });
    });
  }

  /** Active just-in-time grants for this identity on this route. */
  grantsFor(identity: Identity, route: string): Approval[] {
    return this.reader.grantsFor(identity, route);
  }

  // ---- called by approvers (admin API, CLI) --------------------------------------------------

  /** Holds `viewer` may see (as approver or requester), newest first; `state` filters. */
  async listHolds(viewer: Identity, state?: string): Promise<Hold[]> {
    const who = principalOf(viewer);
    return (await this.store.allHolds())
      .map((h) => this.withExpiry(h))
      .filter((h) => (state ? h.state === state : true) && this.mayView(h, who))
      .sort((a, b) => b.created_at_ms - a.created_at_ms);
  }

  async getHold(viewer: Identity, id: string): Promise<Hold> {
    const stored = await this.store.getHold(id);
    if (!stored) throw new HoldNotFound(`no hold ${id}`);
    const hold = this.withExpiry(stored);
    if (!this.mayView(hold, principalOf(viewer))) throw new HoldNotFound(`no hold ${id} that ${viewer.sub} may see`);
    return hold;
  }

  async approve(approver: Identity, id: string, comment: string, grantSeconds: number | null): Promise<Hold> {
    return this.mutate(async (w) => {
      const who = principalOf(approver);
      const { hold, approved } = rules.approve(await this.mustGetHold(w, id), who, comment, grantSeconds, this.now());
      const needed = rules.approvalsRequired(hold);
      await this.emit({
        ...this.eventFor(approved ? 'hold.approved' : 'hold.approval', hold, who),
        detail: `approval ${hold.approvals.length} of ${needed}${comment ? `: ${comment}` : ''}`,
      });
      if (!approved) return this.save(w, hold);
      const grant = await this.grantFor(hold, who);
      // A client still waiting here takes the approval's one use now; one waiting on another node
      // claims it when it hears of the approval (onRemoteChange); with none, one replay is owed.
      const delivered = this.waiters.has(id) && (await w.claimUse(id, 'waiting', this.now()));
      const decided: Hold = { ...hold, delivered, grant_id: grant?.id ?? null };
      if (grant) {
        await w.putGrant(grant, decided);
        this.later(() => this.announce({ kind: 'grant', id: grant.id, state: 'active' }));
        return this.afterSave(decided);
      }
      return this.save(w, decided);
    });
  }

  async deny(approver: Identity, id: string, reason: string): Promise<Hold> {
    return this.mutate(async (w) => {
      const who = principalOf(approver);
      const hold = rules.deny(await this.mustGetHold(w, id), who, reason, this.now());
      await this.emit({ ...this.eventFor('hold.denied', hold, who), detail: reason });
      return this.save(w, hold);
    });
  }

  /** Grants `viewer` may see: active ones they hold or may revoke. */
  async listGrants(viewer: Identity): Promise<Grant[]> {
    const who = principalOf(viewer);
    const now = this.now();
    return (await this.store.allGrants())
      .filter((g) => rules.isGrantActive(g, now))
      .filter((g) => samePrincipal(g.subject, who) || who.groups.some((x) => g.approver_groups.includes(x)))
      .sort((a, b) => a.expires_at_ms - b.expires_at_ms);
  }

  async revokeGrant(revoker: Identity, id: string): Promise<Grant> {
    return this.mutate(async (w) => {
      const grant = await w.getGrant(id);
      if (!grant) throw new HoldNotFound(`no grant ${id}`);
      const who = principalOf(revoker);
      rules.checkRevoker(grant, who);
      if (!rules.isGrantActive(grant, this.now())) throw new ReplayUnavailable(`grant ${id} is already revoked or expired`);
      const revoked: Grant = { ...grant, revoked: { by: who, at_ms: this.now() } };
      await this.emit({
        type: 'grant.revoked', at_ms: this.now(), hold_id: grant.hold_id, grant_id: id, request_id: grant.request_id ?? null, route: grant.route,
        actor: who, subject: grant.subject, detail: `revoked before ${new Date(grant.expires_at_ms).toISOString()}`,
      });
      await w.putGrant(revoked);
      this.later(() => this.announce({ kind: 'grant', id, state: 'revoked' }));
      return revoked;
    });
  }

  /** Whether `viewer` may open the auditors' view. */
  isAuditor(viewer: Identity): boolean {
    const groups = this.opts.auditorGroups ?? ['auditors'];
    return viewer.groups.some((g) => groups.includes(g));
  }

  /**
   * Reads the audit log for an auditor and audits that view before showing it: if the view cannot
   * be recorded, it is not shown (fail closed). `views` is the read access the admin API was given
   * (absent: the view answers 503); `range` names the records shown, for the record.
   */
  async viewAuditLog<V, T>(
    viewer: Identity,
    target: string,
    views: V | undefined,
    read: (views: V) => T | Promise<T>,
    range: (result: T) => { first: number; last: number } | null,
  ): Promise<T> {
    if (!this.isAuditor(viewer)) {
      throw new ApprovalRefused(`${viewer.sub} is in none of the auditor groups (${(this.opts.auditorGroups ?? ['auditors']).join(', ')})`);
    }
    if (!views || !this.opts.audit) {
      throw new AuditViewUnavailable('this gateway has no audit log to show, or cannot audit views of it, so the view is refused');
    }
    const result = await read(views);
    const shown = range(result);
    await this.emit({
      type: 'console.viewed', at_ms: this.now(), hold_id: null, grant_id: null, request_id: null, route: null, actor: principalOf(viewer), subject: null,
      detail: target, view: { first: shown?.first ?? -1, last: shown?.last ?? -1, target },
    });
    return result;
  }

  /** The service's clock (epoch ms), so the console computes ages against the same time. */
  /**
   * Whether the client that made a hold is still waiting on this node for its decision, and when
   * it gives up (after `waitSeconds`); an approval after that lets the same request through once.
   */
  clientWait(hold: Hold): { waiting: boolean; gives_up_at_ms: number } {
    return { waiting: this.waiters.has(hold.id), gives_up_at_ms: hold.created_at_ms + this.opts.waitSeconds * 1000 };
  }

  /** Holds waiting for a decision now (for the pending-holds gauge). */
  pendingCount(): number {
    return this.pending.size;
  }

  nowMs(): number {
    return this.now();
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: (change: HoldChange) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  /** Stops timers and webhook retries, answers waiting clients `timeout`, closes the store. */
  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.unfollow();
    this.closing.abort();
    for (const wake of [...this.waiters.values()]) wake(null);
    await Promise.allSettled([...this.background]);
    await this.mutations.catch(() => undefined);
    this.announce({ kind: 'hold', id: '', state: 'closed' });
    this.subscribers.clear();
    await this.store.close();
  }

  // ---- internals -----------------------------------------------------------------------------

  private async create(w: HoldWriter, req: HoldRequest): Promise<Hold> {
    const now = this.now();
    const requester = principalOf(req.identity);
    const live = [...this.pending.values()].filter((h) => !rules.isExpired(h, now));
    const perIdentity = this.opts.maxPendingPerIdentity ?? 10;
    const total = this.opts.maxPendingTotal ?? 1000;
    // (With a cluster backend `pending` holds every node's holds, kept current by onRemoteChange.)
    if (live.filter((h) => samePrincipal(h.requester, requester)).length >= perIdentity) {
      throw new HoldLimitExceeded(`${requester.sub} already has ${perIdentity} pending holds; wait for a decision`);
    }
    if (live.length >= total) throw new HoldLimitExceeded(`the gateway already has ${total} pending holds`);
    const hold: Hold = {
      id: newId('hold'), state: 'pending', requester, route: req.route, method: req.method.toUpperCase(),
      // Stored as shown: the digest, not the path, is what a replay is matched on.
      path: this.shownPath(req.path), body_sha256: req.bodySha256,
      request_sha256: requestDigest(requester.iss, requester.sub, req.route, req.method, req.path, req.bodySha256), summary: req.summary, spec: req.spec,
      created_at_ms: now, expires_at_ms: now + req.spec.ttl_seconds * 1000, approvals: [], denial: null,
      decided_at_ms: null, delivered: false, replayed_at_ms: null, grant_id: null, request_id: req.requestId,
    };
    await this.emit({ ...this.eventFor('hold.created', hold, requester), detail: req.spec.reason });
    return this.save(w, hold);
  }

  private async grantFor(hold: Hold, who: Principal): Promise<Grant | null> {
    const seconds = rules.grantSecondsFor(hold);
    if (seconds === null) return null;
    const now = this.now();
    const grant: Grant = {
      id: newId('grant'), hold_id: hold.id, request_id: hold.request_id ?? null, subject: hold.requester, route: hold.route,
      approvers: hold.approvals.map((a) => a.by.sub), approver_groups: hold.spec.approvers,
      created_at_ms: now, expires_at_ms: now + seconds * 1000, revoked: null,
    };
    await this.emit({
      type: 'grant.created', at_ms: now, hold_id: hold.id, grant_id: grant.id, request_id: grant.request_id ?? null, route: hold.route, actor: who,
      subject: hold.requester, detail: `just-in-time access for ${seconds} s`,
    });
    return grant;
  }

  /** Expires pending holds past their TTL (audited), waking any client still waiting. */
  private async expireDue(): Promise<void> {
    const now = this.now();
    const due = [...this.pending.values()].filter((h) => rules.isExpired(h, now));
    if (due.length === 0) return;
    await this.mutate(async (w) => {
      for (const seen of due) {
        // Read again inside the step: another node may have decided or expired it meanwhile.
        const hold = await w.getHold(seen.id);
        if (!hold || hold.state !== 'pending') {
          if (hold) this.afterSave(hold);
          else this.pending.delete(seen.id);
          continue;
        }
        await this.emit({ ...this.eventFor('hold.expired', hold, null), detail: 'no decision before the hold expired' });
        await this.save(w, { ...hold, state: 'expired', decided_at_ms: now });
      }
    });
  }

  private async save(w: HoldWriter, hold: Hold): Promise<Hold> {
    await w.putHold(hold);
    return this.afterSave(hold);
  }

  /**
   * A hold or grant changed, maybe on another node: keep the pending set current (the limits are
   * cluster-wide) and release a client waiting here for a hold decided elsewhere. An approval
   * made elsewhere is delivered here only if this node claims its one use first (a replay of the
   * same request may have taken it).
   */
  private onRemoteChange(change: RemoteChange): void {
    if (change.kind === 'grant') return this.announce({ kind: 'grant', id: change.grant.id, state: change.grant.revoked ? 'revoked' : 'active' });
    const hold = change.hold;
    const waiting = this.waiters.has(hold.id);
    if (hold.state === 'approved' && waiting && !hold.delivered) {
      this.track(this.mutate(async (w) => {
        const fresh = await w.getHold(hold.id);
        if (!fresh || !this.waiters.has(hold.id)) return;
        const now = this.now();
        if (rules.replayUsable(fresh, now) && (await w.claimUse(hold.id, 'waiting', now))) {
          await this.save(w, { ...fresh, delivered: true });
        } else {
          this.wake(hold.id, null);
        }
      }));
      return;
    }
    if (hold.state === 'pending') this.pending.set(hold.id, hold);
    else if (this.pending.has(hold.id) || waiting) this.afterSave(hold);
  }

  private wake(id: string, hold: Hold | null): void {
    const wake = this.waiters.get(id);
    this.waiters.delete(id);
    wake?.(hold);
  }

  private afterSave(hold: Hold): Hold {
    this.later(() => {
      if (hold.state === 'pending') this.pending.set(hold.id, hold);
      else {
        this.pending.delete(hold.id);
        this.wake(hold.id, hold);
      }
      this.announce({ kind: 'hold', id: hold.id, state: hold.state });
    });
    return hold;
  }

  /** Runs `effect` once the current step has committed (now, outside a step); dropped if it fails. */
  private later(effect: () => void): void {
    if (this.effects) this.effects.push(effect);
    else effect();
  }

  /** Resolves with the decided hold, or null when the wait ends first (timeout, abort, close). */
  private waitFor(id: string, signal: AbortSignal): Promise<Hold | null> {
    return new Promise((resolve) => {
      const finish = (hold: Hold | null): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', stop);
        this.waiters.delete(id);
        resolve(hold && hold.state !== 'pending' ? hold : null);
      };
      const stop = (): void => finish(null);
      const timer = setTimeout(stop, this.opts.waitSeconds * 1000);
      if (signal.aborted) return finish(null);
      signal.addEventListener('abort', stop, { once: true });
      this.waiters.set(id, finish);
    });
  }

  private withExpiry(hold: Hold): Hold {
    return hold.state === 'pending' && rules.isExpired(hold, this.now()) ? { ...hold, state: 'expired' } : hold;
  }

  private mayView(hold: Hold, who: Principal): boolean {
    return samePrincipal(hold.requester, who) || who.groups.some((g) => hold.spec.approvers.includes(g));
  }

  private async mustGetHold(w: HoldWriter, id: string): Promise<Hold> {
    const hold = await w.getHold(id);
    if (!hold) throw new HoldNotFound(`no hold ${id}`);
    return hold;
  }

  private eventFor(type: HoldAuditEvent['type'], hold: Hold, actor: Principal | null): HoldAuditEvent {
    return { type, at_ms: this.now(), hold_id: hold.id, grant_id: null, request_id: hold.request_id ?? null, route: hold.route, actor, subject: hold.requester, detail: '' };
  }

  private async emit(event: HoldAuditEvent): Promise<void> {
    if (!this.opts.audit) return;
    try {
      await this.opts.audit(event);
    } catch (err) {
      const of = event.hold_id ?? event.grant_id;
      throw new HoldAuditFailed(`cannot audit ${event.type}${of ? ` of ${of}` : ''}; nothing changed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * The hold as approvers and the webhook see it: its path as `shownPath` shows it (stored so since
   * holds kept their request's digest; a hold an older node wrote into a shared store is shown so too).
   */
  shown(hold: Hold): Hold {
    return hold.request_sha256 === undefined ? { ...hold, path: this.shownPath(hold.path) } : hold;
  }

  private shownPath(path: string): string {
    return this.opts.shownPath ? this.opts.shownPath(path) : path;
  }

  /**
   * Rewrites the holds stored before holds kept their request's digest: the digest of the path as
   * sent is kept and the path is stored as shown, so a card number a client put in a held request's
   * path or query no longer sits in the store. Replays still match (the digest is the index key
   * those holds already had). Not a state change: no audit record, no announcement.
   */
  private static async upgradeStored(store: HoldBackend, shownPath: ((path: string) => string) | undefined): Promise<void> {
    for (const { id } of (await store.allHolds()).filter((h) => h.request_sha256 === undefined)) {
      await store.mutate(async (w) => {
        // Read again inside the step: another node may have changed or upgraded it meanwhile.
        const hold = await w.getHold(id);
        if (hold && hold.request_sha256 === undefined) {
          await w.putHold({ ...hold, request_sha256: requestDigestOf(hold), path: shownPath ? shownPath(hold.path) : hold.path });
        }
      });
    }
  }

  private async notify(hold: Hold, url: string): Promise<void> {
    const result = await notifyWebhook(this.shown(hold), {
      url, attempts: this.opts.webhookAttempts ?? 4, backoffMs: this.opts.webhookBackoffMs ?? 500,
      timeoutMs: this.opts.webhookTimeoutMs ?? 5000, consoleUrl: this.opts.consoleUrl,
    }, this.closing.signal);
    if (!result.ok) {
      await this.emit({ ...this.eventFor('webhook.failed', hold, null), detail: `after ${result.attempts} attempts: ${result.error}` })
        .catch(() => undefined);
    }
  }

  private announce(change: HoldChange): void {
    for (const listener of this.subscribers) listener(change);
  }

  /** Runs `fn` as one backend step, one at a time on this node (the backend locks across nodes). */
  private mutate<T>(fn: (w: HoldWriter) => Promise<T>): Promise<T> {
    // A waiting client is released, and subscribers told, only after the step committed: a
    // client must never be forwarded on an approval the store then failed to keep.
    const step = async (): Promise<T> => {
      this.effects = [];
      try {
        const result = await this.store.mutate(fn);
        const effects = this.effects;
        this.effects = null;
        for (const effect of effects) effect();
        return result;
      } finally {
        this.effects = null;
      }
    };
    const run = this.mutations.then(step, step);
    this.mutations = run.catch(() => undefined);
    return run;
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch(() => undefined).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }
}
