/**
 * The holds stage's backend on the cluster store: mutations are transactions under the store's
 * write lock (store.ts), reads of whole lists go to PostgreSQL (the console and `holds list` see
 * every node's holds), and the per-request index is this node's view, kept current by the change
 * feed. Changes other nodes made are passed on to the holds service, which releases a client
 * waiting here when its hold is decided elsewhere.
 */
import type { Grant, Hold, HoldBackend, HoldWriter, RemoteChange } from '../hold/index.js';
import { ChangeFeed, type ChangeFeedOptions } from './changes.js';
import type { ClusterPostgresOptions } from './connect.js';
import type { Change, ClusterStore } from './store.js';
import { ClusterView } from './view.js';

export class ClusterHoldBackend implements HoldBackend {
  readonly #view: ClusterView;
  readonly #feed: ChangeFeed;
  readonly #sweep: NodeJS.Timeout;

  /** Where the view started: the snapshot's change number and how many live holds and grants it held. */
  readonly startedFrom: { seq: number; rows: number };

  private constructor(
    private readonly store: ClusterStore,
    postgres: ClusterPostgresOptions,
    feed: ChangeFeedOptions,
    view: ClusterView,
    snapshot: { seq: number; changes: Change[] },
  ) {
    this.#view = view;
    this.startedFrom = { seq: snapshot.seq, rows: snapshot.changes.length };
    this.#feed = new ChangeFeed(store, postgres, (c) => this.#view.apply(c), snapshot.seq, feed);
    this.#sweep = setInterval(() => this.#view.sweep(), 1000);
    this.#sweep.unref();
  }

  /**
   * Opens the backend: the view starts from a snapshot of the live holds and grants (not from the
   * whole change history, which grows for ever), then the feed applies every change after it.
   */
  static async open(store: ClusterStore, postgres: ClusterPostgresOptions, feed: ChangeFeedOptions = {}, now: () => number = Date.now): Promise<ClusterHoldBackend> {
    const snapshot = await store.snapshot(now());
    const view = new ClusterView(now);
    for (const change of snapshot.changes) view.apply(change);
    const backend = new ClusterHoldBackend(store, postgres, feed, view, snapshot);
    await backend.#feed.start();
    return backend;
  }

  get index(): ClusterView {
    return this.#view;
  }

  /** The change feed (for `cluster status`: whether LISTEN is up, the last change applied). */
  get feed(): ChangeFeed {
    return this.#feed;
  }

  async mutate<T>(fn: (w: HoldWriter) => Promise<T>): Promise<T> {
    // The feed is read after the step commits, never inside it: what the view applies is passed on
    // to the holds service, whose effects (waking a client, its pending set) belong to a step that
    // succeeded; read within a step that then fails, they would be dropped with it. So the pending
    // limits count other nodes' holds as this node's view knows them (a notification behind).
    const result = await this.store.write((tx) => fn({
      getHold: (id) => tx.getHold(id),
      getGrant: (id) => tx.getGrant(id),
      putHold: (hold) => tx.putHold(hold),
      putGrant: (grant, hold) => tx.putGrant(grant, hold),
      claimUse: (holdId, kind, nowMs) => tx.claimUse(holdId, kind, nowMs),
    }));
    // Our own change is in our view before the caller goes on (the notification may come later).
    await this.#feed.pull();
    return result;
  }

  getHold(id: string): Promise<Hold | undefined> {
    return this.store.getHold(id);
  }

  getGrant(id: string): Promise<Grant | undefined> {
    return this.store.getGrant(id);
  }

  allHolds(): Promise<Hold[]> {
    return this.store.allHolds();
  }

  allGrants(): Promise<Grant[]> {
    return this.store.allGrants();
  }

  pendingHolds(): Promise<Hold[]> {
    return this.store.pendingHolds();
  }

  onRemoteChange(listener: (change: RemoteChange) => void): () => void {
    // Every change is passed on, this node's own too: the service ignores what it already knows.
    return this.#view.onChange((c: Change) => listener(c.kind === 'hold' ? { kind: 'hold', hold: c.hold } : { kind: 'grant', grant: c.grant }));
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    await this.#feed.close();
  }
}
