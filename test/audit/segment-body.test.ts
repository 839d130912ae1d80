/**
 * The segment body the writer builds as it appends (segment-body.ts) and the join both archive
 * backends store (archive.ts joinRecords): against the obvious reference, `record + "\n"` for each
 * record concatenated, over random records, growth from tiny buffers, and views laid out in ways
 * that only look like a body (reordered, no newline, another buffer).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { joinRecords } from '../../src/audit/archive.js';
import { leafHash } from '../../src/audit/merkle.js';
import { SegmentBody } from '../../src/audit/segment-body.js';

const reference = (records: readonly Uint8Array[], head = new Uint8Array(0)) =>
  Buffer.concat([head, ...records.flatMap((r) => [r, Buffer.from('\n')])]);

const recordsArb = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 60 });

test('property: a body built record by record holds each record and its leaf, and is stored as it is, not copied', () => {
  fc.assert(fc.property(recordsArb, fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 64 }), (records, bytes, count) => {
    const body = new SegmentBody(bytes, count);
    for (const r of records) body.add(r, leafHash(r));
    const done = body.done();
    assert.is(done.records.length, records.length);
    done.records.forEach((r, i) => {
      assert.ok(r.equals(records[i]!), `record ${i}`);
      assert.ok(done.leaves[i]!.equals(leafHash(records[i]!)), `leaf ${i}`);
    });
    const joined = joinRecords(done.records);
    assert.ok(joined.equals(reference(records)));
    if (records.length > 0) assert.is(joined.buffer, done.records[0]!.buffer, 'the laid-out body is handed back, not copied');
  }), { numRuns: 300 });
});

test('property: records that only look laid out (reordered, no newline between, a head) are joined by copying, byte for byte', () => {
  fc.assert(fc.property(recordsArb, fc.uint8Array({ maxLength: 20 }), (records, head) => {
    const body = new SegmentBody(16, 1);
    for (const r of records) body.add(r);
    const laid = body.done().records;
    // Reversed views of one body: same buffer, wrong order.
    const reversed = [...laid].reverse();
    assert.ok(joinRecords(reversed).equals(reference(reversed)));
    // Adjacent views with no newline between them.
    const flat = Buffer.concat(records.map((r) => Buffer.from(r)));
    let at = 0;
    const adjacent = records.map((r) => flat.subarray(at, (at += r.length)));
    assert.ok(joinRecords(adjacent).equals(reference(adjacent)));
    assert.ok(joinRecords(laid, head).equals(reference(laid, head)));
  }), { numRuns: 300 });
});

test.run();
