/**
 * Reading a log for people and SIEMs: one request's records (replay) and the record stream (tail),
 * from a store another process may be writing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRecord, type AuditRecord } from './record.js';
import { recordsAfter } from './sources.js';
import type { Store } from './store.js';

/**
 * Every record about `requestId` in log order: auth failure, decision, outcome, and the hold or
 * grant its decision names (which may be recorded before or after it).
 */
export function findExchange(store: Store, requestId: string): AuditRecord[] {
  const records = function* (): Generator<AuditRecord> {
    for (const { value } of store.records.getRange()) {
      const r = parseRecord(value);
      if (typeof r !== 'string') yield r;
    }
  };
  // Two passes, so a long log is streamed rather than held: the request's own records first…
  const approvals = new Set<string>();
  for (const r of records()) {
    if (r.event.type === 'request.decision' && r.event.request_id === requestId && r.event.approval !== null) approvals.add(r.event.approval);
  }
  // …then everything about it, holds and grants included, in log order.
  const out: AuditRecord[] = [];
  for (const r of records()) {
    const e = r.event;
    if ('request_id' in e ? e.request_id === requestId : 'hold_id' in e && [e.hold_id, e.grant_id].some((id) => id !== null && approvals.has(id))) out.push(r);
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
