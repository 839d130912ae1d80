/**
 * Soak: a spawned `regate serve` (generated config, signed bundle, JWKS file, fsync'd audit log)
 * in front of the demo service, under a bounded mix of good and bad traffic for N minutes
 * (`--minutes`, `SOAK_MINUTES`; 10 by default). It samples the gateway's RSS and counts answers
 * by class. The point is not speed but survival: no crash, memory that levels off, and every good
 * request answered correctly while the bad ones are refused. The audit log runs its lifecycle as in
 * production, scaled down: segments of 500 records (or 2 s) copied to an archive folder, the live
 * store pruned back to `retain_live.bytes` (4 MiB); its size (regate_audit_store_bytes on /metrics)
 * is sampled and must stay under retain_live plus LIVE_SLACK. Exits 1 on a crash, a lost good
 * request or a live store past that bound, so CI can run it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { startDemoService } from '../src/demo/service.js';
import { containsPan } from '../src/mask/index.js';
import { prepareRegate, startRegate } from './harness/regate.js';
import { folderBytes } from './lib/folder-bytes.js';
import { report } from './lib/report.js';

const argMinutes = process.argv.indexOf('--minutes');
const minutes = Number(argMinutes > 0 ? process.argv[argMinutes + 1] : (process.env.SOAK_MINUTES ?? 10));
if (!(minutes > 0)) throw new Error(`--minutes / SOAK_MINUTES must be a positive number, got ${minutes}`);
const CLIENTS = 4;
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
/**
 * What the live store keeps (audit.retain_live.bytes); segments sealed over RETAIN_LIVE_SECONDS ago
 * leave too, so pruning happens within a minute even where a loaded machine serves too few
 * requests to fill RETAIN_LIVE (CI's one-minute run).
 */
const RETAIN_LIVE = 4 * 2 ** 20;
const RETAIN_LIVE_SECONDS = 20;
/**
 * How far past RETAIN_LIVE the live store may go: it always keeps the newest sealed segment and the
 * open one, and a segment leaves only once the archive holds it and it was read back, which on a
 * loaded machine lags a few seconds behind the seals: 12 MiB is about twelve segments of 500
 * records at the soak's ~2 KB a record.
 */
const LIVE_SLACK = 12 * 2 ** 20;

interface Tally { sent: number; expected: number; unexpected: number; failed: number; statuses: Map<number, number> }
type Outcome = { status: number; ok: boolean };
type Shot = (base: string) => Promise<Outcome>;

const demo = await startDemoService({ credential: { header: 'x-upstream-key', value: 'bench-upstream-secret' }, tokenDelayMs: 0 });
// Limits stay on (the parser and body guards are what is soaked) but the rate is not the subject.
// The archive folder, beside the gateway's (in production, on another volume).
const archiveRoot = mkdtempSync(join(tmpdir(), 'regate-soak-archive-'));
const archiveDir = join(archiveRoot, 'archive');
const setup = await prepareRegate(demo.url, {
  limits: { requests_per_second: 100000, burst: 100000, max_concurrent: 1000 },
  config: {
    admin: { host: '127.0.0.1', port: 0, metrics_public: true },
    audit: { archive: { dir: archiveDir }, retain_live: { bytes: RETAIN_LIVE, seconds: RETAIN_LIVE_SECONDS }, segment_records: 500, segment_seconds: 2 },
  },
});
const gw = await startRegate(setup, '0-1');
const base = `http://127.0.0.1:${gw.port}`;
if (gw.adminPort === undefined) throw new Error('regate serve did not name its admin port on the ready line');
let stopping = false;
let crashes = 0;
gw.child.once('exit', (code, signal) => {
  if (!stopping) {
    crashes++;
    process.stderr.write(`soak: regate serve exited unexpectedly (${code ?? signal})\n`);
  }
});

const json = (auth: string | null, body: string | Buffer, path = '/v1/score'): Promise<Response> =>
  fetch(base + path, { method: 'POST', headers: { ...(auth ? { authorization: auth } : {}), 'content-type': 'application/json' }, body });

function raw(bytes: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = connect(gw.port, '127.0.0.1', () => s.write(bytes));
    let text = '';
    s.setEncoding('latin1').on('data', (d: string) => (text += d));
    const done = () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), ok: true });
    s.on('close', done).on('error', () => undefined);
    s.setTimeout(10_000, () => s.destroy());
  });
}

