/**
 * Cluster-wide usage counts against a real PostgreSQL: another node's requests are in this node's
 * sum after one flush there and one read here (the staleness bound docs/cluster.md states), and
 * while PostgreSQL is down a node counts locally, says so once, and sends what it counted later.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClusterStore, ClusterUsage, type ClusterPostgresOptions } from '../../src/cluster-store/index.js';
import { startMigratedPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
let opts: ClusterPostgresOptions;

test.before(async () => {
  ({ server, opts } = await startMigratedPostgres());
});
test.after(async () => {
  await server.stop();
});

test('another node\'s requests count here after one flush there and one read here', async () => {
  const [a, b] = await Promise.all([ClusterStore.open(opts, 'a'), ClusterStore.open(opts, 'b')]);
  // A period of an hour: only the explicit syncs below move counts, so the bound is what is tested.
  const ua = new ClusterUsage(a, { periodMs: 3_600_000 });
  const ub = new ClusterUsage(b, { periodMs: 3_600_000 });
  try {
    for (let i = 0; i < 5; i++) ua.record('https://idp\u0000alice');
    ub.record('https://idp\u0000alice');
    ub.record('bob');
    assert.is(ub.otherNodes('https://idp\u0000alice'), 0, 'nothing flushed yet');
    await ua.sync();
    assert.is(ub.otherNodes('https://idp\u0000alice'), 0, 'flushed on a, not yet read on b');
    await ub.sync();
    assert.is(ub.otherNodes('https://idp\u0000alice'), 5);
    assert.is(ub.otherNodes('bob'), 0, 'b\'s own requests are not counted as another node\'s');
    await ua.sync();
    assert.is(ua.otherNodes('https://idp\u0000alice'), 1);
    assert.is(ua.otherNodes('bob'), 0, 'a never saw bob, so it does not ask for him');
  } finally {
    await ua.close();
    await ub.close();
    await a.close();
    await b.close();
  }
});

test('with PostgreSQL down a node counts locally, warns once, and sends its counts when it is back', async () => {
  const [a, b] = await Promise.all([ClusterStore.open(opts, 'a2'), ClusterStore.open(opts, 'b2')]);
  const warnings: string[] = [];
  const ua = new ClusterUsage(a, { periodMs: 3_600_000, onWarning: (m) => warnings.push(m) });
  const ub = new ClusterUsage(b, { periodMs: 3_600_000 });
  try {
    ub.record('carol');
    await ub.sync();
    ua.record('carol');
    await ua.sync();
    assert.is(ua.otherNodes('carol'), 1);
    await server.halt();
    ua.record('carol');
    ua.record('carol');
    await ua.sync();
    await ua.sync();
    assert.ok(ua.degraded);
    assert.is(warnings.length, 1, warnings.join(' | '));
    assert.match(warnings[0]!, 'this node\'s counts only');
    assert.is(ua.otherNodes('carol'), 0, 'stale sums are dropped while the store is unreachable');
    await server.start();
    await ua.sync();
    assert.not.ok(ua.degraded);
    assert.is(warnings.length, 2);
    assert.is(ua.otherNodes('carol'), 1);
    await ub.sync();
    assert.is(ub.otherNodes('carol'), 3, 'the counts made during the outage arrived');
  } finally {
    await ua.close();
    await ub.close();
    await a.close();
    await b.close();
  }
});

test.run();
