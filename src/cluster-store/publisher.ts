/**
 * Publishes this node's audit log to the archive (archive.ts): every sealed segment with its
 * checkpoint, in order, each with a consistency proof from what the archive already holds. It
 * keeps no queue of its own: each run compares the log's stored checkpoints with the archive's
 * last size and sends what is missing, so segments sealed while PostgreSQL was down, or before a
 * restart, are sent when it is back (runs: on each seal, every few seconds, and before the log
 * closes). A refusal (the archive holds a checkpoint this log does not extend) is logged once
 * and publication stops: it means this log was rewritten, which an operator must look at.
 */
import { checkpointEnd, consistencyNodes, storedCheckpoints, type AuditLog } from '../audit/index.js';
import { archiveCheckpoint, lastArchived } from './archive.js';
import { coalesced } from './coalesce.js';
import { CheckpointRefused } from './errors.js';
import type { ClusterStore } from './store.js';

export interface PublisherOptions {
  retryMs?: number;
  onWarning?: (message: string) => void;
}

export class AuditPublisher {
  #backlog = 0;
  #origin: string | null = null;
  #refused: string | null = null;
  #failing = false;
  #closed = false;
  /** The newest checkpoint this node knows the archive holds: its segment, tree size and origin. */
  #cursor: { key: number; end: number; origin: string } | null = null;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly store: ClusterStore,
    private readonly log: AuditLog,
    private readonly opts: PublisherOptions = {},
  ) {
    log.onSeal(() => void this.sync());
    // The last seal happens on close: publish it before the store closes.
    log.beforeClose(() => this.sync());
    this.#timer = setInterval(() => void this.sync(), opts.retryMs ?? 2000);
    this.#timer.unref();
  }

  /** Sealed segments not yet in the archive, as of the last run. */
  get backlog(): number {
    return this.#backlog;
  }

  get origin(): string | null {
    return this.#origin;
  }

  /** One publication run; concurrent calls coalesce into one more run. */
  readonly sync: () => Promise<void> = coalesced(() => this.publishMissing());

  private async publishMissing(): Promise<void> {
    if (this.#refused || this.#closed) return;
    try {
      const reader = this.log.reader;
      // Resume after the last checkpoint known to be archived rather than decoding every stored
      // checkpoint on every run (a long-lived node has thousands).
      const cursor = this.#cursor;
      const sealed = [...storedCheckpoints(reader, cursor ? cursor.key + 1 : 0)]
        .filter((s) => typeof s.checkpoint !== 'string' && s.checkpoint.v === 2);
      const origin = cursor?.origin ?? (sealed[sealed.length - 1]?.checkpoint as { origin?: string } | undefined)?.origin;
      if (origin === undefined) return;
      this.#origin = origin;
      let archived = (await lastArchived(this.store.pool, origin))?.size ?? 0;
      if (cursor && cursor.end !== archived) {
        // The archive is not where this node left it (restored from a backup, say): rescan.
        this.#cursor = null;
        return await this.publishMissing();
      }
      let start = cursor?.end ?? 0;
      const unpublished: { segment: number; first: number; size: number; note: string }[] = [];
      for (const s of sealed) {
        const end = checkpointEnd(s.checkpoint as Exclude<typeof s.checkpoint, string>);
        if (end > archived) unpublished.push({ segment: s.key, first: start, size: end, note: s.text });
        else this.#cursor = { key: s.key, end, origin };
        start = end;
      }
      this.#backlog = unpublished.length;
      for (const t of unpublished) {
        const lines: Buffer[] = [];
        for (const { value } of reader.records.getRange({ start: t.first, end: t.size })) lines.push(value, Buffer.from('\n'));
        await archiveCheckpoint(this.store.pool, {
          node: this.store.nodeId, segment: t.segment, body: Buffer.concat(lines), note: t.note,
          fromSize: archived, proof: consistencyNodes(reader, archived, t.size),
        }, Date.now());
        archived = t.size;
        this.#cursor = { key: t.segment, end: t.size, origin };
        this.#backlog--;
      }
      if (this.#failing) this.opts.onWarning?.('audit publication reaches the archive again; the backlog was sent');
      this.#failing = false;
    } catch (err) {
      if (err instanceof CheckpointRefused) {
        this.#refused = err.message;
        this.opts.onWarning?.(`the audit archive refused this log's checkpoint, publication stopped: ${err.message}`);
        return;
      }
      if (!this.#failing) this.opts.onWarning?.(`audit publication is queued: ${(err as Error).message}`);
      this.#failing = true;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#closed = true;
    // Waits for a run in flight; the run this call adds returns at once.
    await this.sync();
  }
}
