/**
 * The auditors' view of the audit log, as the admin API and console show it (PCI DSS 10.2.1.3:
 * every view of the log is itself audited). The holds stage does not read the log itself: the
 * gateway hands in an `AuditViews` (backed by src/audit) and this module serves it under
 * `/api/audit/*` to members of the auditor groups only.
 *
 *   GET /api/audit/records?subject=&route=&decision=&from=&to=&limit=   newest first
 *   GET /api/audit/exchanges/:request_id                                 one exchange, as recorded (masked)
 *   GET /api/audit/segments                                              each segment's verification status
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../contract/index.js';
import type { HoldService } from '../hold/index.js';
import { BadRequest } from '../util/index.js';
import { sendError, sendJson } from './http.js';

export interface AuditQuery {
  subject?: string;
  route?: string;
  /** A request decision's effect: allow, deny, mask, hold or error. */
  decision?: string;
  fromMs?: number;
  toMs?: number;
  limit: number;
}

/** One record as stored: its number, time and event (already masked by the writer). */
export interface AuditRecordView {
  seq: number;
  ts: string;
  event: Record<string, unknown>;
}

export interface SegmentView {
  segment: number;
  first: number;
  last: number;
  sealed_at: string | null;
  /** `unchecked`: after a faulty segment, verification stopped. */
  status: 'verified' | 'failed' | 'unchecked';
  message: string;
}

/** Read access to the audit log, supplied by the composition root (src/app/audit-views.ts). */
export interface AuditViews {
  search(query: AuditQuery): AuditRecordView[] | Promise<AuditRecordView[]>;
  exchange(requestId: string): AuditRecordView[] | Promise<AuditRecordView[]>;
  segments(): Promise<SegmentView[]>;
}

const MAX_LIMIT = 500;

function timeParam(url: URL, key: string): number | undefined {
  const v = url.searchParams.get(key);
  if (!v) return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new BadRequest(`"${key}" must be a date and time (ISO 8601), not ${JSON.stringify(v.slice(0, 40))}`);
  return ms;
}

export function queryOf(url: URL): AuditQuery {
  const text = (key: string) => url.searchParams.get(key)?.trim() || undefined;
  const limit = Number(url.searchParams.get('limit') ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`"limit" must be a whole number from 1 to ${MAX_LIMIT}`);
  return { subject: text('subject'), route: text('route'), decision: text('decision'), fromMs: timeParam(url, 'from'), toMs: timeParam(url, 'to'), limit };
}

function seqRange(records: AuditRecordView[]): { first: number; last: number } | null {
  if (records.length === 0) return null;
  const seqs = records.map((r) => r.seq);
  return { first: Math.min(...seqs), last: Math.max(...seqs) };
}

/** Serves `/api/audit/*` for an authenticated caller; the service checks the group and audits the view. */
export async function routeAuditView(
  service: HoldService, views: AuditViews | undefined, caller: Identity, req: IncomingMessage, res: ServerResponse, url: URL,
): Promise<void> {
  if (req.method !== 'GET') return sendError(res, req, 405, 'method_not_allowed', 'the audit view is read-only (GET)');
  const [, , what, id, extra] = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (what === 'records' && id === undefined) {
    const query = queryOf(url);
    const target = `search ${url.searchParams.toString() || '(all)'}`;
    const records = await service.viewAuditLog(caller, target, views, (v) => v.search(query), seqRange);
    return sendJson(res, 200, { records });
  }
  if (what === 'exchanges' && id !== undefined && extra === undefined) {
    const records = await service.viewAuditLog(caller, `exchange ${id}`, views, (v) => v.exchange(id), seqRange);
    return sendJson(res, 200, { request_id: id, records });
  }
  if (what === 'segments' && id === undefined) {
    const segments = await service.viewAuditLog(caller, 'segment verification', views, (v) => v.segments(), (s) =>
      s.length ? { first: s[0]!.first, last: s.at(-1)!.last } : null,
    );
    return sendJson(res, 200, { segments });
  }
  return sendError(res, req, 404, 'not_found', `the audit view has nothing at ${url.pathname}`);
}
