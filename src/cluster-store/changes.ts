/**
 * Follows the store's change stream for this node: LISTEN on `regate_changes` for prompt news,
 * plus a poll that runs whatever the listener's health, so a dropped LISTEN connection, a missed
 * notification or a PostgreSQL restart costs at most one poll period, never a lost change. The
 * listener reconnects with backoff on its own. Each wake-up reads every change after the last one
 * applied (change numbers commit in order, see store.ts), so nothing is skipped or applied twice.
 */
import pg from 'pg';
import { coalesced } from './coalesce.js';
import { clientConfig, type ClusterPostgresOptions } from './connect.js';
import { CHANGES_CHANNEL, type Change, type ClusterStore } from './store.js';

export interface ChangeFeedOptions {
  /** Poll period while the LISTEN connection is up (a safety net for a lost notification). */
  pollMs?: number;
  /** Poll period while it is down: this bounds how late a node hears of a change. */
  fallbackPollMs?: number;
  /** Called with each failure to read changes (the feed keeps trying). */
  onError?: (err: Error) => void;
}

export class ChangeFeed {
  #seq: number;
  #listener: pg.Client | null = null;
  #listening = false;
  #closed = false;
  #timer: NodeJS.Timeout | null = null;
  #reconnect: NodeJS.Timeout | null = null;
  #lastOkMs = 0;

  constructor(
    private readonly store: ClusterStore,
    private readonly postgres: ClusterPostgresOptions,
    private readonly apply: (change: Change) => void,
    startSeq: number,
    private readonly opts: ChangeFeedOptions = {},
  ) {
    this.#seq = startSeq;
  }

  /** The last change number applied. */
  get seq(): number {
    return this.#seq;
  }

  /** Whether the LISTEN connection is up (if not, the poll alone keeps the view current). */
  get listening(): boolean {
    return this.#listening;
  }

  /** When changes were last read successfully (epoch ms; 0: never). */
  get lastOkMs(): number {
    return this.#lastOkMs;
  }

  async start(): Promise<void> {
    await this.pull();
    await this.listen();
    this.schedule();
  }

  /** Reads and applies every change after the last one applied; concurrent calls coalesce. */
  readonly pull: () => Promise<void> = coalesced(() => this.pullOnce(), () => this.#closed);

  private async pullOnce(): Promise<void> {
    if (this.#closed) return;
    try {
      for (;;) {
        const batch = await this.store.changesSince(this.#seq);
        for (const change of batch) {
          this.apply(change);
          this.#seq = change.seq;
        }
        if (batch.length < 1000) break;
      }
      this.#lastOkMs = Date.now();
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }

  private schedule(): void {
    if (this.#closed) return;
    const period = this.#listening ? (this.opts.pollMs ?? 2000) : (this.opts.fallbackPollMs ?? 250);
    this.#timer = setTimeout(() => void this.pull().finally(() => this.schedule()), period);
    this.#timer.unref();
  }

  private async listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(clientConfig(this.postgres));
    const lost = (): void => {
      if (this.#listener !== client) return;
      this.#listener = null;
      this.#listening = false;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (!this.#closed) {
        this.#reconnect = setTimeout(() => void this.listen(), 500);
        this.#reconnect.unref();
      }
    };
    this.#listener = client;
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => void this.pull());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      this.#listening = true;
      // Changes committed while the listener was down were not notified: read them now.
      void this.pull();
    } catch {
      lost();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#reconnect) clearTimeout(this.#reconnect);
    const client = this.#listener;
    this.#listener = null;
    this.#listening = false;
    if (client) await client.end().catch(() => undefined);
    await this.pull();
  }
}
