import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleSignatureError, DEFAULT_BUNDLE, signBundle, watchBundle, type PolicyEngine } from '../../src/policy/index.js';
import { readTarGz, writeTarGz } from '../../src/policy/tar.js';
import { compileBundle, input, tempDir } from './fixtures.js';

const tmp = await tempDir();
test.after(() => tmp.cleanup());

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

const v1 = await signBundle(await readFile(DEFAULT_BUNDLE), { privateKeyPem: priv });
const allowAll = 'package regate\n\ndecision := {"allow": true, "reason": "v2", "mask": {"request": [], "response": []}, "hold": null}\n';
const v2 = await signBundle(await compileBundle(tmp.dir, allowAll), { privateKeyPem: priv });
const tampered = writeTarGz(readTarGz(v2).map((e) => (e.name === 'data.json' ? { name: e.name, bytes: new TextEncoder().encode('{"x": 1}') } : e)));
const probe = input(['support-agents'], 'POST', '/v1/score');

/** Events from the watcher, awaited one at a time (bounded: fails after 5 s). */
function recorder() {
  const events: { kind: 'load' | 'reject'; engine?: PolicyEngine; err?: Error }[] = [];
  let wake: (() => void) | undefined;
  const push = (e: (typeof events)[number]) => {
    events.push(e);
    wake?.();
  };
  return {
    onLoad: (engine: PolicyEngine) => push({ kind: 'load', engine }),
    onReject: (err: Error) => push({ kind: 'reject', err }),
    async next() {
      const deadline = Date.now() + 5000;
      while (events.length === 0) {
        if (Date.now() > deadline) throw new Error('no watcher event within 5 s');
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      return events.shift()!;
    },
    pending: () => events.length,
  };
}

test('file source: a good replacement is swapped in; a tampered one is refused and the last good kept', async () => {
  const path = join(tmp.dir, 'live.tar.gz');
  await writeFile(path, v1);
  const rec = recorder();
  const w = await watchBundle(path, { publicKeyPem, pollSeconds: 1, onLoad: rec.onLoad, onReject: rec.onReject });
  try {
    const first = w.current();
    assert.is(first.evaluate(probe).allow, false);

    await writeFile(join(tmp.dir, 'next.tmp'), v2);
    await rename(join(tmp.dir, 'next.tmp'), path);
    const loaded = await rec.next();
    assert.is(loaded.kind, 'load');
    assert.is(w.current(), loaded.engine);
    assert.is.not(w.current().revision, first.revision);
    assert.is(w.current().evaluate(probe).reason, 'v2');

    const good = w.current();
    await writeFile(join(tmp.dir, 'bad.tmp'), tampered);
    await rename(join(tmp.dir, 'bad.tmp'), path);
    const rejected = await rec.next();
    assert.is(rejected.kind, 'reject');
    assert.instance(rejected.err, BundleSignatureError);
    assert.match(rejected.err!.message, /data\.json does not match the digest/);
    assert.is(w.current(), good, 'the last good bundle keeps serving');
  } finally {
    await w.close();
  }
});

test('http source: polled with ETag (304 keeps the engine), new bundle swapped, tampered and HTTP errors refused', async () => {
  let body: Uint8Array = v1;
  let etag = '"v1"';
  let status = 200;
  const seen: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers['if-none-match'] as string | undefined);
    if (status !== 200) return void res.writeHead(status).end();
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304).end();
    res.writeHead(200, { etag, 'content-type': 'application/gzip' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/pci.tar.gz`;
  const rec = recorder();
  const w = await watchBundle(url, { publicKeyPem, pollSeconds: 0.05, onLoad: rec.onLoad, onReject: rec.onReject });
  try {
    const first = w.current();
    while (seen.length < 3) await new Promise((r) => setTimeout(r, 20));
    assert.is(seen[0], undefined);
    assert.is(seen[1], '"v1"', 'later polls are conditional');
    assert.is(rec.pending(), 0, 'a 304 neither loads nor rejects');
    assert.is(w.current(), first);

    body = v2;
    etag = '"v2"';
    const loaded = await rec.next();
    assert.is(loaded.kind, 'load');
    assert.is(w.current().evaluate(probe).reason, 'v2');

    const good = w.current();
    body = tampered;
    etag = '"v3"';
    assert.is((await rec.next()).kind, 'reject');
    assert.is(w.current(), good);

    status = 500;
    const failed = await rec.next();
    assert.match(failed.err!.message, /answered HTTP 500/);
    assert.is(w.current(), good);
  } finally {
    await w.close();
    await new Promise((r) => server.close(r));
  }
});

test('the initial bundle must be good: a tampered one fails watchBundle itself', async () => {
  const path = join(tmp.dir, 'bad-first.tar.gz');
  await writeFile(path, tampered);
  try {
    await watchBundle(path, { publicKeyPem });
    assert.unreachable('accepted');
  } catch (err) {
    assert.instance(err, BundleSignatureError);
  }
});

test.run();
