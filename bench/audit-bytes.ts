/**
 * What the audit log stores per request (issue 20 item 5): a spawned `regate serve` (the bench
 * config: signed bundle, JWKS file, fsync'd log, an archive folder) in front of the demo service
 * takes a representative mix (allowed requests with bodies, masked responses, SSE, policy denials,
 * authentication failures, malformed bodies refused, bulk requests held and approved through the
 * admin API); then the stopped gateway's store is read and tallied: records and bytes per event
 * type (the stored value: event JSON plus the envelope `prev`, `seq`, `ts`, `v`), what each segment
 * adds (checkpoint, frontier), what LMDB adds around it (keys, page headers, slack), the bytes of
 * each field of the decision and outcome records, and the total per request, live and archived.
 * The numbers feed the sizing formula in docs/config.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, STORE_PAGE_SIZE, storeBytes, type Store } from '../src/audit/index.js';
import { startDemoService } from '../src/demo/service.js';
import { prepareRegate, startRegate } from './harness/regate.js';
import { folderBytes } from './lib/folder-bytes.js';
import { report, type Row } from './lib/report.js';

const REQUESTS = Number(process.env.AUDIT_BYTES_REQUESTS ?? 3000);
/** One bulk request held and approved per this many requests of the mix. */
const HOLD_EVERY = 50;
const CLIENTS = 8;

type Shot = { class: string; weight: number; send(base: string, tokens: Record<string, string>): Promise<Response> };
const post = (base: string, path: string, auth: string | null, body: string) =>
  fetch(base + path, { method: 'POST', headers: { ...(auth ? { authorization: auth } : {}), 'content-type': 'application/json' }, body });
const MIX: Shot[] = [
  { class: 'allow: score (JSON body, PAN masked in the answer)', weight: 6, send: (b, t) => post(b, '/v1/score', t.analyst!, JSON.stringify({ transaction: { amount: 4200, merchant: 'm-17', card: '4539 1488 0343 6467' } })) },
  { class: 'allow: transactions list (masked answer)', weight: 2, send: (b, t) => fetch(`${b}/v1/transactions?limit=20`, { headers: { authorization: t.analyst! } }) },
  { class: 'allow: chat stream (SSE, masked)', weight: 3, send: (b, t) => post(b, '/v1/chat/completions', t.agent!, JSON.stringify({ model: 'demo-llm', stream: true, messages: [{ role: 'user', content: 'card?' }] })) },
  { class: 'deny: policy', weight: 1, send: (b, t) => post(b, '/v1/score', t.agent!, '{"transaction":{}}') },
  { class: 'refuse: no token (auth.failure)', weight: 2, send: (b) => post(b, '/v1/score', null, '{}') },
  { class: 'refuse: malformed body (400)', weight: 1, send: (b, t) => post(b, '/v1/score', t.analyst!, '['.repeat(5000) + ']'.repeat(5000)) },
];

