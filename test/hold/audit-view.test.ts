/**
 * The auditors' view: the admin API over a real signed audit log on disk (src/audit, through the
 * proxy's adapter), for the `auditors` group only, and every view recorded in that same log.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditLog, loadOrCreateAuditKey, openStore, parseNoteCheckpoint, stateTrust, type AuditEvent } from '../../src/audit/index.js';
import { signNoteCheckpoint } from '../../src/audit/checkpoint.js';
import type { HoldAuditEvent } from '../../src/hold/index.js';
import { auditViews } from '../../src/app/index.js';
import { adminCall, startIdp, startStack, type Idp, type Stack } from './helpers.js';

let idp: Idp;
let stack: Stack;
let log: AuditLog;
let state: string;
let auditor: string;
let approver: string;
let failViews = false;

function decision(request_id: string, subject: string, route: string, effect: 'allow' | 'deny' | 'hold', approval: string | null = null): AuditEvent {
  return {
    type: 'request.decision', request_id, subject, groups: ['fraud-analysts'], client: '127.0.0.1', route, upstream: 'models',
    method: 'POST', path: '/v1/score', decision: { effect, reason: `${effect} for the test`, policy_revision: 'rev1', rules: [`${effect}.by_test`] }, approval,
    request_body: { bytes: 2, sha256: '0'.repeat(64), text: '{}', truncated: false },
  };
}

function outcome(request_id: string, status: number): AuditEvent {
  return { type: 'request.outcome', request_id, status, bytes_in: 2, bytes_out: 30, duration_ms: 3, masked: { pan: 1 },
    response_body: { bytes: 30, sha256: '1'.repeat(64), text: '{"pan":"************1111"}', truncated: false }, error: null };
}

test.before(async () => {
  state = mkdtempSync(join(tmpdir(), 'regate-hold-audit-'));
  const key = await loadOrCreateAuditKey(state);
  log = await AuditLog.open({ dir: join(state, 'audit'), signingKey: key.privateKey, keyId: key.keyId, segmentRecords: 3 });
  for (const e of [decision('r1', 'alice', 'fraud-model', 'allow'), outcome('r1', 200), decision('r2', 'bob', 'fraud-model', 'deny'),
    outcome('r2', 403), decision('r3', 'alice', 'transactions', 'hold')]) await log.append(e);
  await log.seal();
  idp = await startIdp();
  auditor = await idp.token('audrey', ['auditors']);
  approver = await idp.token('bob', ['pci-approvers']);
  stack = await startStack({
    idp,
    auditViews: auditViews(join(state, 'audit'), () => stateTrust(state)),
    audit: async (e: HoldAuditEvent) => {
      if (failViews) throw new Error('audit disk full');
      // As the gateway does: the hold stage's events are appended unchanged.
      await log.append(e);
    },
  });
});
test.after(async () => {
  await stack.close();
  await log.close();
  await idp.close();
  rmSync(state, { recursive: true, force: true });
});

const subjects = (records: { event: { subject?: string } }[]) => records.map((r) => r.event.subject);

test('only auditors may open the audit view', async () => {
  const r = await adminCall(stack, approver, 'GET', '/api/audit/records');
  assert.is(r.status, 403);
  assert.match(r.body.message, /bob is in none of the auditor groups \(auditors\)/);
  assert.is((await adminCall(stack, 'garbage', 'GET', '/api/audit/segments')).status, 401);
  assert.equal((await adminCall(stack, auditor, 'GET', '/api/whoami')).body, { sub: 'audrey', iss: idp.issuer, groups: ['auditors'], auditor: true });
});

test('search by subject, route, decision and time', async () => {
  const alice = await adminCall(stack, auditor, 'GET', '/api/audit/records?subject=alice');
  assert.equal(subjects(alice.body.records), ['alice', 'alice']);
  assert.equal(alice.body.records.map((r: { event: { request_id: string } }) => r.event.request_id), ['r3', 'r1'], 'newest first');
  const denied = await adminCall(stack, auditor, 'GET', '/api/audit/records?decision=deny');
  assert.equal(denied.body.records.map((r: { event: { request_id: string } }) => r.event.request_id), ['r2']);
  const route = await adminCall(stack, auditor, 'GET', '/api/audit/records?route=transactions&subject=alice');
  assert.equal(route.body.records.map((r: { event: { request_id: string } }) => r.event.request_id), ['r3']);
  const future = await adminCall(stack, auditor, 'GET', `/api/audit/records?from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`);
  assert.equal(future.body.records, []);
  const bad = await adminCall(stack, auditor, 'GET', '/api/audit/records?from=yesterday-ish');
  assert.is(bad.status, 400);
  assert.match(bad.body.message, /"from" must be a date and time/);
});

test('one exchange replays as recorded (masked), and segments show as verified', async () => {
  const ex = await adminCall(stack, auditor, 'GET', '/api/audit/exchanges/r1');
  assert.equal(ex.body.records.map((r: { event: { type: string } }) => r.event.type), ['request.decision', 'request.outcome']);
  assert.is(ex.body.records[1].event.response_body.text, '{"pan":"************1111"}');
  const seg = await adminCall(stack, auditor, 'GET', '/api/audit/segments');
  assert.ok(seg.body.segments.length >= 2);
  for (const s of seg.body.segments) assert.is(s.status, 'verified', JSON.stringify(s));
});

test('every view is recorded in the audit log, and a view that cannot be recorded is refused', async () => {
  const shown = (await adminCall(stack, auditor, 'GET', '/api/audit/exchanges/r2')).body.records.map((r: { seq: number }) => r.seq) as number[];
  await log.seal();
  const viewed = (await adminCall(stack, auditor, 'GET', '/api/audit/records?limit=500')).body.records
    .map((r: { event: HoldAuditEvent }) => r.event)
    .filter((e: HoldAuditEvent) => e.type === 'console.viewed');
  const r2 = viewed.find((e: HoldAuditEvent) => e.view?.target === 'exchange r2') as HoldAuditEvent | undefined;
  assert.is(r2?.actor?.sub, 'audrey');
  assert.equal(r2?.view, { first: Math.min(...shown), last: Math.max(...shown), target: 'exchange r2' }, 'the record names what was shown');
  assert.ok(viewed.some((e: HoldAuditEvent) => e.view?.target === 'search subject=alice'), JSON.stringify(viewed));
  failViews = true;
  try {
    const refused = await adminCall(stack, auditor, 'GET', '/api/audit/exchanges/r1');
    assert.is(refused.status, 503);
    assert.is(refused.body.records, undefined);
  } finally {
    failViews = false;
  }
});

/** Debian's Chromium with the console of `adminUrl` open, signed in as the auditor. */
async function auditorConsole(adminUrl: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.goto(`${adminUrl}/console`);
  await page.fill('#token', auditor);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#audit-section:not([hidden])');
  return { browser, page };
}

