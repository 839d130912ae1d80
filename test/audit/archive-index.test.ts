/**
 * The readers' index of the archive (issue 20 item 3): `prove --seq` and the other readers start
 * at the archived segment holding the record, found by bisecting the archive's listing, instead of
 * reading every archived segment before it; records in the live store are proved without reading
 * the archive. The proofs are the same as the linear walk's, and verify. A segment file whose
 * header lies about its records cannot make a wrong proof: the proof is checked as it is made.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FolderArchive, LogReader, openStore, proveInclusion, readTrustedKeys, verifyInclusion, type Store, type TrustedKey } from '../../src/audit/index.js';
import { CountingArchive, fixture, LinearReader, openLog, writeArchived, type Fixture } from './helpers.js';

const SEGMENTS = 30;
let f: Fixture;
let store: Store;
let keys: TrustedKey[];
let pruned: number;

test.before(async () => {
  f = await fixture();
  ({ pruned } = await writeArchived(await openLog(f, { segmentRecords: 1000 }), new FolderArchive(join(f.state, 'archive')), SEGMENTS));
  assert.is(pruned, SEGMENTS - 2, 'all but the newest sealed segment left the live store');
  store = openStore(f.dir, { readOnly: true });
  keys = await readTrustedKeys([f.pub]);
});
test.after(async () => {
  await store.env.close();
  f.cleanup();
});

async function prove(Reader: typeof LogReader, seq: number) {
  const archive = new CountingArchive(join(f.state, 'archive'));
  const proof = await proveInclusion(new Reader(store, archive), seq, keys);
  return { proof, gets: archive.gets };
}

test('prove --seq reads a few archived segments, not every one before the record; the proof is the linear walk\'s and verifies', async () => {
  const probes = Math.ceil(Math.log2(pruned + 1));
  for (const seq of [0, 9, 10, 137, 250, 271, pruned * 10 + 9]) {
    const linear = await prove(LinearReader, seq);
    const indexed = await prove(LogReader, seq);
    assert.equal(indexed.proof, linear.proof, `record ${seq}`);
    assert.ok((await verifyInclusion(indexed.proof, keys)).ok);
    // The bisection's probes, then the segment itself for each of the proof's reads (checkpoint, record, base, leaves).
    assert.ok(indexed.gets <= probes + 4, `record ${seq}: ${indexed.gets} archived segments read (at most ${probes + 4})`);
    assert.ok(linear.gets >= Math.floor(seq / 10) + 1, `the linear walk reads every segment up to record ${seq}'s (${linear.gets})`);
  }
  const late = await prove(LinearReader, 271);
  assert.ok(late.gets > 3 * (probes + 4), `the index is worth it: ${late.gets} reads without it`);
});

test('a record in the live store is proved without reading the archive', async () => {
  const seq = (pruned + 1) * 10 + 3;
  const live = await prove(LogReader, seq);
  assert.is(live.gets, 0);
  assert.ok((await verifyInclusion(live.proof, keys)).ok);
});

test('a segment header that lies about its records sends the search astray, never to a wrong proof', async () => {
  // Segment 14's header claims it starts 50 records later: the bisection is misled for records around it.
  const folder = join(f.state, 'archive', '000000');
  const file = join(folder, readdirSync(folder).find((n) => n.startsWith('segment-000014-'))!);
  const saved = readFileSync(file);
  const text = gunzipSync(saved).toString('utf8');
  const nl = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, nl)) as { first: number };
  writeFileSync(file, gzipSync(JSON.stringify({ ...header, first: header.first + 50 }) + text.slice(nl)));
  try {
    for (const seq of [140, 145, 160, 175]) {
      const got = await prove(LogReader, seq).then((r) => r.proof, (err: Error) => err);
      if (got instanceof Error) assert.match(got.message, /record \d+|does not prove|holds \d+ of records|not in a sealed segment/);
      else {
        assert.is(got.seq, seq);
        assert.ok((await verifyInclusion(got, keys)).ok, `a proof given for record ${seq} verifies`);
      }
    }
  } finally {
    writeFileSync(file, saved);
  }
});

test.run();
