/**
 * The cluster store against a real PostgreSQL 15: migrations (idempotent, refusing a newer schema),
 * exactly-once replay uses across nodes, the change feed keeping a node's view current through
 * NOTIFY and through a dropped LISTEN connection, and the view's answers against a slow reference.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ChangeFeed, ClusterHoldBackend, ClusterSchemaMissing, ClusterSchemaTooNew, ClusterStore, ClusterView, LATEST_VERSION, migrate, MIGRATIONS, openPool,
  type ClusterPostgresOptions,
} from '../../src/cluster-store/index.js';
import { requestDigest, type Grant, type Hold } from '../../src/hold/index.js';
import { createDatabase, startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
let dbs = 0;

test.before(async () => {
  server = await startPostgres();
});
test.after(async () => {
  await server.stop();
});

async function freshDb(migrated = true): Promise<ClusterPostgresOptions> {
  const opts = { url: await createDatabase(server, `t${++dbs}`), password_file: server.passwordFile };
  if (migrated) {
    const pool = openPool(opts);
    await migrate(pool);
    await pool.end();
  }
  return opts;
}

function holdOf(n: number, over: Partial<Hold> = {}): Hold {
  const now = Date.now();
  return {
    id: `hold_${n}`, state: 'pending', requester: { sub: `user${n % 3}`, iss: 'https://idp', groups: ['analysts'] },
    route: 'r', method: 'GET', path: `/p/${n % 4}`, body_sha256: 'e3b0', summary: 'GET /p', spec: { reason: 'bulk', approvers: ['approvers'], ttl_seconds: 600 },
    created_at_ms: now + n, expires_at_ms: now + 600_000, approvals: [], denial: null, decided_at_ms: null, delivered: false,
    replayed_at_ms: null, grant_id: null, ...over,
  } as Hold;
}

function grantOf(n: number, over: Partial<Grant> = {}): Grant {
  const now = Date.now();
  return {
    id: `grant_${n}`, hold_id: `hold_${n}`, subject: { sub: `user${n % 3}`, iss: 'https://idp', groups: [] }, route: n % 2 ? 'r' : 's',
    approvers: ['bob'], approver_groups: ['approvers'], created_at_ms: now, expires_at_ms: now + 600_000, revoked: null, ...over,
  };
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.unreachable(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('migrate creates the schema once, is idempotent, and refuses a newer schema', async () => {
  const opts = await freshDb(false);
  const pool = openPool(opts);
  try {
    const first = await migrate(pool);
    assert.is(first.from, 0);
    assert.is(first.to, LATEST_VERSION);
    assert.equal(first.applied.map((a) => a.version), MIGRATIONS.map((m) => m.version));
    const again = await migrate(pool);
    assert.equal(again.applied, []);
    assert.is(again.from, LATEST_VERSION);
    // Two migrations at once (two machines): the lock makes one do the work, the other nothing.
    const opts2 = await freshDb(false);
    const p2 = openPool(opts2);
    const both = await Promise.all([migrate(p2), migrate(p2)]);
    assert.equal(both.map((b) => b.applied.length).sort(), [0, MIGRATIONS.length]);
    await p2.end();

    await pool.query(`INSERT INTO regate_schema (version, name) VALUES (${LATEST_VERSION + 1}, 'from the future')`);
    try {
      await migrate(pool);
      assert.unreachable('migrate ran against a newer schema');
    } catch (err) {
      assert.instance(err, ClusterSchemaTooNew);
      assert.match((err as Error).message, `version ${LATEST_VERSION + 1}, newer than this regate knows (${LATEST_VERSION})`);
    }
    try {
      await ClusterStore.open(opts, 'n1');
      assert.unreachable('a node started against a newer schema');
    } catch (err) {
      assert.instance(err, ClusterSchemaTooNew);
    }
  } finally {
    await pool.end();
  }
});

test('a node refuses a database that was never migrated, naming the command to run', async () => {
  const opts = await freshDb(false);
  try {
    await ClusterStore.open(opts, 'n1');
    assert.unreachable('opened an unmigrated store');
  } catch (err) {
    assert.instance(err, ClusterSchemaMissing);
    assert.match((err as Error).message, 'regate cluster migrate');
  }
});

test('the password comes from password_file: without it the server refuses the connection', async () => {
  const opts = await freshDb();
  try {
    await ClusterStore.open({ url: opts.url, timeout_ms: 2000 }, 'n1');
    assert.unreachable('connected without a password');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_CLUSTER_UNAVAILABLE');
    assert.not.match((err as Error).message, /pw-/);
  }
});

test('property: each approval is used exactly once, however many nodes race for it', async () => {
  const opts = await freshDb();
  const nodes = await Promise.all(['a', 'b', 'c'].map((n) => ClusterStore.open({ ...opts, pool_size: 3 }, n)));
  let round = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ hold: fc.nat(3), node: fc.nat(2), kind: fc.constantFrom('waiting' as const, 'replay' as const) }), { minLength: 1, maxLength: 12 }),
        async (claims) => {
          round++;
          const ids = [...new Set(claims.map((c) => `hold_r${round}_${c.hold}`))];
          await nodes[0]!.write(async (tx) => {
            for (const id of ids) await tx.putHold(holdOf(0, { id, state: 'approved' }));
          });
          const results = await Promise.all(
            claims.map((c) => nodes[c.node]!.write((tx) => tx.claimUse(`hold_r${round}_${c.hold}`, c.kind, Date.now()))),
          );
          // Reference: the first claim of each hold wins, whichever it was; all others lose.
          for (const id of ids) {
            const winners = claims.filter((c, i) => `hold_r${round}_${c.hold}` === id && results[i]);
            assert.is(winners.length, 1, `hold ${id} used ${winners.length} times`);
            const use = await nodes[0]!.useOf(id);
            assert.ok(use, `no use recorded for ${id}`);
          }
        },
      ),
      { numRuns: 30 },
    );
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
});

test('a node\'s view hears of another node\'s change by NOTIFY, and by polling when LISTEN drops', async () => {
  const opts = await freshDb();
  const a = await ClusterStore.open(opts, 'a');
  const b = await ClusterStore.open(opts, 'b');
  const view = new ClusterView();
  const feed = new ChangeFeed(b, opts, (c) => view.apply(c), 0, { pollMs: 60_000, fallbackPollMs: 200 });
  try {
    await feed.start();
    await eventually(() => feed.listening, 'LISTEN connection up');
    await a.write((tx) => tx.putHold(holdOf(1)));
    // The safety-net poll is a minute away: only the notification can bring this in time.
    await eventually(() => view.knows('https://idp', 'user1'), 'hold seen through NOTIFY', 1000);

    // Drop the LISTEN connection from the server side: the poll fallback keeps the view current.
    const pool = openPool(opts);
    await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`);
    await eventually(() => !feed.listening, 'listener noticed the drop', 2000);
    await a.write((tx) => tx.putHold(holdOf(2)));
    await eventually(() => view.knows('https://idp', 'user2'), 'hold seen after LISTEN dropped', 1000);
    await eventually(() => feed.listening, 'listener reconnected', 3000);
    await a.write((tx) => tx.putHold(holdOf(1, { state: 'denied' })));
    await eventually(() => !view.knows('https://idp', 'user1'), 'denied hold left the view', 1000);
    await pool.end();
  } finally {
    await feed.close();
    await a.close();
    await b.close();
  }
});

test('property: the view answers "which holds and grants apply" as a full scan of the store does', async () => {
  const opts = await freshDb();
  const a = await ClusterStore.open(opts, 'a');
  const b = await ClusterStore.open(opts, 'b');
  const view = new ClusterView();
  const feed = new ChangeFeed(b, opts, (c) => view.apply(c), 0, { pollMs: 60_000 });
  await feed.start();
  let round = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(
          fc.record({ kind: fc.constant('hold' as const), n: fc.nat(20), state: fc.constantFrom('pending', 'approved', 'denied', 'expired'), gone: fc.boolean() }),
          fc.record({ kind: fc.constant('grant' as const), n: fc.nat(20), state: fc.constantFrom('active', 'revoked'), gone: fc.boolean() }),
        ), { minLength: 1, maxLength: 15 }),
        async (ops) => {
          round++;
          await a.write(async (tx) => {
            for (const op of ops) {
              const past = op.gone ? { expires_at_ms: Date.now() - 1 } : {};
              if (op.kind === 'hold') await tx.putHold(holdOf(op.n, { id: `h${round}_${op.n}`, state: op.state as Hold['state'], ...past }));
              else await tx.putGrant(grantOf(op.n, { id: `g${round}_${op.n}`, revoked: op.state === 'revoked' ? { by: { sub: 'bob', iss: 'x', groups: [] }, at_ms: 1 } : null, ...past }));
            }
          });
          await feed.pull();
          const now = Date.now();
          const holds = await b.allHolds();
          const grants = await b.allGrants();
          for (let u = 0; u < 3; u++) {
            for (let p = 0; p < 4; p++) {
              const expect = holds.filter((h) => h.requester.sub === `user${u}` && h.path === `/p/${p}` && (h.state === 'pending' || h.state === 'approved') && h.expires_at_ms > now)
                .map((h) => h.id).sort();
              assert.equal(view.holdsForRequest(requestDigest('https://idp', `user${u}`, 'r', 'get', `/p/${p}`, 'e3b0')).map((h) => h.id).sort(), expect);
            }
            for (const route of ['r', 's']) {
              const expect = grants.filter((g) => g.subject.sub === `user${u}` && g.route === route && g.revoked === null && g.expires_at_ms > now).map((g) => g.id).sort();
              assert.equal(view.grantsForSubject('https://idp', `user${u}`, route).map((g) => g.id).sort(), expect);
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  } finally {
    await feed.close();
    await a.close();
    await b.close();
  }
});

test('a starting node\'s view reads a snapshot of the live holds and grants, not the whole change history; later changes arrive by the feed', async () => {
  const opts = await freshDb();
  const a = await ClusterStore.open(opts, 'a');
  const b = await ClusterStore.open(opts, 'b');
  let replayed = 0;
  const changesSince = b.changesSince.bind(b);
  b.changesSince = async (seq, limit) => {
    const batch = await changesSince(seq, limit);
    replayed += batch.length;
    return batch;
  };
  let backend: ClusterHoldBackend | null = null;
  try {
    // A long-lived cluster: 20,000 changes of holds long decided, then a few that still matter.
    await a.pool.query(`INSERT INTO regate_holds (id, seq, node, subject_key, request_key, state, created_at_ms, expires_at_ms, doc)
      SELECT 'old_' || g, nextval('regate_change_seq'), 'a', 's', 'r', 'denied', 0, 1, '{}'::jsonb FROM generate_series(1, 20000) g`);
    const gone = { expires_at_ms: Date.now() - 1 };
    await a.write(async (tx) => {
      await tx.putHold(holdOf(1));
      await tx.putHold(holdOf(2, { state: 'approved' }));
      await tx.putHold(holdOf(3, gone));
      await tx.putGrant(grantOf(4));
      await tx.putGrant(grantOf(5, { revoked: { by: { sub: 'bob', iss: 'x', groups: [] }, at_ms: 1 } }));
      await tx.putGrant(grantOf(6, gone));
    });
    const top = Number((await a.pool.query<{ n: string }>('SELECT last_value AS n FROM regate_change_seq')).rows[0]!.n);
    backend = await ClusterHoldBackend.open(b, opts, { pollMs: 60_000 });
    assert.equal(backend.startedFrom, { seq: top, rows: 3 });
    assert.is(replayed, 0, 'no change before the snapshot was read again');
    assert.is(backend.feed.seq, top);
    assert.equal(backend.index.size, { holds: 2, grants: 1 });
    assert.equal(backend.index.holdsForRequest(requestDigest('https://idp', 'user2', 'r', 'GET', '/p/2', 'e3b0')).map((h) => h.id), ['hold_2']);
    assert.equal(backend.index.grantsForSubject('https://idp', 'user1', 's').map((g) => g.id), ['grant_4']);
    // A change after the snapshot: by NOTIFY, exactly the one change is read.
    await a.write((tx) => tx.putHold(holdOf(1, { state: 'denied' })));
    await eventually(() => backend!.index.size.holds === 1, 'the denial reaches the view');
    assert.is(replayed, 1);
  } finally {
    await backend?.close();
    await a.close();
    await b.close();
  }
});

test.run();
