/**
 * Reading a log for people and SIEMs: one request's records (replay) and the record stream (tail),
 * from a store another process may be writing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRecord, type AuditRecord } from './record.js';
import { recordsAfter } from './sources.js';
import { requestStory } from './story.js';
import type { Store } from './store.js';

/**
 * Every record of `requestId`'s story in log order (story.ts): its own records, its hold with each
 * approver, the grant made from it, and the requests linked through them (the retry a late approval
 * let through, the held request a retry came from).
 */
export function findExchange(store: Store, requestId: string): AuditRecord[] {
  return requestStory(function* (): Generator<AuditRecord> {
    for (const { value } of store.records.getRange()) {
      const r = parseRecord(value);
      if (typeof r !== 'string') yield r;
    }
  }, requestId);
}

/**
 * Yields records' canonical bytes from `from` on; with `follow`, keeps polling for new ones until
 * `signal` aborts.
 */
export async function* tailRecords(store: Store, opts: { from?: number; follow?: boolean; signal?: AbortSignal; pollMs?: number } = {}): AsyncGenerator<Buffer> {
  let after = (opts.from ?? 0) - 1;
  for (;;) {
    store.env.resetReadTxn();
    const batch = recordsAfter(store, after, 1000);
    for (const e of batch) yield e.bytes;
    if (batch.length > 0) after = batch[batch.length - 1]!.key!;
    if (batch.length === 1000) continue;
    if (!opts.follow || opts.signal?.aborted) return;
    try {
      await sleep(opts.pollMs ?? 250, undefined, { signal: opts.signal });
    } catch {
      return;
    }
  }
}
