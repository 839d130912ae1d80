/**
 * The holds stage on the cluster store, two HoldService nodes sharing one real PostgreSQL: a
 * client waiting on one node is released by an approval or denial made on the other (by NOTIFY,
 * and by polling once LISTEN is gone), the one use an approval buys is taken exactly once whichever
 * nodes race for it, every node lists every node's holds, and with PostgreSQL down a new hold is
 * refused with the store's typed error (the proxy's 503) instead of being kept where nobody sees it.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClusterHoldBackend, ClusterStore, migrate, openPool, type ClusterPostgresOptions } from '../../src/cluster-store/index.js';
import { HoldService, requestDigest, type Hold, type HoldRequest } from '../../src/hold/index.js';
import { scrubPath } from '../../src/mask/index.js';
import type { Identity } from '../../src/contract/index.js';
import { createDatabase, startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
let dbs = 0;

test.before(async () => {
  server = await startPostgres();
});
test.after(async () => {
  await server.stop();
});

const alice: Identity = { sub: 'alice', iss: 'https://idp', groups: ['fraud-analysts'], claims: {} };
const bob: Identity = { sub: 'bob', iss: 'https://idp', groups: ['pci-approvers'], claims: {} };

function request(path = '/v1/transactions?limit=5000'): HoldRequest {
  return { requestId: randomUUID(), identity: alice, route: 'fraud-model', method: 'GET', path, bodySha256: 'e3b0', summary: `GET ${scrubPath(path)}`, spec: { reason: 'bulk export', approvers: ['pci-approvers'], ttl_seconds: 600 } };
}

interface Node { store: ClusterStore; backend: ClusterHoldBackend; service: HoldService; close(): Promise<void> }

async function freshCluster(): Promise<ClusterPostgresOptions> {
  const opts = { url: await createDatabase(server, `h${++dbs}`), password_file: server.passwordFile, timeout_ms: 1000 };
  const pool = openPool(opts);
  await migrate(pool);
  await pool.end();
  return opts;
}

async function node(opts: ClusterPostgresOptions, id: string, waitSeconds = 30, feed = { pollMs: 60_000, fallbackPollMs: 250 }): Promise<Node> {
  const store = await ClusterStore.open(opts, id);
  const backend = await ClusterHoldBackend.open(store, opts, feed);
  // The card scrubber the composition root gives every node.
  const service = await HoldService.open({ backend, waitSeconds, sweepIntervalMs: 60_000, shownPath: scrubPath });
  return { store, backend, service, close: async () => { await service.close(); await backend.close(); await store.close(); } };
}

async function pendingOn(n: Node): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const holds = await n.service.listHolds(bob, 'pending');
    if (holds[0]) return holds[0].id;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no pending hold appeared');
}

test('a client waiting on node A is released by an approval on node B (NOTIFY), and A forwards it, not a replay', async () => {
  const opts = await freshCluster();
  const [a, b] = [await node(opts, 'a'), await node(opts, 'b')];
  try {
    const waiting = a.service.hold(request(), new AbortController().signal);
    const id = await pendingOn(b);
    // The view's poll is a minute away: only the notification releases the client in this test.
    await b.service.approve(bob, id, 'case 4711', null);
    const outcome = await waiting;
    assert.equal(outcome, { status: 'approved', holdId: id });
    const stored = await b.service.getHold(bob, id);
    assert.is(stored.delivered, true, 'node A claimed the approval\'s use for its waiting client');
    assert.is((await a.store.useOf(id))?.kind, 'waiting');
    assert.is((await a.store.useOf(id))?.node, 'a');
    await b.backend.feed.pull();
    assert.is(b.service.approvalFor(alice, 'fraud-model', 'GET', '/v1/transactions?limit=5000', 'e3b0'), null, 'no replay is owed anywhere');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a denial on B reaches the client waiting on A, also after A lost its LISTEN connection (polling)', async () => {
  const opts = await freshCluster();
  const [a, b] = [await node(opts, 'a'), await node(opts, 'b')];
  try {
    const pool = openPool(opts);
    await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'`);
    await pool.end();
    const waiting = a.service.hold(request(), new AbortController().signal);
    const id = await pendingOn(b);
    await b.service.deny(bob, id, 'no ticket');
    const outcome = await waiting;
    assert.equal(outcome, { status: 'denied', holdId: id, reason: 'no ticket' });
  } finally {
    await a.close();
    await b.close();
  }
});

test('every node lists every node\'s holds; the pending limit counts the whole cluster', async () => {
  const opts = await freshCluster();
  const a = await node(opts, 'a', 0);
  const b = await node(opts, 'b', 0);
  try {
    const svcA = await HoldService.open({ backend: a.backend, waitSeconds: 0, maxPendingPerIdentity: 2, sweepIntervalMs: 60_000 });
    const svcB = await HoldService.open({ backend: b.backend, waitSeconds: 0, maxPendingPerIdentity: 2, sweepIntervalMs: 60_000 });
    await svcA.hold(request('/a'), new AbortController().signal);
    await svcB.hold(request('/b'), new AbortController().signal);
    const listed = (await svcA.listHolds(bob)).map((h) => h.path).sort();
    assert.equal(listed, ['/a', '/b']);
    // The limits count other nodes' holds as this node's view knows them: once B's hold has reached
    // A (by notification, milliseconds), a third is refused there.
    for (let i = 0; i < 200 && a.backend.index.size.holds < 2; i++) await new Promise((r) => setTimeout(r, 10));
    try {
      await svcA.hold(request('/c'), new AbortController().signal);
      assert.unreachable('a third pending hold was accepted across two nodes');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_HOLD_LIMIT');
    }
    await svcA.close();
    await svcB.close();
  } finally {
    await a.close();
    await b.close();
  }
});

test('a held path reaches PostgreSQL as shown, with the digest a replay on another node is matched on; a hold an older node stored as sent is rewritten when a node opens', async () => {
  const opts = await freshCluster();
  const raw = '/v1/transactions?limit=5000&card=4111111111111111';
  const a = await node(opts, 'a', 0);
  let b: Node | null = null;
  const pool = openPool(opts);
  try {
    const outcome = await a.service.hold(request(raw), new AbortController().signal);
    assert.is(outcome.status, 'timeout');
    // What an older node wrote: the path as sent, no digest.
    const legacy: Hold = { ...(await a.service.getHold(bob, outcome.holdId)), id: 'hold_legacy', path: raw.replace('5000', '6000'), request_sha256: undefined };
    delete legacy.request_sha256;
    await a.store.write((tx) => tx.putHold(legacy));
    b = await node(opts, 'b');
    await b.service.approve(bob, outcome.holdId, 'ok', null);
    await b.service.approve(bob, 'hold_legacy', 'ok', null);
    const rows = (await pool.query<{ id: string; doc: Hold; text: string; request_key: string }>('SELECT id, doc, doc::text AS text, request_key FROM regate_holds ORDER BY id')).rows;
    assert.is(rows.length, 2);
    for (const row of rows) {
      assert.not.match(row.text, /4111111111111111/, `${row.id} as stored`);
      assert.match(row.doc.path, /card=\[redacted…1111\]$/);
      assert.is(row.doc.request_sha256, row.request_key, 'the row is indexed by the digest the hold keeps');
    }
    assert.is(rows.find((r) => r.id === outcome.holdId)!.request_key, requestDigest('https://idp', 'alice', 'fraud-model', 'GET', raw, 'e3b0'));
    // Both approvals buy a replay of the request as sent, on either node.
    await a.backend.feed.pull();
    assert.is(a.service.approvalFor(alice, 'fraud-model', 'GET', raw, 'e3b0')?.hold_id, outcome.holdId);
    assert.is(b.service.approvalFor(alice, 'fraud-model', 'GET', raw.replace('5000', '6000'), 'e3b0')?.hold_id, 'hold_legacy');
    assert.is(b.service.approvalFor(alice, 'fraud-model', 'GET', raw.replace('4111111111111111', '4012888888881881'), 'e3b0'), null, 'shown alike, another request');
  } finally {
    await pool.end();
    await a.close();
    await b?.close();
  }
});

test('property: a late approval buys exactly one replay, whichever nodes race to use it', async () => {
  const opts = await freshCluster();
  const nodes = [await node(opts, 'a', 0), await node(opts, 'b', 0), await node(opts, 'c', 0)];
  let round = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(2), { minLength: 1, maxLength: 6 }), async (racers) => {
        const path = `/r/${++round}`;
        const timedOut = await nodes[0]!.service.hold(request(path), new AbortController().signal);
        assert.is(timedOut.status, 'timeout');
        await nodes[1]!.service.approve(bob, timedOut.holdId, '', null);
        // Every node sees the owed replay once its view has the approval.
        for (const n of nodes) {
          await n.backend.feed.pull();
          assert.ok(n.service.approvalFor(alice, 'fraud-model', 'GET', path, 'e3b0'), 'replay owed');
        }
        const results = await Promise.allSettled(racers.map((i) => nodes[i]!.service.consumeReplay(timedOut.holdId)));
        assert.is(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status)));
        for (const r of results) if (r.status === 'rejected') assert.is((r.reason as { code?: string }).code, 'ERR_REPLAY_UNAVAILABLE');
        for (const n of nodes) {
          await n.backend.feed.pull();
          assert.is(n.service.approvalFor(alice, 'fraud-model', 'GET', path, 'e3b0'), null, 'no second replay');
        }
      }),
      { numRuns: 15 },
    );
  } finally {
    for (const n of nodes) await n.close();
  }
});

test('with PostgreSQL down a new hold is refused with ERR_CLUSTER_UNAVAILABLE; once it is back, holds work again', async () => {
  const opts = await freshCluster();
  const a = await node(opts, 'a', 0);
  try {
    await server.halt();
    try {
      await a.service.hold(request(), new AbortController().signal);
      assert.unreachable('held a request with the store down');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_CLUSTER_UNAVAILABLE');
      assert.match((err as Error).message, 'cannot write in the cluster store');
    }
    await server.start();
    const outcome = await a.service.hold(request(), new AbortController().signal);
    assert.is(outcome.status, 'timeout');
  } finally {
    await a.close();
  }
});

test.run();
