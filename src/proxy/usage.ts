/**
 * Per-identity request counters for the policy's `usage.requests_last_minute`, so a policy can spot
 * bulk extraction. Each identity keeps 60 one-second buckets (a ring): counting is exact to the
 * second, memory is constant per identity, and identities idle for a minute are swept away.
 */
const WINDOW_S = 60;

interface Ring {
  buckets: Uint32Array;
  /** The second (epoch seconds) that the newest bucket holds. */
  last: number;
}

export class UsageCounter {
  readonly #rings = new Map<string, Ring>();
  readonly #sweep: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.#sweep = setInterval(() => this.sweep(), WINDOW_S * 1000);
    this.#sweep.unref();
  }

  /** Counts one request for `key` and returns how many it made in the last minute, this one included. */
  hit(key: string): number {
    const sec = Math.floor(this.now() / 1000);
    let ring = this.#rings.get(key);
    if (!ring) {
      ring = { buckets: new Uint32Array(WINDOW_S), last: sec };
      this.#rings.set(key, ring);
    }
    if (sec > ring.last) {
      if (sec - ring.last >= WINDOW_S) ring.buckets.fill(0);
      else for (let s = ring.last + 1; s <= sec; s++) ring.buckets[s % WINDOW_S] = 0;
      ring.last = sec;
    }
    // A clock that steps back counts into the newest bucket rather than a stale one.
    ring.buckets[ring.last % WINDOW_S]! += 1;
    let total = 0;
    for (let i = 0; i < WINDOW_S; i++) total += ring.buckets[i]!;
    return total;
  }

  /** Number of identities currently tracked. */
  get size(): number {
    return this.#rings.size;
  }

  /** Drops identities with no request in the last minute. */
  sweep(): void {
    const sec = Math.floor(this.now() / 1000);
    for (const [k, r] of this.#rings) if (sec - r.last >= WINDOW_S) this.#rings.delete(k);
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}