/** Each class: how it is sent and what answer counts as right. `good` classes must always be right. */
const classes: Record<string, { good: boolean; weight: number; shot: Shot }> = {
  'good: score (PAN masked)': {
    good: true, weight: 6,
    shot: async () => {
      const res = await json(setup.tokens.analyst!, JSON.stringify({ transaction: { amount: 4200, merchant: 'm-17' } }));
      const text = await res.text();
      return { status: res.status, ok: res.status === 200 && !/\d{13,19}/.test(text.replace(/[ -]/g, '')) };
    },
  },
  'good: chat stream (SSE masked)': {
    good: true, weight: 3,
    shot: async () => {
      const res = await json(setup.tokens.agent!, JSON.stringify({ model: 'demo-llm', stream: true, messages: [{ role: 'user', content: 'card?' }] }), '/v1/chat/completions');
      const text = await res.text();
      // The tokens' text as the client reads it (ids and timestamps in the frames are not card data).
      const said = text.split('\n').filter((l) => l.startsWith('data: {')).map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '').join('');
      return { status: res.status, ok: res.status === 200 && text.includes('data: [DONE]') && said.includes('6467') && !containsPan(said) };
    },
  },
  'bad: no / garbage token': {
    good: false, weight: 2,
    shot: async () => {
      const res = await json(Math.random() < 0.5 ? null : 'Bearer eyJhbGciOiJub25lIn0.e30.', '{}');
      await res.arrayBuffer();
      return { status: res.status, ok: res.status === 401 };
    },
  },
  'bad: denied by policy': {
    good: false, weight: 1,
    shot: async () => {
      const res = await json(setup.tokens.agent!, '{"transaction":{}}');
      await res.arrayBuffer();
      return { status: res.status, ok: res.status === 403 };
    },
  },
  'bad: deep JSON': {
    good: false, weight: 1,
    shot: async () => {
      const res = await json(setup.tokens.analyst!, '['.repeat(5000) + ']'.repeat(5000));
      await res.arrayBuffer();
      return { status: res.status, ok: res.status === 400 };
    },
  },
  'bad: invalid UTF-8': {
    good: false, weight: 1,
    shot: async () => {
      const res = await json(setup.tokens.analyst!, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
      await res.arrayBuffer();
      return { status: res.status, ok: res.status === 400 };
    },
  },
  'bad: 2 MiB body (413, or reset mid-upload)': {
    good: false, weight: 1,
    shot: async () => {
      // The gateway answers 413 from the declared length and closes without reading the upload, so a
      // client still sending may see the reset before the answer: refused either way (status 0).
      const res = await json(setup.tokens.analyst!, JSON.stringify({ pad: 'x'.repeat(2 << 20) })).catch(() => null);
      if (!res) return { status: 0, ok: true };
      await res.arrayBuffer();
      return { status: res.status, ok: res.status === 413 };
    },
  },
  'bad: CL + TE smuggling': {
    good: false, weight: 1,
    shot: async () => {
      const r = await raw(`POST /v1/score HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n`);
      return { status: r.status, ok: r.status === 400 };
    },
  },
};

const names = Object.keys(classes);
const deck = names.flatMap((n) => Array<string>(classes[n]!.weight).fill(n));
const tallies = new Map<string, Tally>(names.map((n) => [n, { sent: 0, expected: 0, unexpected: 0, failed: 0, statuses: new Map() }]));

/** A line of /proc/<gateway>/status in bytes: VmRSS (all), RssAnon (heap and stacks, without mapped files). */
function statusBytes(field: 'VmRSS' | 'RssAnon'): number {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${gw.child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
const rssBytes = () => statusBytes('VmRSS');
const rss: number[] = [rssBytes()];
const anon: number[] = [statusBytes('RssAnon')];
const auditFile = join(setup.dir, 'state', 'audit', 'data.mdb');
const auditBytes = () => (existsSync(auditFile) ? statSync(auditFile).size : 0);
const archiveBytes = () => folderBytes(archiveDir);
/** One line a minute: RSS next to the audit log's size (LMDB maps the file, so its written pages count in RSS). */
const minutely = setInterval(() => process.stdout.write(`soak: rss ${mib(rssBytes())} MiB (anonymous ${mib(statusBytes('RssAnon'))} MiB), audit live store ${mib(live[live.length - 1] ?? NaN)} MiB (file ${mib(auditBytes())} MiB), archive ${mib(archiveBytes())} MiB\n`), 60_000);
/** The live store's size and the newest pruned segment, as the gateway reports them on /metrics. */
async function liveStore(): Promise<{ bytes: number; prunedThrough: number } | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { bytes: gauge('regate_audit_store_bytes'), prunedThrough: gauge('regate_audit_pruned_through_segment') };
  } catch {
    return null;
  }
}
const live: number[] = [];
let prunedThrough = -1;
async function sampleLive(): Promise<void> {
  const s = await liveStore();
  if (s === null || !Number.isFinite(s.bytes)) return;
  live.push(s.bytes);
  if (Number.isFinite(s.prunedThrough)) prunedThrough = s.prunedThrough;
}
await sampleLive();
const sampler = setInterval(() => {
  rss.push(rssBytes());
  anon.push(statusBytes('RssAnon'));
  void sampleLive();
}, 5_000);