test('in the console an auditor searches, opens one exchange and sees the segments verified', async () => {
  const { browser, page } = await auditorConsole(stack.adminUrl);
  try {
    await page.waitForSelector('#segments td.status-verified');
    assert.is(await page.$('#segments td.status-failed'), null);
    assert.not.ok(await page.isVisible('#segments-empty'));
    assert.match((await page.textContent('#verified-at')) ?? '', /^Verified .*: \d+ segment\(s\) checked$/);
    await page.fill('#audit-search input[name=subject]', 'alice');
    await page.click('#audit-search button[type=submit]');
    await page.waitForSelector('#audit-records tbody tr');
    assert.equal(await page.$$eval('#audit-records tbody tr td:nth-child(4)', (tds) => tds.map((t) => t.textContent)), ['alice', 'alice']);
    const viewsOfR1 = async () => {
      await log.seal();
      return (await adminCall(stack, auditor, 'GET', '/api/audit/records?limit=500')).body.records
        .filter((r: { event: HoldAuditEvent }) => r.event.type === 'console.viewed' && r.event.view?.target === 'exchange r1').length as number;
    };
    const before = await viewsOfR1();
    await page.click('#audit-records button.replay >> text=r1');
    await page.locator('#exchange li .what', { hasText: 'Outcome: HTTP' }).waitFor();
    const entries = await page.$$eval('#exchange li', (lis) => lis.map((li) => ({ what: li.querySelector('.what')?.textContent, why: li.querySelector('.why')?.textContent ?? null, bodies: [...li.querySelectorAll('.body pre')].map((p) => p.textContent) })));
    const decision = entries.find((e) => e.what?.startsWith('Decision: '))!;
    assert.match(decision.what!, /^Decision: allow \(.*\) for alice, /, 'a readable headline, not raw JSON');
    assert.is(decision.why, 'why: allow by allow.by_test', 'the rules that decided are shown with the decision');
    const outcome = entries.find((e) => e.what?.startsWith('Outcome: '))!;
    assert.equal(outcome.bodies, ['{\n  "pan": "************1111"\n}'], 'the masked response body is pretty-printed, not escaped JSON');
    assert.ok(entries.findIndex((e) => e.what?.startsWith('Decision: ')) < entries.findIndex((e) => e.what?.startsWith('Outcome: ')), 'in order: decision, then outcome');
    assert.is(await viewsOfR1(), before + 1, 'the replay in the console was recorded');
  } finally {
    await browser.close();
  }
});