/** Runs the mix against a fresh gateway; returns the store's tally tables (and prints them). */
export async function benchAuditBytes(): Promise<void> {
  const demo = await startDemoService({ credential: { header: 'x-upstream-key', value: 'bench-upstream-secret' }, tokenDelayMs: 0 });
  const archiveRoot = mkdtempSync(join(tmpdir(), 'regate-bench-archive-'));
  const archiveDir = join(archiveRoot, 'archive');
  const setup = await prepareRegate(demo.url, { config: { audit: { archive: { dir: archiveDir } } } });
  const statuses = new Map<string, Map<number, number>>();
  const count = (cls: string, status: number) => {
    const m = statuses.get(cls) ?? new Map<number, number>();
    m.set(status, (m.get(status) ?? 0) + 1);
    statuses.set(cls, m);
  };
  let sent = 0;
  try {
    const gw = await startRegate(setup, '0-1');
    try {
      if (gw.adminPort === undefined) throw new Error('regate serve did not name its admin port on the ready line');
      const base = `http://127.0.0.1:${gw.port}`;
      const admin = `http://127.0.0.1:${gw.adminPort}`;
      const deck = MIX.flatMap((s) => Array<Shot>(s.weight).fill(s));
      let next = 0;
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        for (let i = next++; i < REQUESTS; i = next++) {
          const shot = deck[i % deck.length]!;
          const res = await shot.send(base, setup.tokens);
          await res.arrayBuffer();
          count(shot.class, res.status);
          sent++;
        }
      }));
      for (let i = 0; i < Math.ceil(REQUESTS / HOLD_EVERY); i++) {
        count('hold: bulk list held, approved (admin API)', await heldAndApproved(base, admin, setup.tokens));
        sent++;
      }
    } finally {
      await gw.stop();
    }
    const dir = join(setup.dir, 'state', 'audit');
    const { rows, fields, summary } = tally(dir, sent, folderBytes(archiveDir));
    const pages = await repackAll(dir, sent);
    report('audit-requests', [...statuses].map(([c, m]) => ({ class: c, sent: [...m.values()].reduce((a, b) => a + b, 0), statuses: [...m].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ') })));
    report('audit-bytes-by-event', rows, { summary });
    report('audit-bytes-by-field', fields);
    report('audit-bytes-by-page-size', pages);
    process.stdout.write(`${Object.entries(summary).map(([k, v]) => `${k}=${v}`).join('  ')}\n`);
  } finally {
    await demo.close();
    setup.cleanup();
    rmSync(archiveRoot, { recursive: true, force: true });
  }
}

/** A bulk list (over the policy's threshold) is held; the approver approves it; returns the client's status. */
async function heldAndApproved(base: string, admin: string, tokens: Record<string, string>): Promise<number> {
  const answer = fetch(`${base}/v1/transactions?limit=1500`, { headers: { authorization: tokens.analyst! } });
  const asApprover = { authorization: tokens.approver!, 'content-type': 'application/json' };
  for (let i = 0; i < 500; i++) {
    const list = (await (await fetch(`${admin}/api/holds?state=pending`, { headers: asApprover })).json()) as { holds?: { id: string }[] } | { id: string }[];
    const pending = Array.isArray(list) ? list : (list.holds ?? []);
    if (pending.length > 0) {
      const res = await fetch(`${admin}/api/holds/${pending[0]!.id}/approve`, { method: 'POST', headers: asApprover, body: JSON.stringify({ comment: 'bench: bulk export for the quarterly review' }) });
      await res.arrayBuffer();
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const res = await answer;
  await res.arrayBuffer();
  return res.status;
}

/** The envelope after the event: `,"prev":"<64 hex>","seq":N,"ts":"…","v":N}` (docs/audit-format.md §1). */
const PREV = Buffer.from(',"prev":"');
const EVENT_KEY = '{"event":'.length;

interface Sum { records: number; bytes: number; event: number; envelope: number }

/** Tallies a stopped gateway's store: bytes per event type and per field, per segment, per request. */
function tally(dir: string, requests: number, archived: number) {
  const store = openStore(dir, { readOnly: true });
  try {
    const byType = new Map<string, Sum>();
    const byField = new Map<string, { records: number; bytes: number }>();
    let values = 0;
    let records = 0;
    for (const { value } of store.records.getRange()) {
      const record = JSON.parse(value.toString('utf8')) as { event: Record<string, unknown> & { type: string } };
      const eventBytes = value.lastIndexOf(PREV) - EVENT_KEY;
      const s = byType.get(record.event.type) ?? { records: 0, bytes: 0, event: 0, envelope: 0 };
      s.records++;
      s.bytes += value.length;
      s.event += eventBytes;
      s.envelope += value.length - eventBytes;
      byType.set(record.event.type, s);
      values += value.length;
      records++;
      if (record.event.type === 'request.decision' || record.event.type === 'request.outcome') {
        // Each field as stored: `"name":value,` (canonical JSON has no spaces).
        for (const [k, v] of Object.entries(record.event)) {
          const f = `${record.event.type} .${k}`;
          const t = byField.get(f) ?? { records: 0, bytes: 0 };
          t.records++;
          t.bytes += Buffer.byteLength(JSON.stringify(k)) + 2 + Buffer.byteLength(JSON.stringify(v) ?? '');
          byField.set(f, t);
        }
      }
    }
    let segments = 0;
    let checkpointBytes = 0;
    for (const { value } of store.checkpoints.getRange()) {
      segments++;
      checkpointBytes += Buffer.byteLength(value);
    }
    let frontierBytes = 0;
    for (const { value } of store.frontiers.getRange()) frontierBytes += value.length;
    const used = storeBytes(store);
    const lmdb = used - values - checkpointBytes - frontierBytes;
    const per = (n: number) => Math.round((n / requests) * 10) / 10;
    const rows: Row[] = [...byType].sort((a, b) => b[1].bytes - a[1].bytes).map(([type, s]) => ({
      stored: type, records: s.records, bytes: s.bytes, bytes_per_record: Math.round(s.bytes / s.records),
      event_bytes_per_record: Math.round(s.event / s.records), envelope_bytes_per_record: Math.round(s.envelope / s.records),
      share: s.bytes / used, bytes_per_request: per(s.bytes),
    }));
    rows.push(
      { stored: `checkpoints (${segments} segments)`, records: segments, bytes: checkpointBytes, bytes_per_record: Math.round(checkpointBytes / Math.max(1, segments)), event_bytes_per_record: 0, envelope_bytes_per_record: 0, share: checkpointBytes / used, bytes_per_request: per(checkpointBytes) },
      { stored: 'frontiers (per segment)', records: segments, bytes: frontierBytes, bytes_per_record: Math.round(frontierBytes / Math.max(1, segments)), event_bytes_per_record: 0, envelope_bytes_per_record: 0, share: frontierBytes / used, bytes_per_request: per(frontierBytes) },
      { stored: 'LMDB: keys, page headers, free space in pages', records: 0, bytes: lmdb, bytes_per_record: Math.round(lmdb / records), event_bytes_per_record: 0, envelope_bytes_per_record: 0, share: lmdb / used, bytes_per_request: per(lmdb) },
      { stored: 'live store in all (pages in use)', records, bytes: used, bytes_per_record: Math.round(used / records), event_bytes_per_record: 0, envelope_bytes_per_record: 0, share: 1, bytes_per_request: per(used) },
    );
    const decisions = byType.get('request.decision')?.records ?? 1;
    const fields: Row[] = [...byField].sort((a, b) => b[1].bytes - a[1].bytes).map(([field, t]) => ({
      field, records: t.records, bytes_per_record: Math.round(t.bytes / t.records), bytes_per_request: per(t.bytes), per_decision: Math.round(t.bytes / decisions),
    }));
    const summary = {
      requests, records, records_per_request: Math.round((records / requests) * 100) / 100,
      record_bytes_per_request: per(values), live_bytes_per_request: per(used), archive_bytes_per_request: per(archived),
      archive_vs_live: Math.round((archived / used) * 1000) / 1000, segments,
    };
    return { rows, fields, summary };
  } finally {
    store.env.close();
  }
}

/** Page sizes compared: LMDB's default on Linux (what stores made before had) and larger ones. */
const PAGE_SIZES = [4096, 8192, 16384, 32768, 65536];
/** Records a transaction when the same records are written again (the gateway's batches under load are of this order). */
const BATCH = 16;

/**
 * The same stored records, checkpoints and frontiers written again, in the same order and in small
 * transactions, into fresh stores of each page size: what the live store would occupy with it.
 */
async function repackAll(dir: string, requests: number): Promise<Row[]> {
  const from = openStore(dir, { readOnly: true });
  const rows: Row[] = [];
  try {
    let base = NaN;
    for (const pageSize of PAGE_SIZES) {
      const used = await repack(from, pageSize);
      if (Number.isNaN(base)) base = used;
      rows.push({ page_size: pageSize + (pageSize === STORE_PAGE_SIZE ? ' (new stores)' : ''), live_bytes: used, bytes_per_request: Math.round(used / requests), vs_4096: used / base });
    }
  } finally {
    from.env.close();
  }
  return rows;
}

async function repack(from: Store, pageSize: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-repack-'));
  const to = openStore(dir, { pageSizeBytes: pageSize, durability: 'commit' });
  try {
    if ((to.env.getStats() as { pageSize: number }).pageSize !== pageSize) throw new Error(`LMDB did not take page size ${pageSize}`);
    let batch: Array<[number, Buffer]> = [];
    const flush = async () => {
      const put = batch;
      batch = [];
      await to.env.transaction(() => {
        for (const [k, v] of put) void to.records.put(k, v, { append: true } as never); // as the writer does (src/audit/log.ts)
      });
    };
    for (const { key, value } of from.records.getRange()) {
      batch.push([key, Buffer.from(value)]);
      if (batch.length === BATCH) await flush();
    }
    await flush();
    await to.env.transaction(() => {
      for (const { key, value } of from.checkpoints.getRange()) to.checkpoints.put(key, value);
      for (const { key, value } of from.frontiers.getRange()) to.frontiers.put(key, Buffer.from(value));
      for (const { key, value } of from.meta.getRange()) to.meta.put(key, value);
    });
    return storeBytes(to);
  } finally {
    await to.env.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
