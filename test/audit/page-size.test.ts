/**
 * The store's LMDB page size: new stores get STORE_PAGE_SIZE (records pack into leaf pages instead
 * of overflow pages of their own), small ones 4 KiB; a store made before, with 4 KiB pages, keeps
 * them and goes on being written and verified; a record larger than a page still goes in and reads
 * back intact; a full store with large pages still refuses cleanly and seals what it holds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditLogFullError, openStore, readTrustedKeys, storeBytes, storeInput, storePageSize, STORE_PAGE_SIZE, verifyLog, type AuditEvent, type Store } from '../../src/audit/index.js';
import { parseRecord } from '../../src/audit/record.js';
import { fixture, openLog, sampleEvent, type Fixture } from './helpers.js';

async function readBack<T>(f: Fixture, read: (store: Store) => T | Promise<T>): Promise<T> {
  const store = openStore(f.dir, { readOnly: true });
  try {
    return await read(store);
  } finally {
    await store.env.close();
  }
}

async function verified(f: Fixture): Promise<number> {
  const r = await readBack(f, async (store) => verifyLog(storeInput(store).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true }));
  assert.ok(r.ok, r.ok ? '' : r.fault.message);
  return r.summary.records;
}

/** A decision with a masked body capture of `n` bytes: the size of a record the gateway writes. */
function decisionWithBody(i: number, n: number): AuditEvent {
  const e = sampleEvent(i * 2) as Extract<AuditEvent, { type: 'request.decision' }>;
  return { ...e, request_body: { bytes: n, sha256: 'a'.repeat(64), text: 'x'.repeat(n), truncated: false } };
}

test('a new store gets STORE_PAGE_SIZE pages, larger than the 4 KiB of stores made before', async () => {
  assert.ok(STORE_PAGE_SIZE > 4096);
  const f = await fixture();
  try {
    const log = await openLog(f);
    await log.append(sampleEvent(0));
    await log.close();
    assert.is(await readBack(f, storePageSize), STORE_PAGE_SIZE);
  } finally {
    f.cleanup();
  }
});

test('a store capped under 256 MiB gets 4 KiB pages (a tiny map holds enough of them to fill finely)', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { mapSizeBytes: 8 * 2 ** 20 });
    await log.append(sampleEvent(0));
    await log.close();
    assert.is(await readBack(f, storePageSize), 4096);
  } finally {
    f.cleanup();
  }
});

test('a full store with 32 KiB pages refuses the record that does not fit, and what it holds is sealed and verifies', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { mapSizeBytes: 4 * 2 ** 20, pageSizeBytes: STORE_PAGE_SIZE, segmentRecords: 50 });
    let refused: unknown = null;
    let written = 0;
    for (let i = 0; i < 2000 && refused === null; i++) {
      try {
        await log.append(decisionWithBody(i, 3000));
        written++;
      } catch (err) {
        refused = err;
      }
    }
    assert.instance(refused, AuditLogFullError);
    assert.ok(written > 100, `${written} records before the cap`);
    await log.close();
    assert.is(await readBack(f, storePageSize), STORE_PAGE_SIZE);
    const records = await verified(f);
    assert.ok(records > written, `${records} records verified, ${written} requests written`);
  } finally {
    f.cleanup();
  }
});

test('records of 2 to 4 KB take less room than with 4 KiB pages (they pack into leaf pages)', async () => {
  const sizes: number[] = [];
  for (const pageSizeBytes of [4096, STORE_PAGE_SIZE]) {
    const f = await fixture();
    try {
      const log = await openLog(f, { pageSizeBytes });
      await Promise.all(Array.from({ length: 2000 }, (_, i) => log.append(decisionWithBody(i, 2000 + (i % 5) * 400))));
      await log.close();
      sizes.push(await readBack(f, storeBytes));
      assert.is(await verified(f), 2000);
    } finally {
      f.cleanup();
    }
  }
  assert.ok(sizes[1]! < sizes[0]! * 0.85, `with ${STORE_PAGE_SIZE}-byte pages ${sizes[1]} bytes, with 4096 ${sizes[0]}`);
});

test('a store made with 4 KiB pages keeps them when reopened, takes new records and verifies whole', async () => {
  const f = await fixture();
  try {
    let log = await openLog(f, { pageSizeBytes: 4096, segmentRecords: 5 });
    for (let i = 0; i < 12; i++) await log.append(sampleEvent(i));
    await log.close();
    log = await openLog(f, { segmentRecords: 5 });
    for (let i = 12; i < 24; i++) await log.append(sampleEvent(i));
    await log.close();
    assert.is(await readBack(f, storePageSize), 4096);
    const records = await verified(f);
    assert.ok(records >= 24, `${records} records`);
  } finally {
    f.cleanup();
  }
});

test('a record larger than a page goes in and reads back byte for byte', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f);
    const big = decisionWithBody(0, STORE_PAGE_SIZE * 3 + 17);
    const { seq } = await log.append(big);
    await log.close();
    const stored = await readBack(f, (store) => Buffer.from(store.records.get(seq)!));
    assert.ok(stored.length > STORE_PAGE_SIZE * 3);
    const r = parseRecord(stored);
    if (typeof r === 'string') throw new Error(r);
    assert.equal(r.event, big);
    await verified(f);
  } finally {
    f.cleanup();
  }
});

test.run();
