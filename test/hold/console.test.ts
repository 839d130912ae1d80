/**
 * The approvers' console in a real browser (Debian's chromium, driven by playwright-core; nothing
 * is downloaded): an approver clicks approve while a client waits, the page follows another
 * approver's action in place, and a hold reason carrying HTML is shown as text.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adminCall, clientCall, pendingHoldId, startIdp, startStack, SPEC, type Idp, type Stack } from './helpers.js';

let idp: Idp;
let stack: Stack;
let browser: Browser;
let page: Page;
let alice: string;
let bob: string;
let carol: string;
const pageErrors: string[] = [];

test.before(async () => {
  idp = await startIdp();
  stack = await startStack({ idp });
  alice = await idp.token('alice', ['fraud-analysts']);
  bob = await idp.token('bob', ['pci-approvers']);
  carol = await idp.token('carol', ['pci-approvers']);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${stack.adminUrl}/console`);
  await page.fill('#token', bob);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#holds-empty:not([hidden])');
  await page.waitForSelector('#me:not([hidden])');
});
test.after(async () => {
  await browser.close();
  await stack.close();
  await idp.close();
});

const row = (id: string) => `#holds tr[data-hold-id="${id}"]`;

/** Runs a browser check; on failure keeps a screenshot of each page in test-artifacts/ (git-ignored) for the report. */
async function withScreenshots(name: string, pages: () => Page[], check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (err) {
    await mkdir('test-artifacts', { recursive: true });
    await Promise.all(pages().map((p, i) => p.screenshot({ path: join('test-artifacts', `console-${name}-${i}.png`), fullPage: true }).catch(() => undefined)));
    throw err;
  }
}

async function signedInPage(token: string): Promise<Page> {
  const p = await browser.newPage();
  p.on('pageerror', (e) => pageErrors.push(e.message));
  await p.goto(`${stack.adminUrl}/console`);
  await p.fill('#token', token);
  await p.click('#signin button[type=submit]');
  await p.waitForSelector('#me:not([hidden])');
  return p;
}

test('an approver clicks approve while the client waits; the client gets the upstream answer', async () => {
  const waiting = clientCall(stack, alice, '/v1/score', { amount: 12 });
  const id = await pendingHoldId(stack, bob);
  await page.waitForSelector(row(id));
  assert.is(await page.textContent(`${row(id)} .requester`), 'alice');
  assert.is(await page.textContent(`${row(id)} .groups`), 'fraud-analysts');
  assert.is(await page.textContent(`${row(id)} .approvals`), '0 of 1');
  await page.fill(`${row(id)} .comment`, 'checked with the fraud team');
  await page.click(`${row(id)} .approve`);
  const answer = await waiting;
  assert.is(answer.status, 200);
  assert.is(answer.body.body, JSON.stringify({ amount: 12 }));
  await page.waitForSelector(row(id), { state: 'detached' });
  assert.match((await page.textContent('#status')) ?? '', new RegExp(`Hold ${id} is approved`));
  const hold = await adminCall(stack, bob, 'GET', `/api/holds/${id}`);
  assert.is(hold.body.approvals[0].comment, 'checked with the fraud team');
});

test('a hold reason carrying HTML is shown as text, never as markup', async () => {
  const reason = '<img src=x onerror="window.__pwned=1"><b id="injected">urgent</b>';
  const waiting = clientCall(stack, alice, '/v1/score', { spec: { ...SPEC, reason } });
  const id = await pendingHoldId(stack, bob);
  await page.waitForSelector(row(id));
  assert.is(await page.textContent(`${row(id)} .reason`), reason);
  assert.is(await page.$(`${row(id)} .reason img`), null);
  assert.is(await page.$('#injected'), null);
  assert.is(await page.evaluate('typeof window.__pwned'), 'undefined');
  await page.fill(`${row(id)} .comment`, 'not without a ticket');
  await page.click(`${row(id)} .deny`);
  const answer = await waiting;
  assert.is(answer.status, 403);
  assert.is(answer.body.message, 'not without a ticket');
});

test('the page updates in place when another approver acts', async () => {
  const waiting = clientCall(stack, alice, '/v1/score', { spec: { ...SPEC, approvals_required: 2 } });
  const id = await pendingHoldId(stack, bob);
  await page.waitForSelector(row(id));
  await page.fill(`${row(id)} .comment`, 'typing, not sent yet');
  await adminCall(stack, carol, 'POST', `/api/holds/${id}/approve`, { comment: 'first' });
  await page.locator(`${row(id)} .approvals`, { hasText: '1 of 2 (carol)' }).waitFor();
  assert.is(await page.inputValue(`${row(id)} .comment`), 'typing, not sent yet', 'the row was updated, not rebuilt');
  await adminCall(stack, carol, 'POST', `/api/holds/${id}/approve`, {}).then((r) => assert.is(r.status, 403));
  await page.click(`${row(id)} .approve`);
  assert.is((await waiting).status, 200);
  await page.waitForSelector(row(id), { state: 'detached' });
  assert.equal(pageErrors, []);
});

test('before sign-in the page says to sign in, never "No pending holds"; after, it names who is signed in', async () => {
  const fresh = await browser.newPage();
  await withScreenshots('signed-out', () => [fresh, page], async () => {
    await fresh.goto(`${stack.adminUrl}/console`);
    assert.ok(await fresh.isVisible('#holds-signed-out'));
    assert.not.ok(await fresh.isVisible('#holds-empty'), '"No pending holds" is not claimed before sign-in');
    assert.not.ok(await fresh.isVisible('#grants-empty'));
    assert.is(await page.textContent('#me'), 'Signed in as bob (pci-approvers)');
    assert.not.ok(await page.isVisible('#holds-signed-out'));
  });
  await fresh.close();
});

test('each row shows the hold id and whether the client still waits and for how long; a requester never sees Approve/Deny on their own hold', async () => {
  const own = await signedInPage(alice);
  await withScreenshots('rows', () => [page, own], async () => {
    const waiting = clientCall(stack, alice, '/v1/score', { amount: 7 });
    const id = await pendingHoldId(stack, bob);
    await page.waitForSelector(row(id));
    assert.is(await page.textContent(`${row(id)} .hold-id`), id);
    assert.match((await page.textContent(`${row(id)} .client`)) ?? '', /^waiting, gives up in (\d+) s$/);
    const left = Number(/(\d+) s$/.exec((await page.textContent(`${row(id)} .client`))!)![1]);
    assert.ok(left > 0 && left <= 10, `the client gives up within the service's 10 s wait, not the hold's TTL (${left} s)`);
    await own.waitForSelector(row(id));
    assert.is(await own.textContent('#me'), 'Signed in as alice (fraud-analysts)');
    assert.is(await own.$(`${row(id)} .approve`), null);
    assert.is(await own.$(`${row(id)} .deny`), null);
    assert.is(await own.textContent(`${row(id)} .own`), 'Your request: waiting for an approver');
    assert.ok(await page.$(`${row(id)} .approve`), 'an approver has the buttons');
    await page.click(`${row(id)} .approve`);
    assert.is((await waiting).status, 200);
    await page.waitForSelector(row(id), { state: 'detached' });
  });
  await own.close();
  assert.equal(pageErrors, []);
});

test.run();
