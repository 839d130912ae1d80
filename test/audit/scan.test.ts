/**
 * verify's fast reading of records (src/audit/record-scan.ts) against the reference, parseRecord:
 * over canonical records, arbitrary JSON text and bytes mutated at random, both accept exactly the
 * same bytes and read the same fields, or give the same reason. An attacker's strings and nested
 * keys that look like the fields verify follows are not taken for them. And the pairing of decisions
 * with outcomes keeps bounded memory without changing what is reported.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { canonicalJson } from '../../src/audit/canonical.js';
import { encodeRecord, parseRecord } from '../../src/audit/record.js';
import { scanRecord, type Envelope } from '../../src/audit/record-scan.js';
import { openStore, readTrustedKeys, storeInput, verifyLog, type AuditEvent } from '../../src/audit/index.js';
import { fixture, openLog } from './helpers.js';

const PREV = 'ab'.repeat(32);

/** What parseRecord says of the bytes, in scanRecord's terms. */
function reference(bytes: Buffer): Envelope | string {
  const r = parseRecord(bytes);
  if (typeof r === 'string') return r;
  const e = r.event as unknown as Record<string, unknown>;
  const str = (k: string) => (typeof e[k] === 'string' ? (e[k] as string) : undefined);
  return { seq: r.seq, prev: r.prev, type: r.event.type, requestId: str('request_id'), previousKid: str('previous_kid'), lastSegment: typeof e.last_segment === 'number' ? e.last_segment : undefined };
}

const same = (bytes: Buffer) => assert.equal(scanRecord(bytes), reference(bytes), bytes.toString('utf8'));

// Strings of any UTF-16 code units (control characters, lone surrogates), and plain ones.
const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ maxLength: 12 }), fc.constantFrom('type', 'request_id', 'previous_kid', 'last_segment', 'a"type', '\\', 'é', '\u2028'));
const canonicalValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.maxSafeInteger(), anyString, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(anyString, tie('value'), { maxKeys: 4 })),
})).value;
const eventOf = fc.record({
  type: fc.oneof(fc.constantFrom('request.decision', 'request.outcome', 'key.rotated', 'segment.expired'), anyString),
  rest: fc.dictionary(anyString, canonicalValue, { maxKeys: 5 }),
  request_id: fc.option(fc.oneof(anyString, fc.maxSafeInteger()), { nil: undefined }),
  previous_kid: fc.option(anyString, { nil: undefined }),
  last_segment: fc.option(fc.oneof(fc.maxSafeInteger(), anyString), { nil: undefined }),
});

function canonicalRecord(seq: number, e: { type: string; rest: Record<string, unknown>; request_id?: unknown; previous_kid?: unknown; last_segment?: unknown }): Buffer {
  const event: Record<string, unknown> = { ...e.rest, type: e.type };
  for (const k of ['request_id', 'previous_kid', 'last_segment'] as const) if (e[k] !== undefined) event[k] = e[k];
  return encodeRecord(seq, PREV, new Date(0), canonicalJson(event)).bytes;
}

test('canonical records: read exactly as parseRecord reads them', () => {
  fc.assert(fc.property(fc.nat(), eventOf, (seq, e) => same(canonicalRecord(seq, e))), { numRuns: 2000 });
});

test('any JSON text, whitespace and key order included: accepted or refused with the same reason', () => {
  const envelope = fc.record({ event: fc.oneof(canonicalValue, eventOf.map((e) => ({ ...e.rest, type: e.type }))), prev: fc.oneof(fc.constant(PREV), anyString), seq: fc.oneof(fc.nat(), fc.double(), fc.constant(-0)), ts: fc.constant('1970-01-01T00:00:00.000Z'), v: fc.constantFrom(1, 2, 1.5) }, { requiredKeys: [] });
  fc.assert(fc.property(envelope, fc.constantFrom(undefined, 1), (r, space) => same(Buffer.from(JSON.stringify(r, null, space)))), { numRuns: 2000 });
});