const deadline = Date.now() + minutes * 60_000;
process.stdout.write(`soak: ${minutes} min against ${base}, ${CLIENTS} clients\n`);
async function client(): Promise<void> {
  while (Date.now() < deadline && crashes === 0) {
    const name = deck[Math.floor(Math.random() * deck.length)]!;
    const t = tallies.get(name)!;
    t.sent++;
    try {
      const o = await classes[name]!.shot(base);
      t.statuses.set(o.status, (t.statuses.get(o.status) ?? 0) + 1);
      if (o.ok) t.expected++;
      else t.unexpected++;
    } catch {
      t.failed++;
    }
  }
}
await Promise.all(Array.from({ length: CLIENTS }, client));
clearInterval(sampler);
clearInterval(minutely);
rss.push(rssBytes());
anon.push(statusBytes('RssAnon'));
await sampleLive();
const auditMiB = mib(auditBytes());
const archiveMiB = mib(archiveBytes());
stopping = true;
await gw.stop();
const cleanExit = gw.child.exitCode === 0;
await demo.close();
setup.cleanup();
rmSync(archiveRoot, { recursive: true, force: true });

const rows = names.map((n) => {
  const t = tallies.get(n)!;
  return {
    class: n, sent: t.sent, as_expected: t.expected, unexpected: t.unexpected, no_answer: t.failed,
    statuses: [...t.statuses].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}×${c}`).join(' '),
  };
});
const goodLost = names.filter((n) => classes[n]!.good).reduce((sum, n) => sum + tallies.get(n)!.unexpected + tallies.get(n)!.failed, 0);
const badWrong = names.filter((n) => !classes[n]!.good).reduce((sum, n) => sum + tallies.get(n)!.unexpected + tallies.get(n)!.failed, 0);
const total = rows.reduce((s, r) => s + r.sent, 0);
const summary = {
  minutes, requests: total, good_lost: goodLost, bad_wrong_answer: badWrong, crashes, clean_exit: cleanExit,
  rss_start_mib: mib(rss[0]!), rss_peak_mib: mib(Math.max(...rss)), rss_end_mib: mib(rss[rss.length - 1]!),
  anon_start_mib: mib(anon[0]!), anon_peak_mib: mib(Math.max(...anon)), anon_end_mib: mib(anon[anon.length - 1]!), audit_file_mib: auditMiB,
  live_store_start_mib: mib(live[0] ?? NaN), live_store_max_mib: mib(Math.max(...live)), live_store_end_mib: mib(live[live.length - 1] ?? NaN),
  live_store_bound_mib: mib(RETAIN_LIVE + LIVE_SLACK), live_samples: live.length, pruned_through_segment: prunedThrough, archive_mib: archiveMiB,
};
// Bounded: every sample under retain_live plus the slack, and pruning really happened (else the bound proves nothing).
const liveBounded = live.length >= 2 && Math.max(...live) <= RETAIN_LIVE + LIVE_SLACK && prunedThrough >= 0;
report('soak', rows, { summary });
process.stdout.write(`${Object.entries(summary).map(([k, v]) => `${k}=${v}`).join('  ')}\n`);
if (!liveBounded) process.stderr.write(`soak: the live audit store was not kept bounded: max ${summary.live_store_max_mib} MiB over ${live.length} samples (bound ${summary.live_store_bound_mib} MiB), pruned through segment ${prunedThrough}\n`);
if (crashes > 0 || goodLost > 0 || badWrong > 0 || !cleanExit || !liveBounded) {
  process.stderr.write('soak: FAILED (a crash, a good request not answered right, a bad one not refused right, an unclean exit, or a live audit store not kept bounded)\n');
  process.exit(1);
}
