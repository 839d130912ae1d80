/**
 * Properties the other suites do not already cover (the SSE and text stream maskers are fuzzed in
 * test/mask/stream.test.ts, tokens in test/identity/fuzz.test.ts, tar round trips in
 * test/policy/bundle.test.ts): mangled bundles, canonical JSON, the JSON depth guard, the policy
 * input builder and the JSON-path masker.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditFormatError } from '../../src/audit/index.js';
import { canonicalJson } from '../../src/audit/canonical.js';
import { compileMaskPlan, containsPan, maskJsonText, type MaskPlan } from '../../src/mask/index.js';
import { BundleError, DEFAULT_BUNDLE, openBundle } from '../../src/policy/index.js';
import { buildPolicyInput } from '../../src/proxy/input.js';
import { jsonDepth } from '../../src/proxy/json-guard.js';
import { fillerArb, panArb } from '../mask/cards.js';

/** A value masked as the JSON text it serialises to, read back. */
function maskJson(plan: MaskPlan, value: unknown): { value: unknown; counts: Record<string, number> } {
  const r = maskJsonText(plan, JSON.stringify(value));
  return { value: JSON.parse(r.text) as unknown, counts: r.counts };
}


const bundle = readFileSync(DEFAULT_BUNDLE);
const tar = gunzipSync(bundle);

/** Opening must either succeed or fail with a BundleError; anything else is a crash. */
async function opensOrBundleError(bytes: Uint8Array): Promise<void> {
  try {
    await openBundle(bytes, { requireSignature: false });
  } catch (err) {
    if (!(err instanceof BundleError)) throw new Error(`not a BundleError: ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  }
}

test('bundle reading: random bytes, flipped and truncated gzip, mangled tar inside good gzip → only BundleError', async () => {
  const edits = fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 });
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 2048 }),
        edits.map((es) => {
          const b = Buffer.from(bundle);
          for (const e of es) b[e.at % b.length] = e.byte;
          return b;
        }),
        fc.nat({ max: bundle.length - 1 }).map((n) => bundle.subarray(0, n)),
        edits.map((es) => {
          const t = Buffer.from(tar);
          // Headers live in the first bytes of each 512-byte block: aim there half the time.
          for (const e of es) t[e.at % 2 === 0 ? (e.at % (t.length / 512 | 0)) * 512 + (e.at % 160) : e.at % t.length] = e.byte;
          return gzipSync(t);
        }),
      ),
      opensOrBundleError,
    ),
    { numRuns: 150 },
  );
});

const integerJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

test('canonical JSON: parses back to the same value, ignores key order, refuses only what it cannot hold', () => {
  fc.assert(
    fc.property(integerJson, (v) => {
      const text = canonicalJson(v);
      // Compared through JSON.parse on both sides: the generator's objects have no prototype.
      assert.equal(JSON.parse(text), JSON.parse(JSON.stringify(v)));
      assert.is(canonicalJson(JSON.parse(text)), text);
      assert.not.match(text, /\n/);
      const reordered = JSON.parse(JSON.stringify(v), function (this: unknown, _k, val: unknown) {
        if (val && typeof val === 'object' && !Array.isArray(val)) return Object.fromEntries(Object.entries(val).reverse());
        return val;
      });
      assert.is(canonicalJson(reordered), text);
    }),
  );
  fc.assert(
    fc.property(fc.oneof(fc.double().filter((d) => !Number.isSafeInteger(d)), fc.bigInt(), fc.func(fc.nat())), (bad) => {
      assert.throws(() => canonicalJson({ a: [bad] }), (e: unknown) => e instanceof AuditFormatError);
    }),
  );
});

function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const kids = Array.isArray(v) ? v : Object.values(v);
  return 1 + kids.reduce<number>((m, k) => Math.max(m, depthOf(k)), 0);
}

test('JSON depth guard: the byte scan agrees with the parsed depth, whatever the strings hold', () => {
  const tricky = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ' ') });
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'medium' }, tricky, fc.integer(), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(tricky, tie('v'), { maxKeys: 3 })),
  })).v;
  fc.assert(
    fc.property(value, (v) => {
      const bytes = Buffer.from(JSON.stringify(v));
      assert.is(jsonDepth(bytes), depthOf(v));
      assert.ok(jsonDepth(bytes, 1) <= Math.max(depthOf(v), 0) && (depthOf(v) <= 1 || jsonDepth(bytes, 1) === 2), 'stops just past the limit');
    }),
  );
});

test('policy input builder: any headers and query never crash, never carry credentials, and stay proportional to what came in', () => {
  const headerName = fc.oneof(fc.constantFrom('authorization', 'cookie', 'x-api-key', 'proxy-authorization', '__proto__', 'constructor', 'content-type'), fc.string({ minLength: 1, maxLength: 10 }).map((s) => s.toLowerCase()));
  fc.assert(
    fc.property(
      fc.dictionary(headerName, fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }))),
      fc.string({ maxLength: 200 }).map((s) => `?${s}`),
      fc.jsonValue({ maxDepth: 4 }),
      (headers, search, body) => {
        const input = buildPolicyInput({
          identity: { sub: 's', iss: 'i', groups: [], claims: {} },
          method: 'POST', path: '/v1/x', search, headers, body, bodyBytes: 0, route: 'r',
          requestsLastMinute: 1, approval: null, grants: [], nowMs: 1,
        });
        for (const secret of ['authorization', 'cookie', 'x-api-key', 'proxy-authorization']) assert.not.ok(secret in input.request.headers, secret);
        for (const vals of Object.values(input.request.query)) assert.ok(Array.isArray(vals) && vals.every((x) => typeof x === 'string'));
        assert.is(Object.getPrototypeOf(input.request.query), null);
        const inBytes = JSON.stringify(headers).length + search.length * 3 + JSON.stringify(body).length;
        assert.ok(JSON.stringify(input).length <= inBytes * 2 + 400, 'the input is proportional to the request');
      },
    ),
  );
});

test('JSON-path masker: PANs anywhere in a JSON tree (values, keys, nested) are never left whole; the masked fields are gone', () => {
  const plan = compileMaskPlan([{ detector: 'pan', format: 'last4' }, { path: '$.card.cvv' }]);
  const leaf = fc.oneof(fillerArb, fc.tuple(fillerArb, panArb, fillerArb).map(([a, p, b]) => `${a}${p.printed}${b}`), fc.integer());
  const tree: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    t: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('t'), { maxLength: 3 }), fc.dictionary(fc.oneof(fillerArb, panArb.map((p) => p.digits)), tie('t'), { maxKeys: 3 })),
  })).t;
  fc.assert(
    fc.property(tree, fc.string({ unit: fc.constantFrom('1', '2', '3') }), (t, cvv) => {
      const masked = maskJson(plan, { data: t, card: { cvv } });
      const text = JSON.stringify(masked.value);
      assert.not.ok(containsPan(text), `a PAN survived: ${text.slice(0, 200)}`);
      assert.not.equal((masked.value as { card: { cvv: unknown } }).card.cvv, cvv === '' ? undefined : cvv);
    }),
    { numRuns: 200 },
  );
});

test.run();
