/**
 * Reading a log for people and SIEMs: one request's records (replay) and the record stream (tail),
 * from a store another process may be writing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRecord, type AuditRecord } from './record.js';
import { recordsAfter } from './sources.js';
import { requestStory } from './story.js';
import type { Store } from './store.js';
import { readerOf, type LogReader } from './log-reader.js';

/**
 * Every record of `requestId`'s story in log order (story.ts): its own records, its hold with each
 * approver, the grant made from it, and the requests linked through them (the retry a late approval
 * let through, the held request a retry came from). `source` is the live store, or a LogReader over
 * the archive and the live store.
 */
export async function findExchange(source: Store | LogReader, requestId: string): Promise<AuditRecord[]> {
  const reader = readerOf(source);
  return requestStory(async function* (): AsyncGenerator<AuditRecord> {
    for await (const { bytes } of reader.records()) {
      const r = parseRecord(bytes);
      if (typeof r !== 'string') yield r;
    }
  }, requestId);
}

/**
 * Yields records' canonical bytes from `from` on; with `follow`, keeps polling for new ones until
 * `signal` aborts. Given a LogReader with an archive, records the live store was pruned of come
 * from the archive first.
 */
export async function* tailRecords(source: Store | LogReader, opts: { from?: number; follow?: boolean; signal?: AbortSignal; pollMs?: number } = {}): AsyncGenerator<Buffer> {
  const reader = readerOf(source);
  const store = reader.store;
  let after = (opts.from ?? 0) - 1;
  if (reader.archive) {
    let liveFirst = Infinity;
    for (const key of store.records.getKeys({ limit: 1 })) liveFirst = key;
    for await (const r of reader.records(after + 1)) {
      if (r.seq >= liveFirst) break;
      yield r.bytes;
      after = r.seq;
    }
  }
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