test('in the console the exchange timeline tells the whole story: hold, approver with comment, grant, and the retry the approval let through', async () => {
  const hana = { sub: 'hana', iss: 'https://idp.test', groups: ['fraud-analysts'] };
  const victor = { sub: 'victor', iss: 'https://idp.test', groups: ['pci-approvers'] };
  const hold = (type: HoldAuditEvent['type'], more: Partial<HoldAuditEvent>): HoldAuditEvent =>
    ({ type, at_ms: 1, hold_id: 'hold_s1', grant_id: null, request_id: 'held-1', route: 'transactions', actor: hana, subject: hana, detail: '', ...more });
  const story: AuditEvent[] = [
    hold('hold.created', { detail: 'bulk extraction held for approval' }),
    decision('held-1', 'hana', 'transactions', 'hold', 'hold_s1'),
    outcome('held-1', 403),
    hold('hold.approved', { actor: victor, detail: 'approval 1 of 1: ticket 9' }),
    hold('grant.created', { actor: victor, grant_id: 'grant_s1', detail: 'just-in-time access for 60 s' }),
    decision('retry-1', 'hana', 'transactions', 'allow', 'hold_s1'),
    hold('hold.replayed', { replay_request_id: 'retry-1', detail: 'the approved request was replayed as request retry-1' }),
    outcome('retry-1', 200),
    decision('other-1', 'hana', 'transactions', 'allow'),
  ];
  for (const e of story) await log.append(e);
  await log.seal();
  const { browser, page } = await auditorConsole(stack.adminUrl);
  try {
    await page.fill('#audit-search input[name=subject]', 'hana');
    await page.click('#audit-search button[type=submit]');
    await page.waitForSelector('#audit-records tbody tr');
    // Opened from the retry: the held request's records come too.
    await page.click('#audit-records button.replay >> text=retry-1');
    await page.locator('#exchange li .what', { hasText: 'used by request retry-1' }).waitFor();
    const whats = await page.$$eval('#exchange li .what', (divs) => divs.map((d) => d.textContent ?? ''));
    assert.equal(whats, [
      'Held for approval as hold_s1: bulk extraction held for approval (request held-1)',
      'Decision: hold (hold for the test) for hana, POST /v1/score on route transactions, held as hold_s1 (request held-1)',
      'Outcome: HTTP 403 after 3 ms, masked 1 pan (request held-1)',
      'Approved by victor: approval 1 of 1: ticket 9',
      'Grant grant_s1 made by victor from hold_s1: just-in-time access for 60 s (request held-1)',
      'Decision: allow (allow for the test) for hana, POST /v1/score on route transactions, let through on hold_s1 (request retry-1)',
      'Approval hold_s1 used by request retry-1: the approved request was replayed as request retry-1',
      'Outcome: HTTP 200 after 3 ms, masked 1 pan (request retry-1)',
    ]);
  } finally {
    await browser.close();
  }
});

