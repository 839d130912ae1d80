/**
 * Reading a log for people and SIEMs: one request's records (replay) and the record stream (tail),
 * from a store another process may be writing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRecord, type AuditRecord } from './record.js';
import { recordsAfter } from './sources.js';
import type { Store } from './store.js';

/** Every record about `requestId` (auth failure, decision, holds, outcome), in log order. */
export function findExchange(store: Store, requestId: string): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (const { value } of store.records.getRange()) {
    const r = parseRecord(value);
    if (typeof r !== 'string' && 'request_id' in r.event && r.event.request_id === requestId) out.push(r);
  }
  return out;
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
