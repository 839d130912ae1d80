import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditRecord } from '../../src/audit/index.js';
import { BundleStore, bundleFileName, DEFAULT_BUNDLE, loadBundle, saveBundle, type Decision, type PolicyEngine, type PolicyInput } from '../../src/policy/index.js';
import { diffRecorded, formatReport, type Evaluator } from '../../src/policy-diff/index.js';
import { hasCode } from '../../src/util/errors.js';
import { compileBundle, input, tempDir } from '../policy/fixtures.js';
import { auditFixture, bundleVariant, decisionEvent } from './fixtures.js';

let baseline: PolicyEngine;
let candidate: PolicyEngine;
const tmp = await tempDir();

test.before(async () => {
  baseline = await loadBundle(DEFAULT_BUNDLE);
  // Support agents may now score, fraud analysts lose the transactions listing, bulk starts at 500
  // and 30 requests a minute, and everyone but pci-admins sees PAN first6last4.
  candidate = await loadBundle(
    await bundleVariant('sha256:candidate000001', (d) => {
      d.pci.operations.score.groups.push('support-agents');
      d.pci.operations.transactions.groups = ['pci-admins'];
      d.pci.bulk.max_limit = 500;
      d.pci.bulk.max_requests_per_minute = 30;
      d.pci.pan_format.default = 'first6last4';
    }),
  );
});
test.after(() => tmp.cleanup());

type Verdict = Decision | Error;

function decide(engine: PolicyEngine, inp: PolicyInput): Verdict {
  try {
    return engine.evaluate(inp);
  } catch (err) {
    return err as Error;
  }
}

/** The obviously-correct reference: what the gateway does with each decision, compared field by field. */
function referenceKind(b: Verdict, c: Verdict): string | null {
  const effect = (v: Verdict) => (v instanceof Error ? 'error' : v.hold !== null ? 'hold' : v.allow ? 'allow' : 'deny');
  if (effect(b) !== effect(c)) return `${effect(b)}_to_${effect(c)}`;
  if (b instanceof Error || c instanceof Error || effect(b) === 'deny') return null;
  const rules = (list: Decision['mask']['request']) => list.map((r) => `${r.detector}|${r.path}|${r.format}`).sort().join(',');
  if (rules(b.mask.request) !== rules(c.mask.request) || rules(b.mask.response) !== rules(c.mask.response)) return 'mask_change';
  if (b.hold && c.hold) {
    const same =
      [...b.hold.approvers].sort().join() === [...c.hold.approvers].sort().join() &&
      b.hold.ttl_seconds === c.hold.ttl_seconds &&
      (b.hold.approvals_required ?? 1) === (c.hold.approvals_required ?? 1) &&
      b.hold.max_grant_seconds === c.hold.max_grant_seconds;
    if (!same) return 'hold_change';
  }
  return null;
}

const inputArb = fc
  .record({
    sub: fc.constantFrom('alice', 'bob', 'carol'),
    groups: fc.subarray(['fraud-analysts', 'pci-admins', 'ml-admins', 'support-agents']),
    method: fc.constantFrom('GET', 'POST', 'DELETE'),
    path: fc.constantFrom('/v1/score', '/v1/transactions', '/v1/chat/completions', '/v1/models/load', '/v1/x'),
    limit: fc.option(fc.constantFrom('10', '600', '2000', 'all'), { nil: undefined }),
    rate: fc.integer({ min: 0, max: 80 }),
    body: fc.option(fc.record({ card: fc.constantFrom('4111 1111 1111 1111', 'none'), n: fc.integer() }), { nil: null }),
  })
  .map((r) => {
    const inp = input(r.groups, r.method, r.path, { usage: { requests_last_minute: r.rate } });
    inp.identity.sub = r.sub;
    if (r.limit !== undefined) inp.request.query = { limit: [r.limit] };
    inp.request.body = r.body;
    return inp;
  });

async function recordAll(inputs: PolicyInput[], by: PolicyEngine = baseline): Promise<AuditRecord[]> {
  const f = await auditFixture();
  try {
    const log = await f.open();
    for (const [i, inp] of inputs.entries()) await log.append(decisionEvent(`req-${i}`, inp, by));
    await log.close();
    return await f.records();
  } finally {
    f.cleanup();
  }
}

