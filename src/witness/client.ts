/**
 * The gateway's side of witnessing: every checkpoint the audit log seals is submitted to each
 * configured witness (C2SP tlog-witness add-checkpoint) with a consistency proof from the size that
 * witness last cosigned (learnt from its 409 answer the first time), retried with exponential
 * backoff; valid cosignatures are stored with the checkpoint. `lag()` says how far the newest
 * checkpoint cosigned by a quorum trails the newest sealed one (exposed in /metrics).
 */
import { request } from 'undici';
import type { KeyObject } from 'node:crypto';
import { consistencyNodes, cosignature, parseNote, parseVerifierKey, type AuditLog, type Sealed, type WitnessedCheckpoint } from '../audit/index.js';
import { WitnessConfigError } from './errors.js';
import { formatAddCheckpoint } from './protocol.js';
import { signatureLines } from './witness.js';

/** One configured witness: its URL (the submission prefix) and its cosignature verifier key. */
export interface WitnessTarget {
  url: string;
  public_key: string;
}

export interface WitnessState {
  url: string;
  name: string;
  /** The largest tree size it has cosigned for this log, as far as the gateway knows. */
  cosigned_size: number;
  failures: number;
  /** Checkpoints it refused (a fork, a rollback, a proof it rejects) since the gateway started. */
  refusals: number;
  last_error: string | null;
}

export interface WitnessLag {
  quorum: number;
  /** Largest tree size cosigned by a quorum of witnesses. */
  witnessed_size: number;
  sealed_size: number;
  lag_records: number;
  /** Seconds since the oldest checkpoint not yet cosigned by a quorum was sealed (0 when none). */
  lag_seconds: number;
  witnesses: WitnessState[];
}