test('bytes changed, inserted or removed at random: the same verdict', () => {
  const edit = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), how: fc.constantFrom('set', 'insert', 'remove') });
  fc.assert(
    fc.property(fc.nat(), eventOf, fc.array(edit, { minLength: 1, maxLength: 3 }), (seq, e, edits) => {
      let b = canonicalRecord(seq, e);
      for (const { at, byte, how } of edits) {
        const i = at % (b.length + 1);
        if (how === 'set' && i < b.length) (b = Buffer.from(b))[i] = byte;
        else if (how === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
        else b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
      }
      same(b);
    }),
    { numRuns: 3000 },
  );
});

test('a prev equal to the expected hash is compared in place (null); any other is read out', () => {
  const bytes = canonicalRecord(1, { type: 'request.outcome', rest: {} });
  const hash = Buffer.from(PREV, 'hex');
  assert.is((scanRecord(bytes, hash) as { prev: string | null }).prev, null);
  const other = Buffer.from(hash);
  other[31] = other[31]! ^ 1;
  assert.is((scanRecord(bytes, other) as { prev: string | null }).prev, PREV);
  // Upper-case hex is not canonical: not taken for the expected hash, and refused.
  const upper = Buffer.from(bytes.toString('latin1').replace(PREV, PREV.toUpperCase()), 'latin1');
  assert.is(scanRecord(upper, hash), 'its prev hash is malformed');
});

test("an attacker's strings and nested keys are not taken for the event's own fields", () => {
  const event = {
    type: 'request.outcome', request_id: 'mine',
    body: '","type":"key.rotated","previous_kid":"evil"}',
    nested: { type: 'key.rotated', previous_kid: 'evil', request_id: 'other', last_segment: 9 },
    'a"type': 'key.rotated', list: [{ type: 'segment.expired', last_segment: 99 }],
  };
  const bytes = encodeRecord(3, PREV, new Date(0), canonicalJson(event)).bytes;
  assert.equal(scanRecord(bytes), { seq: 3, prev: PREV, type: 'request.outcome', requestId: 'mine', previousKid: undefined, lastSegment: undefined });
  same(bytes);
});

test('pairing decisions with outcomes in a bounded window reports the same decisions without an outcome', async () => {
  const f = await fixture();
  try {
    const decision = (id: string): AuditEvent => ({ type: 'request.decision', request_id: id, subject: 'alice', groups: [], client: '127.0.0.1', route: 'r', upstream: 'http://127.0.0.1:9/', method: 'POST', path: '/', decision: { effect: 'allow', reason: 'ok', policy_revision: 'rev' }, approval: null, request_body: null });
    const outcome = (id: string): AuditEvent => ({ type: 'request.outcome', request_id: id, status: 200, bytes_in: 1, bytes_out: 1, duration_ms: 1, masked: {}, response_body: null, error: null });
    // r0 leaves the window of 2 when r2 is decided, then is answered; r1 leaves it when r3 is, and never is.
    const log = await openLog(f, { segmentRecords: 4 });
    for (const e of [decision('r0'), decision('r1'), decision('r2'), outcome('r0'), decision('r3'), outcome('r2'), outcome('r3'), decision('r4')]) await log.append(e);
    await log.close();
    const store = openStore(f.dir, { readOnly: true });
    try {
      const keys = await readTrustedKeys([f.pub]);
      const wide = await verifyLog(storeInput(store).input, { keys, fromGenesis: true });
      const narrow = await verifyLog(storeInput(store).input, { keys, fromGenesis: true, pairingWindow: 2 });
      assert.ok(wide.ok && narrow.ok);
      assert.equal(wide.summary.decisionsWithoutOutcome.map((d) => d.request_id), ['r1', 'r4']);
      assert.equal(narrow.summary.decisionsWithoutOutcome, wide.summary.decisionsWithoutOutcome);
      assert.is(narrow.summary.decisionsWithoutOutcomeCount, 2);
    } finally {
      await store.env.close();
    }
  } finally {
    f.cleanup();
  }
});

test.run();
