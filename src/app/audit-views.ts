/**
 * The auditors' view of the admin console (src/admin/audit-api.ts) backed by the audit log
 * (src/audit): each view opens the log read-only (beside a running writer), searches, replays one
 * exchange or verifies the segments with the trusted public keys, and closes it again. It lives in
 * the composition root because only this layer may join the admin listener and a stage.
 */
import type { AuditQuery, AuditRecordView, AuditViews, SegmentView } from '../admin/index.js';
import {
  checkpointEnd, findExchange, openStore, parseRecord, readTrustedKeys, storedCheckpoints, storeInput, verifyLog, type AuditRecord, type Store,
} from '../audit/index.js';

function view(r: AuditRecord): AuditRecordView {
  return { seq: r.seq, ts: r.ts, event: r.event as unknown as Record<string, unknown> };
}

function matches(r: AuditRecord, q: AuditQuery): boolean {
  const e = r.event as unknown as { subject?: unknown; route?: unknown; decision?: { effect?: unknown } };
  // Request records name the subject as a string, hold records as a principal object.
  const subject = typeof e.subject === 'object' && e.subject !== null ? (e.subject as { sub?: unknown }).sub : e.subject;
  const ms = Date.parse(r.ts);
  return (
    (q.subject === undefined || subject === q.subject) &&
    (q.route === undefined || e.route === q.route) &&
    (q.decision === undefined || e.decision?.effect === q.decision) &&
    (q.fromMs === undefined || ms >= q.fromMs) &&
    (q.toMs === undefined || ms <= q.toMs)
  );
}

async function withStore<T>(dir: string, fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = openStore(dir, { readOnly: true });
  try {
    return await fn(store);
  } finally {
    await store.env.close();
  }
}

/**
 * Views over the log in `dir`, its segments verified with the public keys `keyFiles()` names (PEM or
 * JWKS), asked on each verification so a rotated key is trusted without a restart.
 */
export function auditViews(dir: string, keyFiles: () => string[]): AuditViews {
  return {
    search: (q) =>
      withStore(dir, (store) => {
        const out: AuditRecordView[] = [];
        for (const { value } of store.records.getRange({ reverse: true })) {
          const r = parseRecord(value);
          if (typeof r !== 'string' && matches(r, q)) out.push(view(r));
          if (out.length >= q.limit) break;
        }
        return out;
      }),
    exchange: (requestId) => withStore(dir, (store) => findExchange(store, requestId).map(view)),
    segments: () =>
      withStore(dir, async (store) => {
        const keys = await readTrustedKeys(keyFiles());
        const result = await verifyLog(storeInput(store).input, { keys, fromGenesis: true });
        // Each checkpoint's record range: from where the previous one ended to where it ends.
        let start = 0;
        const checkpoints = [...storedCheckpoints(store)].map(({ key, checkpoint }) => {
          const first = start;
          const end = typeof checkpoint === 'string' ? start : checkpointEnd(checkpoint);
          start = end;
          return { key, first, last: end - 1, sealedAt: typeof checkpoint !== 'string' && checkpoint.v === 1 ? checkpoint.payload.sealed_at : null, readable: typeof checkpoint !== 'string' };
        });
        // The verifier names a segment, or only the record at fault: find the segment holding it.
        const holding = (seq: number | undefined) => (seq === undefined ? undefined : checkpoints.find((c) => c.readable && c.first <= seq && seq <= c.last)?.key);
        const faulty = result.ok ? undefined : (result.fault.segment ?? holding(result.fault.seq) ?? Infinity);
        const segments = checkpoints.map((c): SegmentView => {
          const status = faulty === undefined || c.key < faulty ? 'verified' : c.key === faulty ? 'failed' : 'unchecked';
          return {
            segment: c.key, first: c.readable ? c.first : -1, last: c.readable ? c.last : -1, sealed_at: c.sealedAt, status,
            message: status === 'verified' ? 'signature, Merkle root and hash chain verified' : status === 'failed' && !result.ok ? result.fault.message : 'not checked: an earlier segment failed',
          };
        });
        // A fault after the last checkpoint (in records not sealed yet) belongs to no segment.
        if (!result.ok && faulty === Infinity) {
          segments.push({ segment: -1, first: -1, last: -1, sealed_at: null, status: 'failed', message: result.fault.message });
        }
        return segments;
      }),
  };
}
