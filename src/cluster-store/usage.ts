/**
 * Cluster-wide request counts for the policy's `usage.requests_last_minute`, with no database
 * round trip on the request path. Each node counts locally (the caller adds `otherNodes(key)` to
 * its own exact local count), queues its increments, and every `periodMs`:
 *   1. flushes the queued increments in one statement (per key and epoch second), then
 *   2. reads back, for the keys it saw in the last minute, the other nodes' sums of that minute.
 * Staleness bound: a request counted on node B at time t is in node A's sum by
 * t + 2 × periodMs + two statement times (B's next flush, then A's next read after it). So a caller
 * spreading requests over nodes is held at the threshold plus at most the requests it sent in that
 * window (docs/cluster.md works the numbers). When the store is unreachable the sums stop moving;
 * the node keeps its local counts, records a warning once per outage, and keeps unsent increments
 * of the last minute to send when the store is back.
 */
import { createHash } from 'node:crypto';
import type { ClusterStore } from './store.js';

const WINDOW_S = 60;

/** The stored form of a key: PostgreSQL text cannot hold the NUL the gateway's keys contain. */
function stored(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

export interface ClusterUsageOptions {
  periodMs?: number;
  /** Told once when counts stop reaching the store, and once when they do again. */
  onWarning?: (message: string) => void;
  now?: () => number;
}

export class ClusterUsage {
  /** key → epoch second → count not yet sent. */
  #queued = new Map<string, Map<number, number>>();
  /** Other nodes' counts in the last minute, as last read. */
  #others = new Map<string, number>();
  /** Keys this node saw, with the last second it saw each (read back for a minute after). */
  readonly #seen = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  readonly #now: () => number;
  #degraded = false;
  #lastSyncMs = 0;
  #running: Promise<void> | null = null;

  constructor(
    private readonly store: ClusterStore,
    private readonly opts: ClusterUsageOptions = {},
  ) {
    this.#now = opts.now ?? Date.now;
    this.#timer = setInterval(() => void this.sync(), opts.periodMs ?? 250);
    this.#timer.unref();
  }

  /** Counts one request of `key` on this node (no I/O). */
  record(key: string): void {
    const sec = Math.floor(this.#now() / 1000);
    this.#seen.set(key, sec);
    let seconds = this.#queued.get(key);
    if (!seconds) this.#queued.set(key, (seconds = new Map()));
    seconds.set(sec, (seconds.get(sec) ?? 0) + 1);
  }

  /** Requests of `key` other nodes made in the last minute, as of the last successful sync. */
  otherNodes(key: string): number {
    return this.#others.get(key) ?? 0;
  }

  /** True while counts cannot reach the store (the policy then sees local counts only). */
  get degraded(): boolean {
    return this.#degraded;
  }

  /** When the last flush and read-back succeeded (epoch ms; 0: never). */
  get lastSyncMs(): number {
    return this.#lastSyncMs;
  }

  /** One flush and read-back; concurrent calls share the one in flight. */
  sync(): Promise<void> {
    this.#running ??= this.syncOnce().finally(() => (this.#running = null));
    return this.#running;
  }

  private async syncOnce(): Promise<void> {
    const nowSec = Math.floor(this.#now() / 1000);
    const since = nowSec - WINDOW_S + 1;
    const batch = this.#queued;
    this.#queued = new Map();
    const rows = [...batch].flatMap(([key, secs]) => [...secs].filter(([s]) => s >= since).map(([second, count]) => ({ key, second, count })));
    const names = new Map([...this.#seen.keys(), ...batch.keys()].map((k) => [k, stored(k)]));
    for (const [key, last] of this.#seen) if (last < since) this.#seen.delete(key);
    try {
      await this.store.addUsage(rows.map((r) => ({ ...r, key: names.get(r.key)! })));
    } catch (err) {
      this.requeue(rows);
      this.warn(`usage counts cannot reach the cluster store (${(err as Error).message}); the policy sees this node's counts only until it is back`);
      return;
    }
    try {
      const keys = [...this.#seen.keys()];
      const sums = await this.store.otherNodesUsage(keys.map((k) => names.get(k)!), since);
      this.#others = new Map(keys.map((k) => [k, sums.get(names.get(k)!) ?? 0]));
      this.#lastSyncMs = this.#now();
      if (this.#degraded) {
        this.#degraded = false;
        this.opts.onWarning?.('usage counts reach the cluster store again; cluster-wide counting resumed');
      }
      if (nowSec % WINDOW_S === 0) await this.store.pruneUsage(nowSec - 2 * WINDOW_S).catch(() => undefined);
    } catch (err) {
      this.warn(`cannot read cluster usage counts (${(err as Error).message}); the policy sees this node's counts only until they are back`);
    }
  }

  private requeue(rows: { key: string; second: number; count: number }[]): void {
    for (const { key, second, count } of rows) {
      let seconds = this.#queued.get(key);
      if (!seconds) this.#queued.set(key, (seconds = new Map()));
      seconds.set(second, (seconds.get(second) ?? 0) + count);
    }
  }

  private warn(message: string): void {
    // Stale sums of other nodes would keep counting requests that left the window: drop them.
    this.#others = new Map();
    if (this.#degraded) return;
    this.#degraded = true;
    this.opts.onWarning?.(message);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
    await this.sync().catch(() => undefined);
  }
}