interface Target extends WitnessState {
  key: KeyObject;
  /** The size the witness holds, when known (its 409 answer says). */
  known: number | null;
  running: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** What a tlog-witness status without a body means (transparency-dev's witness sends none). */
const BARE_STATUS: Record<number, string> = {
  422: ' (the checkpoint does not extend the one it cosigned: the consistency proof fails or the same size has another root; this log forked or was rewritten)',
};

/** What a witness's state shows outside the submitter (lag, /metrics, the refusal callback). */
const stateOf = ({ url, name, cosigned_size, failures, refusals, last_error }: WitnessState): WitnessState => ({ url, name, cosigned_size, failures, refusals, last_error });

/** After one submission: cosigned, the witness's size learnt (submit again now), refused (wait for the next checkpoint), or retry later. */
type Outcome = 'done' | 'learnt' | 'refused' | 'retry';

export interface SubmitterOptions {
  quorum: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  timeoutMs?: number;
  /** How long closing the log waits for its last checkpoint's cosignatures (default 2000 ms). */
  closeWaitMs?: number;
  /**
   * Told of each refusal as it happens: a witness refusing a checkpoint is the alarm that this log
   * was rolled back or forked, so it must reach the operator's log, not only the lag gauge.
   */
  onRefused?: (witness: WitnessState, treeSize: number) => void;
}

export class WitnessSubmitter {
  private readonly targets: Target[];
  private latest: Sealed | null = null;
  private readonly sealedAt = new Map<number, number>();
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly log: AuditLog, witnesses: readonly WitnessTarget[], private readonly opts: SubmitterOptions) {
    this.targets = witnesses.map((w) => {
      const parsed = parseVerifierKey(w.public_key);
      if (typeof parsed === 'string') throw new WitnessConfigError(`witness ${w.url}: ${parsed}`);
      if (parsed.type !== 0x04) throw new WitnessConfigError(`witness ${w.url}: its public_key must be a cosignature key (type 0x04)`);
      return { url: w.url.replace(/\/+$/, ''), name: parsed.name, key: parsed.key, cosigned_size: 0, failures: 0, refusals: 0, last_error: null, known: null, running: false, timer: undefined };
    });
    if (opts.quorum < 1 || opts.quorum > this.targets.length) throw new WitnessConfigError(`the witness quorum ${opts.quorum} must be between 1 and the number of witnesses (${this.targets.length})`);
    log.onSeal((s) => this.submit(s));
    log.beforeClose(async () => {
      await this.settled(opts.closeWaitMs ?? 2000);
      await this.close();
    });
  }

  /** Submits `s` (and supersedes any older checkpoint still waiting) to every witness. */
  submit(s: Sealed): void {
    if (this.closed || (this.latest && this.latest.size >= s.size)) return;
    // Its checkpoint is what witnesses are shown; its records are not kept.
    this.latest = { ...s, appended: null };
    this.sealedAt.set(s.size, Date.now());
    for (const t of this.targets) this.kick(t, 0);
  }

  lag(): WitnessLag {
    const sizes = this.targets.map((t) => t.cosigned_size).sort((a, b) => b - a);
    const witnessed = sizes[this.opts.quorum - 1] ?? 0;
    const sealed = this.latest?.size ?? 0;
    const waiting = [...this.sealedAt].filter(([size]) => size > witnessed).map(([, at]) => at);
    return {
      quorum: this.opts.quorum, witnessed_size: witnessed, sealed_size: sealed, lag_records: Math.max(0, sealed - witnessed),
      lag_seconds: waiting.length === 0 ? 0 : (Date.now() - Math.min(...waiting)) / 1000,
      witnesses: this.targets.map(stateOf),
    };
  }

  /** Stops retrying and waits for requests under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.targets) clearTimeout(t.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Resolves once every witness has cosigned the latest checkpoint (or `ms` passed); for a clean stop and tests. */
  async settled(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.targets.every((t) => t.cosigned_size >= (this.latest?.size ?? 0))) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  private kick(t: Target, delay: number): void {
    if (this.closed || t.running) return;
    clearTimeout(t.timer);
    t.timer = setTimeout(() => {
      const run = this.run(t);
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }, delay);
    t.timer.unref();
  }

  private async run(t: Target): Promise<void> {
    t.running = true;
    let outcome: Outcome = 'done';
    try {
      // Until the newest checkpoint is cosigned: a 409 that teaches the witness's size is retried at
      // once (a few times), a success moves on to a checkpoint sealed meanwhile.
      for (let learnt = 0; !this.closed && this.latest && t.cosigned_size < this.latest.size && learnt < 3; ) {
        const submitted = this.latest.size;
        outcome = await this.attempt(t, this.latest);
        if (outcome === 'learnt') learnt++;
        else if (outcome !== 'done') {
          if (outcome === 'refused') {
            t.refusals++;
            this.opts.onRefused?.(stateOf(t), submitted);
          }
          break;
        }
      }
    } finally {
      t.running = false;
    }
    // Unreachable or failing witnesses are retried with backoff; a refusal (a fork, a rollback, a
    // proof it rejects) waits for the next checkpoint: repeating it would only repeat the alarm.
    if (!this.closed && this.latest && t.cosigned_size < this.latest.size && outcome === 'retry') {
      t.failures++;
      const delay = Math.min((this.opts.retryBaseMs ?? 250) * 2 ** (t.failures - 1), this.opts.retryMaxMs ?? 30_000);
      this.kick(t, delay);
    }
  }

  /** One submission and what to do next. */
  private async attempt(t: Target, s: Sealed): Promise<Outcome> {
    const old = t.known ?? 0;
    if (old > s.size) {
      t.last_error = `the witness has cosigned tree size ${old}, larger than this log's ${s.size}: this log was rolled back or forked`;
      return 'refused';
    }
    let status: number;
    let body: string;
    try {
      const proof = consistencyNodes(this.log.reader, old, s.size);
      const res = await request(`${t.url}/add-checkpoint`, {
        method: 'POST', body: formatAddCheckpoint({ old, proof, checkpoint: s.note }), headersTimeout: this.opts.timeoutMs ?? 10_000, bodyTimeout: this.opts.timeoutMs ?? 10_000,
      });
      status = res.statusCode;
      body = await res.body.text();
    } catch (err) {
      t.last_error = `could not reach the witness: ${(err as Error).message}`;
      return 'retry';
    }
    if (status === 409) {
      const size = /^(0|[1-9][0-9]*)\n$/.exec(body) ? Number(body.trim()) : null;
      if (size === null) {
        t.last_error = `the witness answered 409 without a tree size: ${body.trim().slice(0, 200)}`;
        return 'retry';
      }
      const learnt = t.known !== size;
      t.known = size;
      if (size > s.size) {
        t.last_error = `the witness has cosigned tree size ${size}, larger than this log's ${s.size}: this log was rolled back or forked`;
        return 'refused';
      }
      if (learnt) return 'learnt';
      t.last_error = `the witness refused tree size ${s.size} (409, it holds ${size}): a fork of this log`;
      return 'refused';
    }
    if (status !== 200) {
      // transparency-dev's witness answers its refusals with a bare status: the protocol's meaning is said instead.
      const said = body.trim() ? `: ${body.trim().slice(0, 200)}` : BARE_STATUS[status] ?? '';
      t.last_error = `the witness answered ${status}${said}`;
      return status >= 500 ? 'retry' : 'refused';
    }
    const lines = signatureLines(body);
    const note = lines && parseNote(s.note + lines.map((l) => l + '\n').join(''));
    if (!lines || !note || typeof note === 'string' || typeof cosignature(note, t.name, t.key) !== 'number') {
      t.last_error = 'the witness answered 200 without a valid cosignature by its key';
      return 'retry';
    }
    await this.log.addCosignatures(s.segment, lines.filter((l) => l.startsWith(`\u2014 ${t.name} `)));
    t.known = s.size;
    t.cosigned_size = Math.max(t.cosigned_size, s.size);
    t.failures = 0;
    t.last_error = null;
    for (const size of this.sealedAt.keys()) if (size <= this.lag().witnessed_size) this.sealedAt.delete(size);
    return 'done';
  }
}

/** What asking the witnesses at start gave: the checkpoints they cosigned, and why any could not be asked. */
export interface CosignedAtStart {
  checkpoints: WitnessedCheckpoint[];
  /** One sentence per witness that could not be asked (unreachable, no such endpoint, a bad answer). */
  unreachable: string[];
}

/**
 * Asks each witness for the newest checkpoint it cosigned of `origin` (`GET /checkpoint?origin=`,
 * the regate witness's read endpoint), for the gateway's start check. A checkpoint counts only
 * with a valid cosignature by the configured key; a witness that cosigned nothing yet gives none.
 */
export async function cosignedCheckpoints(witnesses: readonly WitnessTarget[], origin: string, timeoutMs = 5000): Promise<CosignedAtStart> {
  const out: CosignedAtStart = { checkpoints: [], unreachable: [] };
  await Promise.all(witnesses.map(async (w) => {
    const url = w.url.replace(/\/+$/, '');
    const parsed = parseVerifierKey(w.public_key);
    if (typeof parsed === 'string' || parsed.type !== 0x04) throw new WitnessConfigError(`witness ${w.url}: its public_key must be a cosignature key (type 0x04)`);
    let status: number;
    let body: string;
    try {
      const res = await request(`${url}/checkpoint?origin=${encodeURIComponent(origin)}`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      status = res.statusCode;
      body = await res.body.text();
    } catch (err) {
      out.unreachable.push(`witness ${parsed.name} (${url}) could not be reached: ${(err as Error).message}`);
      return;
    }
    if (status === 404 && /no checkpoint cosigned/.test(body)) return;
    if (status !== 200) {
      out.unreachable.push(`witness ${parsed.name} (${url}) answered GET /checkpoint with ${status}: ${body.trim().slice(0, 200)}`);
      return;
    }
    const note = parseNote(body);
    if (typeof note === 'string' || typeof cosignature(note, parsed.name, parsed.key) !== 'number') {
      out.unreachable.push(`witness ${parsed.name} (${url}) answered a checkpoint without a valid cosignature by its key`);
      return;
    }
    out.checkpoints.push({ witness: parsed.name, url, note: body });
  }));
  return out;
}
