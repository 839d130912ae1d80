/**
 * Per-identity admission control, so one caller (a leaked token, a runaway script, a bulk
 * extraction) cannot starve the others or the upstream: a token bucket caps the request rate and a
 * counter caps the requests in flight. Both are keyed by the verified identity, checked after
 * authentication and before anything costly (body, policy, upstream). Memory is one small entry per
 * active identity; entries of identities that went quiet are swept away.
 */
import { HttpError } from './errors.js';

export interface LimitSettings {
  /** Token bucket refill per identity; 0 disables rate limiting. */
  requestsPerSecond: number;
  /** Bucket size: the burst an idle identity may send at once. */
  burst: number;
  /** Requests one identity may have in flight; 0 disables the cap. */
  maxConcurrent: number;
}

/** 429 with `Retry-After` (whole seconds) and the JSON error body. */
export class TooManyRequests extends HttpError {
  static override readonly code: string = 'ERR_TOO_MANY_REQUESTS';
  constructor(error: 'rate_limited' | 'too_many_concurrent', message: string, retryAfterSeconds: number) {
    super(429, error, message, { 'retry-after': String(retryAfterSeconds) });
  }
}

interface Entry {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
  inflight: number;
}

const SWEEP_MS = 60_000;

export class IdentityLimits {
  readonly #entries = new Map<string, Entry>();
  readonly #sweep: NodeJS.Timeout;

  constructor(
    private readonly settings: LimitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.#sweep = setInterval(() => this.sweep(), SWEEP_MS);
    this.#sweep.unref();
  }

  /**
   * Admits one request for `key` or throws TooManyRequests. An admitted request holds a
   * concurrency slot until the returned release function is called (once; later calls are no-ops).
   */
  admit(key: string, who: string): () => void {
    const { requestsPerSecond: rate, burst, maxConcurrent } = this.settings;
    const t = this.now();
    let e = this.#entries.get(key);
    if (!e) {
      e = { tokens: burst, at: t, inflight: 0 };
      this.#entries.set(key, e);
    }
    if (maxConcurrent > 0 && e.inflight >= maxConcurrent) {
      throw new TooManyRequests('too_many_concurrent', `${who} already has ${e.inflight} requests in flight, the most the gateway allows one caller; retry when one has finished.`, 1);
    }
    if (rate > 0) {
      e.tokens = Math.min(burst, e.tokens + (Math.max(0, t - e.at) * rate) / 1000);
      e.at = t;
      if (e.tokens < 1) {
        const wait = Math.max(1, Math.ceil((1 - e.tokens) / rate));
        throw new TooManyRequests('rate_limited', `${who} sent more than ${rate} requests a second (burst ${burst}); retry in ${wait} s.`, wait);
      }
      e.tokens -= 1;
    }
    e.inflight++;
    let released = false;
    const entry = e;
    return () => {
      if (released) return;
      released = true;
      entry.inflight--;
    };
  }

  /** Identities currently tracked. */
  get size(): number {
    return this.#entries.size;
  }

  /** Forgets identities with nothing in flight whose bucket has refilled: they are as new. */
  sweep(): void {
    const t = this.now();
    const { requestsPerSecond: rate, burst } = this.settings;
    for (const [k, e] of this.#entries) {
      const full = rate === 0 || e.tokens + ((t - e.at) * rate) / 1000 >= burst;
      if (e.inflight === 0 && full) this.#entries.delete(k);
    }
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}
