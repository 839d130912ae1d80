/**
 * One request's whole story in the log: the request's own records (decision, outcome, auth
 * failure), the hold it was held on with each approver's record, the grant made from it, and the
 * other requests linked to it through them — the retry a late approval let through (named by
 * `hold.replayed`'s `replay_request_id` and by the retry's `decision.approval`), the held request
 * a retry or a grant's use came from, and requests let through on its grant. Links run both ways,
 * so the story is the same whichever of its requests is asked for.
 */
import type { AuditRecord } from './record.js';

/** The ids a story has gathered: requests, and holds or grants. */
interface Linked {
  requests: Set<string>;
  approvals: Set<string>;
}

/** Adds what `r` links to the story; true when the story grew. */
function link(r: AuditRecord, s: Linked): boolean {
  const before = s.requests.size + s.approvals.size;
  const e = r.event;
  if (e.type === 'request.decision' && e.approval !== null) {
    // A held request names its hold; a retry or a grant's use names what let it through.
    if (s.requests.has(e.request_id)) s.approvals.add(e.approval);
    else if (s.approvals.has(e.approval)) s.requests.add(e.request_id);
  } else if ('hold_id' in e && e.type !== 'console.viewed') {
    const ids = [e.hold_id, e.grant_id].filter((id): id is string => id !== null);
    const ours = (e.request_id !== null && s.requests.has(e.request_id)) || ids.some((id) => s.approvals.has(id));
    if (ours) {
      // A grant's records name its hold, so a grant links to the hold's request and back.
      for (const id of ids) s.approvals.add(id);
      if (e.request_id !== null) s.requests.add(e.request_id);
      if (e.replay_request_id !== undefined) s.requests.add(e.replay_request_id);
    }
  }
  return s.requests.size + s.approvals.size > before;
}

function belongs(r: AuditRecord, s: Linked): boolean {
  const e = r.event;
  if (e.type === 'console.viewed') return false;
  if ('hold_id' in e) return (e.request_id !== null && s.requests.has(e.request_id)) || [e.hold_id, e.grant_id].some((id) => id !== null && s.approvals.has(id));
  return 'request_id' in e && s.requests.has(e.request_id);
}

/**
 * Every record of `requestId`'s story, in log order. `records` is read again on each pass (a
 * long log is streamed, not held; an archive is read asynchronously): passes gather the linked
 * ids until no more join (a hold's records may come before or after the decisions that name it),
 * then one pass collects.
 */
export async function requestStory(records: () => Iterable<AuditRecord> | AsyncIterable<AuditRecord>, requestId: string): Promise<AuditRecord[]> {
  const s: Linked = { requests: new Set([requestId]), approvals: new Set() };
  for (let grew = true; grew; ) {
    grew = false;
    for await (const r of records()) if (link(r, s)) grew = true;
  }
  const out: AuditRecord[] = [];
  for await (const r of records()) if (belongs(r, s)) out.push(r);
  return out;
}

/** One line of the story a person reads, for a record of it. */
export function storyLine(r: AuditRecord): string {
  const e = r.event;
  const who = (p: { sub: string } | null): string => (p ? p.sub : 'the clock');
  switch (e.type) {
    case 'request.decision': {
      const via = e.approval === null ? '' : e.decision.effect === 'hold' ? `, held as ${e.approval}` : `, let through on ${e.approval}`;
      return `request ${e.request_id}: ${e.method} ${e.path} by ${e.subject ?? 'an unauthenticated caller'}: ${e.decision.effect} (${e.decision.reason})${via}`;
    }
    case 'request.outcome':
      return `request ${e.request_id} answered ${e.status}${e.error ? ` (${e.error})` : ''}, ${e.bytes_in} bytes in, ${e.bytes_out} bytes out`;
    case 'auth.failure':
      return `request ${e.request_id}: authentication refused (${e.reason})${e.status === undefined ? '' : `, answered ${e.status}`}`;
    case 'hold.created':
      return `${e.hold_id} created for request ${e.request_id ?? '(not recorded)'}: ${e.detail}`;
    case 'hold.approval':
    case 'hold.approved':
      return `${e.hold_id} ${e.type === 'hold.approved' ? 'approved' : 'approval'} by ${who(e.actor)}: ${e.detail}`;
    case 'hold.denied':
      return `${e.hold_id} denied by ${who(e.actor)}: ${e.detail}`;
    case 'hold.replayed':
      return `${e.hold_id} used by request ${e.replay_request_id ?? '(not recorded)'}: ${e.detail}`;
    case 'grant.created':
    case 'grant.revoked':
      return `${e.grant_id} ${e.type === 'grant.created' ? 'created' : 'revoked'} by ${who(e.actor)} from ${e.hold_id ?? 'no hold'} (request ${e.request_id ?? 'none: made without a request'}): ${e.detail}`;
    default:
      return 'detail' in e ? `${e.type} ${e.hold_id ?? e.grant_id ?? ''}: ${e.detail}` : e.type;
  }
}
