import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { approve, approvalsRequired, checkGrantSeconds, deny } from '../../src/hold/rules.js';
import { samePrincipal, type Hold, type Principal } from '../../src/hold/types.js';
import { RegateError } from '../../src/util/errors.js';

const requester: Principal = { sub: 'alice', iss: 'https://idp', groups: ['fraud-analysts', 'pci-approvers'] };

function pending(required: number, maxGrant?: number): Hold {
  return {
    id: 'hold_t', state: 'pending', requester, route: 'r', method: 'GET', path: '/x', body_sha256: 'h', summary: '',
    spec: { reason: 'why', approvers: ['pci-approvers', 'sec'], ttl_seconds: 60, approvals_required: required, max_grant_seconds: maxGrant },
    created_at_ms: 0, expires_at_ms: 60_000, approvals: [], denial: null, decided_at_ms: null, delivered: false,
    replayed_at_ms: null, grant_id: null,
  };
}

const principal = fc.record({
  sub: fc.constantFrom('alice', 'bob', 'carol', 'dave', 'erin'),
  iss: fc.constantFrom('https://idp', 'https://other-idp'),
  groups: fc.subarray(['pci-approvers', 'sec', 'fraud-analysts', 'support']),
});

test('whatever the sequence of approvers: only distinct eligible non-requesters count, and enough of them approve', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3 }), fc.array(principal, { maxLength: 8 }), fc.integer({ min: 0, max: 120_000 }), (required, whos, at) => {
      let hold = pending(required);
      for (const who of whos) {
        try {
          hold = approve(hold, who, '', null, at).hold;
        } catch (err) {
          assert.instance(err, RegateError);
        }
      }
      if (at >= 60_000) assert.is(hold.approvals.length, 0, 'nothing is approved once the TTL has passed');
      for (const a of hold.approvals) {
        assert.not.ok(samePrincipal(a.by, requester));
        assert.ok(a.by.groups.some((g) => ['pci-approvers', 'sec'].includes(g)));
      }
      const distinct = new Set(hold.approvals.map((a) => `${a.by.iss} ${a.by.sub}`));
      assert.is(distinct.size, hold.approvals.length);
      assert.ok(hold.approvals.length <= approvalsRequired(hold));
      assert.is(hold.state === 'approved', hold.approvals.length === required);
    }),
  );
});

test('a grant is allowed only from 1 s up to max_grant_seconds', () => {
  fc.assert(
    fc.property(fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }), fc.integer({ min: -10, max: 20_000 }), (max, asked) => {
      let ok = true;
      try {
        checkGrantSeconds(pending(1, max), asked);
      } catch (err) {
        assert.is((err as RegateError).code, 'ERR_GRANT_REFUSED');
        ok = false;
      }
      assert.is(ok, max !== undefined && asked >= 1 && asked <= max);
    }),
  );
});

test('a decided hold cannot be decided again', () => {
  const bob: Principal = { sub: 'bob', iss: 'https://idp', groups: ['sec'] };
  const denied = deny(pending(1), bob, 'no', 1);
  assert.is(denied.state, 'denied');
  assert.throws(() => approve(denied, { ...bob, sub: 'carol' }, '', null, 2), (e: RegateError) => e.code === 'ERR_HOLD_NOT_PENDING');
  assert.throws(() => deny(denied, { ...bob, sub: 'carol' }, 'again', 2), (e: RegateError) => e.code === 'ERR_HOLD_NOT_PENDING');
});

test.run();