test('every recorded decision is decided again and classified as the reference classifies it', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(inputArb, { minLength: 1, maxLength: 30 }), async (inputs) => {
      const records = await recordAll(inputs);
      const report = await diffRecorded(records, { candidate, baseline: () => baseline });
      const expected = inputs.flatMap((inp, i) => {
        const kind = referenceKind(decide(baseline, inp), decide(candidate, inp));
        return kind ? [`req-${i} ${kind}`] : [];
      });
      assert.equal(report.changes.map((c) => `${c.request_id} ${c.kind}`), expected);
      assert.is(report.summary.compared, inputs.length);
      assert.is(report.summary.changed, expected.length);
      assert.is(report.summary.unchanged, inputs.length - expected.length);
      for (const kind of new Set(expected.map((e) => e.split(' ')[1]!))) {
        assert.is(report.summary[kind as 'mask_change'], expected.filter((e) => e.endsWith(` ${kind}`)).length, kind);
      }
      assert.is(report.summary.baseline_mismatch, 0, 'the recorded revision reproduces every recorded decision');
      for (const c of report.changes) {
        const i = Number(c.request_id.slice(4));
        assert.equal(c.before.rules, (decide(baseline, inputs[i]!) as Decision).rules);
        assert.is(c.after.reason, (decide(candidate, inputs[i]!) as Decision).reason);
      }
    }),
    { numRuns: 15 },
  );
});

test('a change names request, subject, route, both effects and the rules that decided; the text report lists it', async () => {
  const inp = input(['fraud-analysts'], 'GET', '/v1/transactions');
  const records = await recordAll([inp]);
  const report = await diffRecorded(records, { candidate, baseline: () => baseline });
  const [c] = report.changes;
  assert.ok(c);
  assert.is(c.kind, 'allow_to_deny');
  assert.is(c.subject, 'alice');
  assert.is(c.route, 'test');
  assert.is(c.recorded, 'mask');
  assert.is(c.before.effect, 'mask');
  assert.equal(c.before.rules, ['allow.permitted', 'mask.card_data.response']);
  assert.is(c.after.effect, 'deny');
  assert.equal(c.after.rules, ['deny.group_required']);
  assert.is(c.baseline_revision, baseline.revision);
  const text = formatReport(report, 'the recorded baseline');
  assert.match(text, /allow → deny\s+1/);
  assert.match(text, /req-0  alice  test  GET \/v1\/transactions  mask → deny \(allow → deny\)/);
  assert.match(text, /after:  deny \[deny\.group_required\]: GET \/v1\/transactions requires one of: pci-admins/);
});

test('refusals, records without an input and bodies over the audit cap are skipped and counted, not guessed', async () => {
  const f = await auditFixture();
  try {
    const log = await f.open();
    const chat = input(['support-agents'], 'POST', '/v1/chat/completions');
    chat.request.body = { messages: [{ role: 'user', content: 'x'.repeat(200) }] };
    await log.append(decisionEvent('over-cap', chat, baseline, 100));
    await log.append({ ...decisionEvent('refused', input([], 'GET', '/'), baseline), decision: { effect: 'deny', reason: 'gateway refused (no_route)', policy_revision: null, rules: [] }, policy_input: null });
    const { policy_input: _, ...old } = decisionEvent('old', input(['fraud-analysts'], 'POST', '/v1/score'), baseline);
    await log.append(old);
    await log.append(decisionEvent('fits', chat, baseline));
    await log.close();
    const report = await diffRecorded(await f.records(), { candidate, baseline: () => baseline });
    assert.equal(report.summary.skipped, { gateway_refusal: 1, no_input: 1, body_truncated: 1, input_unreadable: 0 });
    assert.is(report.summary.compared, 1);
  } finally {
    f.cleanup();
  }
});

