/**
 * ClientGone, the per-request "the client went away" signal (src/proxy/client-gone.ts): a real
 * undici request given it as its signal is aborted when it fires, and the AbortSignal it makes for
 * the steps that need one aborts with it, whether made before or after.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Pool } from 'undici';
import { ClientGone } from '../../src/proxy/client-gone.js';
import { UpstreamDouble } from './harness.js';

test('an undici request with ClientGone as its signal is aborted when the client goes, and the upstream sees it abandoned', async () => {
  const upstream = await new UpstreamDouble().start();
  const pool = new Pool(upstream.url);
  try {
    let reached!: () => void;
    const atUpstream = new Promise<void>((r) => (reached = r));
    upstream.handlers.set('/slow', (_req, res) => {
      reached();
      setTimeout(() => res.end('late'), 5000).unref();
    });
    const gone = new ClientGone();
    const call = pool.request({ method: 'GET', path: '/slow', signal: gone });
    call.catch(() => undefined);
    await atUpstream;
    gone.abort();
    gone.abort(); // a second close changes nothing
    const err = await call.then(() => null, (e: unknown) => e as { code?: string });
    assert.ok(err, 'the request was aborted');
    assert.is(err!.code, 'UND_ERR_ABORTED');
    for (let i = 0; i < 200 && !upstream.abandoned.includes('/slow'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(upstream.abandoned, ['/slow']);
    assert.is(gone.listenerCount('abort'), 0, 'undici let go of its listener');
  } finally {
    await pool.destroy();
    await upstream.stop();
  }
});

test('a request started after the client went is not sent at all', async () => {
  const upstream = await new UpstreamDouble().start();
  const pool = new Pool(upstream.url);
  try {
    const gone = new ClientGone();
    gone.abort();
    await pool.request({ method: 'GET', path: '/x', signal: gone }).then(() => assert.unreachable('sent'), (e: { code?: string }) => assert.is(e.code, 'UND_ERR_ABORTED'));
    assert.is(upstream.seen.length, 0);
  } finally {
    await pool.destroy();
    await upstream.stop();
  }
});

test('its AbortSignal aborts with it: made before, or made after it fired', () => {
  const before = new ClientGone();
  const early = before.signal;
  assert.is(early.aborted, false);
  assert.is(before.signal, early, 'one signal per request');
  let told = 0;
  early.addEventListener('abort', () => told++);
  before.abort();
  assert.is(early.aborted, true);
  assert.is(told, 1);
  const after = new ClientGone();
  after.abort();
  assert.is(after.aborted, true);
  assert.is(after.signal.aborted, true);
});

test.run();
