/**
 * The approvers' console in a real browser (Debian's chromium, driven by playwright-core; nothing
 * is downloaded): an approver clicks approve while a client waits, the page follows another
 * approver's action in place, and a hold reason carrying HTML is shown as text.
 */
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
});
test.after(async () => {
  await browser.close();
  await stack.close();
  await idp.close();
});

const row = (id: string) => `#holds tr[data-hold-id="${id}"]`;

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

test.run();