test('the body is rebuilt from request_body as the log masks it, and a policy reading it is compared on it', async () => {
  const byAmount = await loadBundle(
    await compileBundle(
      tmp.dir,
      `package regate

decision := {"allow": allowed, "reason": "by amount", "mask": {"request": [], "response": []}, "hold": null, "rules": ["amount"]}

default allowed := false

allowed if input.request.body.amount <= 100

# The log keeps card numbers masked: a policy asking for the number sees the mask.
allowed if endswith(input.request.body.pan, "1111")
`,
    ),
  );
  const allowAll = await loadBundle(await compileBundle(tmp.dir, 'package regate\n\ndecision := {"allow": true, "reason": "all", "mask": {"request": [], "response": []}, "hold": null}\n'));
  const bodies = [{ amount: 50 }, { amount: 500 }, { pan: '4111111111111111', amount: 900 }];
  const records = await recordAll(
    bodies.map((b) => ({ ...input(['x'], 'POST', '/v1/score'), request: { ...input(['x'], 'POST', '/v1/score').request, body: b } })),
    allowAll,
  );
  const scrubbed = JSON.parse((records[2]!.event as { request_body: { text: string } }).request_body.text);
  assert.not.equal(scrubbed.pan, '4111111111111111', 'the recorded body is masked');
  const report = await diffRecorded(records, { candidate: byAmount, baseline: () => allowAll });
  assert.equal(report.changes.map((c) => [c.request_id, c.kind]), [['req-1', 'allow_to_deny']]);
});

test('filters: --since, --route and --subject keep only the decisions they name', async () => {
  const a = input(['fraud-analysts'], 'GET', '/v1/transactions');
  const b = { ...input(['fraud-analysts'], 'GET', '/v1/transactions'), identity: { ...a.identity, sub: 'bob' }, route: { name: 'other' } };
  const records = await recordAll([a, b]);
  const run = (filter: object) => diffRecorded(records, { candidate, baseline: () => baseline, filter });
  assert.is((await run({})).summary.compared, 2);
  assert.is((await run({ subject: 'bob' })).summary.compared, 1);
  assert.equal((await run({ route: 'other' })).changes.map((c) => c.subject), ['bob']);
  assert.is((await run({ sinceMs: Date.now() + 60_000 })).summary.compared, 0);
  assert.is((await run({ sinceMs: Date.now() - 60_000 })).summary.compared, 2);
});

test('a baseline other than the recorded one is reported as a mismatch when it does not reproduce the record', async () => {
  const records = await recordAll([input(['fraud-analysts'], 'GET', '/v1/transactions'), input(['pci-admins'], 'GET', '/v1/transactions')]);
  const report = await diffRecorded(records, { candidate: baseline, baseline: () => candidate });
  assert.is(report.summary.baseline_mismatch, 1);
  assert.equal(report.summary.baseline_revisions, ['sha256:candidate000001']);
});

test('the bundle store finds each recorded revision by file name or by content, and names what it holds when one is missing', async () => {
  const other = await loadBundle(await bundleVariant('sha256:other0000000001', (d) => (d.pci.bulk.max_limit = 10)));
  const records = await recordAll([input(['fraud-analysts'], 'POST', '/v1/score')]).then(async (first) => [...first, ...(await recordAll([input(['fraud-analysts'], 'POST', '/v1/score')], other))]);
  const dir = join(tmp.dir, 'store');
  await saveBundle(dir, baseline.revision, await import('node:fs/promises').then((fs) => fs.readFile(DEFAULT_BUNDLE)));
  assert.ok(bundleFileName(baseline.revision).endsWith('.tar.gz') && !bundleFileName(baseline.revision).includes(':'));
  const store = new BundleStore([dir]);
  const lookup = (rev: string): Promise<Evaluator> => store.engine(rev);
  try {
    await diffRecorded(records, { candidate, baseline: lookup });
    assert.unreachable('revision sha256:other0000000001 is not in the store');
  } catch (err) {
    assert.ok(hasCode(err, 'ERR_BUNDLE_NOT_FOUND'));
    assert.match((err as Error).message, /no bundle of revision sha256:other0000000001 in .*store \(it holds sha256:[0-9a-f]{16}\)/);
  }
  // Under any name: found by reading the bundle.
  mkdirSync(join(tmp.dir, 'more'));
  writeFileSync(join(tmp.dir, 'more', 'release-42.tar.gz'), await bundleVariant('sha256:other0000000001', (d) => (d.pci.bulk.max_limit = 10)));
  const both = new BundleStore([dir, join(tmp.dir, 'more')]);
  const report = await diffRecorded(records, { candidate, baseline: (rev) => both.engine(rev) });
  assert.equal(report.summary.baseline_revisions, [baseline.revision, 'sha256:other0000000001'].sort());
  assert.is(report.summary.baseline_mismatch, 0);
});

test.run();
