/**
 * The auditors' view of the admin console (src/admin/audit-api.ts) backed by the audit log
 * (src/audit): each view opens the log read-only (beside a running writer), searches, replays one
 * exchange or verifies the segments with the trusted public keys, and closes it again. It lives in
 * the composition root because only this layer may join the admin listener and a stage.
 */
import type { AuditQuery, AuditRecordView, AuditViews, SegmentView } from '../admin/index.js';
import {
  archiveInput, findExchange, LogReader, openStore, parseRecord, storeInput, verifyLog, type AuditArchive, type AuditRecord, type Store, type TrustedKey,
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

/** How far a record's time may run ahead of its segment's sealing time (clock steps, several processes). */
const SEALED_SLACK_MS = 60_000;

async function withStore<T>(dir: string, fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = openStore(dir, { readOnly: true });
  try {
    return await fn(store);
  } finally {
    await store.env.close();
  }
}

/** The keys the segments view trusts, and the candidates a key.rotated record must vouch for (src/audit stateTrust). */
export type Trust = () => Promise<{ keys: TrustedKey[]; candidates: TrustedKey[] }>;

/**
 * Views over the log in `dir` and, when one is configured, its archive (read with the live store as
 * one log: segments pruned from the store are read there). Segments are verified trusting only what
 * `trust()` names (asked on each verification, so a rotated key is trusted without a restart): the
 * gateway's own key and the keys the log's rotation records vouch for, not any key file in the folder.
 */
export function auditViews(dir: string, trust: Trust, archive: AuditArchive | null = null): AuditViews {
  return {
    // Newest first across the live store and the archive; a `from` time skips archived segments
    // sealed (with a minute's slack for clocks) before it without reading them.
    search: (q) =>
      withStore(dir, async (store) => {
        const out: AuditRecordView[] = [];
        const sealedFrom = q.fromMs === undefined ? undefined : q.fromMs - SEALED_SLACK_MS;
        for await (const { bytes } of new LogReader(store, archive).newestFirst(sealedFrom === undefined ? {} : { sealedFrom })) {
          const r = parseRecord(bytes);
          if (typeof r !== 'string' && matches(r, q)) out.push(view(r));
          if (out.length >= q.limit) break;
        }
        return out;
      }),
    exchange: (requestId) => withStore(dir, async (store) => (await findExchange(new LogReader(store, archive), requestId)).map(view)),
    segments: () =>
      withStore(dir, async (store) => {
        const { keys, candidates } = await trust();
        const result = await verifyLog((archive ? archiveInput(store, archive) : storeInput(store)).input, { keys, candidateKeys: candidates, fromGenesis: true });
        // Each segment's record range, archived ones first.
        const checkpoints: Array<{ key: number; first: number; last: number; sealedAt: string | null; readable: boolean; archived: boolean }> = [];
        for await (const s of new LogReader(store, archive).segments()) {
          const cp = s.checkpoint;
          checkpoints.push({ key: s.segment, first: s.first, last: s.end - 1, sealedAt: typeof cp !== 'string' && cp.v === 1 ? cp.payload.sealed_at : null, readable: typeof cp !== 'string', archived: s.archived });
        }
        // The verifier names a segment, or only the record at fault: find the segment holding it.
        const holding = (seq: number | undefined) => (seq === undefined ? undefined : checkpoints.find((c) => c.readable && c.first <= seq && seq <= c.last)?.key);
        const faulty = result.ok ? undefined : (result.fault.segment ?? holding(result.fault.seq) ?? Infinity);
        const segments = checkpoints.map((c): SegmentView => {
          const status = faulty === undefined || c.key < faulty ? 'verified' : c.key === faulty ? 'failed' : 'unchecked';
          const checked = `signature, Merkle root and hash chain verified${c.archived ? ' (read from the archive)' : ''}`;
          return {
            segment: c.key, first: c.readable ? c.first : -1, last: c.readable ? c.last : -1, sealed_at: c.sealedAt, status,
            message: status === 'verified' ? checked : status === 'failed' && !result.ok ? result.fault.message : 'not checked: an earlier segment failed',
          };
        });
        // A fault after the last checkpoint (in records not sealed yet), or before the first segment there is, belongs to no segment.
        if (!result.ok && (faulty === Infinity || !segments.some((s) => s.status === 'failed'))) {
          segments.push({ segment: -1, first: -1, last: -1, sealed_at: null, status: 'failed', message: result.fault.message });
        }
        return segments;
      }),
  };
}