test('a changed record shows its segment as failed and later ones as unchecked', async () => {
  await log.close();
  const store = openStore(join(state, 'audit'));
  const original = Buffer.from(store.records.getBinary(1)!);
  await store.records.put(1, Buffer.from(original.toString('utf8').replace('"status":200', '"status":201')));
  await store.env.close();
  const key = await loadOrCreateAuditKey(state);
  log = await AuditLog.open({ dir: join(state, 'audit'), signingKey: key.privateKey, keyId: key.keyId });
  const seg = await adminCall(stack, auditor, 'GET', '/api/audit/segments');
  assert.is(seg.status, 200, JSON.stringify(seg.body));
  const [first, ...rest] = seg.body.segments as { status: string; message: string }[];
  assert.is(first!.status, 'failed', JSON.stringify(seg.body));
  assert.match(first!.message, /record 1/);
  assert.ok(rest.length > 0 && rest.every((s) => s.status === 'unchecked'));
});

test('the segments view trusts the gateway key and the rotations its log records: a key file dropped in the state folder earns no trust', async () => {
  const foreignState = mkdtempSync(join(tmpdir(), 'regate-hold-audit-foreign-'));
  const key = await loadOrCreateAuditKey(foreignState);
  const writer = await AuditLog.open({ dir: join(foreignState, 'audit'), signingKey: key.privateKey, keyId: key.keyId, segmentRecords: 2 });
  for (const e of [decision('f1', 'alice', 'fraud-model', 'allow'), outcome('f1', 200), decision('f2', 'alice', 'fraud-model', 'allow'), outcome('f2', 200)]) await writer.append(e);
  await writer.close();
  // Mallory re-signs segment 0's tree head with her own key and drops her public key beside the gateway's.
  const mallory = generateKeyPairSync('ed25519');
  const store = openStore(join(foreignState, 'audit'));
  const cp = parseNoteCheckpoint(store.checkpoints.get(0)!);
  if (typeof cp === 'string') throw new Error(cp);
  await store.checkpoints.put(0, signNoteCheckpoint(cp.origin, cp.size, cp.root, mallory.privateKey));
  await store.env.close();
  writeFileSync(join(foreignState, 'audit.pub.mallory.pem'), mallory.publicKey.export({ type: 'spki', format: 'pem' }));
  const other = await startStack({ idp, auditViews: auditViews(join(foreignState, 'audit'), () => stateTrust(foreignState)), audit: async () => undefined });
  try {
    const seg = await adminCall(other, auditor, 'GET', '/api/audit/segments');
    assert.is(seg.status, 200, JSON.stringify(seg.body));
    const [first] = seg.body.segments as { segment: number; status: string; message: string }[];
    assert.is(first!.segment, 0);
    assert.is(first!.status, 'failed', JSON.stringify(seg.body));
    assert.match(first!.message, /not a trusted key and no key\.rotated record signed by a trusted key vouches for it/);
  } finally {
    await other.close();
    rmSync(foreignState, { recursive: true, force: true });
  }
});

test('in the console, before the first seal the segments table says why it is empty; Verify gives the verdict', async () => {
  const emptyState = mkdtempSync(join(tmpdir(), 'regate-hold-audit-empty-'));
  const key = await loadOrCreateAuditKey(emptyState);
  const fresh = await AuditLog.open({ dir: join(emptyState, 'audit'), signingKey: key.privateKey, keyId: key.keyId });
  await fresh.append(decision('e1', 'alice', 'fraud-model', 'allow'));
  const other = await startStack({ idp, auditViews: auditViews(join(emptyState, 'audit'), () => stateTrust(emptyState)), audit: async (e: HoldAuditEvent) => void (await fresh.append(e)) });
  const { browser, page } = await auditorConsole(other.adminUrl);
  try {
    await page.waitForSelector('#segments-empty:not([hidden])');
    assert.match((await page.textContent('#segments-empty')) ?? '', /No segment is sealed yet: .* protected by their hash chain/);
    await page.click('#verify');
    await page.locator('#verified-at', { hasText: '0 segment(s) checked' }).waitFor();
  } finally {
    await browser.close();
    await other.close();
    await fresh.close();
    rmSync(emptyState, { recursive: true, force: true });
  }
});

test.run();
