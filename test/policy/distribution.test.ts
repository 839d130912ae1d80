/**
 * Bundle distribution as OPA's bundle plugin does it: signing key sets with key ids and scopes,
 * the bundle service's credentials and client TLS (a real HTTPS server with a private CA), the
 * last good bundle persisted and started from when the server is down, precise fetch errors,
 * exponential backoff with jitter, and a regate/<version> user agent.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  BundleFetchError, BundleSignatureError, DEFAULT_BUNDLE, loadBundle, signBundle, watchBundle, type VerificationKey,
} from '../../src/policy/index.js';
import { VERSION } from '../../src/util/version.js';
import { backoffSeconds } from '../../src/util/index.js';
import { tempDir } from './fixtures.js';

const tmp = await tempDir();
test.after(() => tmp.cleanup());

const committed = await readFile(DEFAULT_BUNDLE);
const pair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), pub: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
};
const keysAB = { a: pair(), b: pair(), c: pair() };

test('a bundle signed with --key-id prod --scope write loads with a key set naming prod with that scope', async () => {
  const signed = await signBundle(committed, { privateKeyPem: keysAB.a.priv, keyId: 'prod', scope: 'write' });
  const keys: VerificationKey[] = [{ keyId: 'stage', publicKeyPem: keysAB.b.pub }, { keyId: 'prod', publicKeyPem: keysAB.a.pub, scope: 'write' }];
  const engine = await loadBundle(signed, { keys });
  assert.type(engine.revision, 'string');
  // The old single-key form names the key id and scope too.
  await loadBundle(signed, { publicKeyPem: keysAB.a.pub, keyId: 'prod', scope: 'write' });
  const refusal = async (opts: Parameters<typeof loadBundle>[1], message: RegExp) => {
    try {
      await loadBundle(signed, opts);
      assert.unreachable('loaded');
    } catch (err) {
      assert.instance(err, BundleSignatureError);
      assert.match((err as Error).message, message);
    }
  };
  await refusal({ keys: [{ keyId: 'stage', publicKeyPem: keysAB.a.pub }] }, /key id \("kid"\) is "prod", expected "stage"/);
  await refusal({ keys: [{ keyId: 'stage', publicKeyPem: keysAB.b.pub }, { keyId: 'ci', publicKeyPem: keysAB.a.pub }] }, /is "prod", expected one of "stage", "ci"/);
  await refusal({ keys: [{ keyId: 'prod', publicKeyPem: keysAB.a.pub, scope: 'read' }] }, /"scope" claim "write" does not match the expected scope "read" of key "prod"/);
  await refusal({ keys: [{ keyId: 'prod', publicKeyPem: keysAB.a.pub }] }, /"scope" claim "write" does not match the expected scope ""/);
  await refusal({ keys: [{ keyId: 'prod', publicKeyPem: keysAB.b.pub, scope: 'write' }] }, /does not verify with the public key "prod"/);
});

test('property: a key set verifies a bundle exactly when its kid names the signer\'s own key with the signer\'s scope', async () => {
  const names = ['a', 'b', 'c'] as const;
  const scopes = [undefined, 'write'] as const;
  // Signing is the slow part: one bundle per (signer, kid, scope), made once.
  const signed = new Map<string, Buffer>();
  for (const signer of names) for (const kid of names) for (const scope of scopes) {
    signed.set(`${signer}/${kid}/${scope}`, await signBundle(committed, { privateKeyPem: keysAB[signer].priv, keyId: kid, ...(scope ? { scope } : {}) }));
  }
  const entry = fc.record({ id: fc.constantFrom(...names), key: fc.constantFrom(...names), scope: fc.constantFrom(...scopes) });
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...names), fc.constantFrom(...names), fc.constantFrom(...scopes), fc.uniqueArray(entry, { selector: (e) => e.id, minLength: 1, maxLength: 3 }), async (signer, kid, scope, set) => {
      const keys = set.map((e) => ({ keyId: e.id, publicKeyPem: keysAB[e.key].pub, ...(e.scope ? { scope: e.scope } : {}) }));
      const named = set.find((e) => e.id === kid);
      const expected = named !== undefined && named.key === signer && (named.scope ?? '') === (scope ?? '');
      let ok = true;
      try {
        await loadBundle(signed.get(`${signer}/${kid}/${scope}`)!, { keys });
      } catch (err) {
        if (!(err instanceof BundleSignatureError)) throw err;
        ok = false;
      }
      assert.is(ok, expected, JSON.stringify({ signer, kid, scope, set }));
    }),
    { numRuns: 60 },
  );
});

test('an entrypoint the bundle has no module for is refused, naming what it has', async () => {
  try {
    await loadBundle(committed, { entrypoint: 'payments/allow' });
    assert.unreachable('loaded');
  } catch (err) {
    assert.match((err as Error).message, /names no Wasm module for entrypoint payments\/allow \(it has: regate\/decision\)/);
  }
});

test('property: backoff waits between half and all of min(max, poll * 2^failures), never more than max', () => {
  fc.assert(
    fc.property(fc.double({ min: 0.01, max: 600, noNaN: true }), fc.integer({ min: 0, max: 80 }), fc.integer({ min: 1, max: 3600 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (poll, failures, max, r) => {
      const wait = backoffSeconds(poll, failures, max, () => r);
      if (failures === 0) return assert.is(wait, poll);
      let ceiling = poll;
      for (let i = 0; i < failures && ceiling < max; i++) ceiling *= 2;
      ceiling = Math.min(ceiling, max);
      assert.ok(wait >= ceiling / 2 - 1e-9 && wait <= ceiling + 1e-9, `${wait} outside [${ceiling / 2}, ${ceiling}]`);
    }),
  );
});

/** A bundle server whose answer the test sets; it records each request's headers. */
function bundleServer(make: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server = (h) => createServer(h)) {
  const state = { body: committed as Uint8Array, etag: '"1"', status: 200, requests: [] as IncomingMessage['headers'][] };
  const server = make((req, res) => {
    state.requests.push(req.headers);
    if (state.status !== 200) return void res.writeHead(state.status).end();
    if (req.headers['if-none-match'] === state.etag) return void res.writeHead(304).end();
    res.writeHead(200, { etag: state.etag, 'content-type': 'application/gzip' }).end(state.body);
  });
  return {
    state,
    async listen(port = 0): Promise<number> {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

test('the bearer token is read from its file on every request (rotation), and the user agent is regate/<version>', async () => {
  const srv = bundleServer();
  const port = await srv.listen();
  const tokenFile = join(tmp.dir, 'bundle.token');
  await writeFile(tokenFile, 'first-token\n');
  const w = await watchBundle(`http://127.0.0.1:${port}/b.tar.gz`, { pollSeconds: 0.05, service: { tokenFile } });
  try {
    assert.is(srv.state.requests[0]!.authorization, 'Bearer first-token');
    assert.is(srv.state.requests[0]!['user-agent'], `regate/${VERSION}`);
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
    await writeFile(tokenFile, 'second-token');
    const deadline = Date.now() + 5000;
    while (!srv.state.requests.some((h) => h.authorization === 'Bearer second-token') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(srv.state.requests.some((h) => h.authorization === 'Bearer second-token'), 'the rotated token is sent');
  } finally {
    await w.close();
    await srv.close();
  }
});

test('a refused credential is a precise error (HTTP 401, check the credentials), never echoing the token', async () => {
  const srv = bundleServer();
  srv.state.status = 401;
  const port = await srv.listen();
  const tokenFile = join(tmp.dir, 'secret.token');
  await writeFile(tokenFile, 'super-secret-token-value');
  try {
    await watchBundle(`http://127.0.0.1:${port}/b.tar.gz`, { pollSeconds: 0, service: { tokenFile } });
    assert.unreachable('started');
  } catch (err) {
    assert.instance(err, BundleFetchError);
    assert.match((err as Error).message, /answered HTTP 401; the server refused the credentials \(check policy\.service\.credentials\)/);
    assert.not.match((err as Error).message, /super-secret/);
  } finally {
    await srv.close();
  }
});

test('server down at start: a precise error; with a persisted good bundle the watcher starts from it, then takes the server\'s next bundle', async () => {
  const signedKey = pair();
  const v1 = await signBundle(committed, { privateKeyPem: signedKey.priv });
  const srv = bundleServer();
  srv.state.body = v1;
  const port = await srv.listen();
  const url = `http://127.0.0.1:${port}/b.tar.gz`;
  const persistPath = join(tmp.dir, 'persist', 'last.tar.gz');
  const first = await watchBundle(url, { publicKeyPem: signedKey.pub, pollSeconds: 0, persistPath });
  const revision = first.current().revision;
  await first.close();
  assert.equal(readFileSync(persistPath), Buffer.from(v1), 'the verified bundle is persisted byte for byte');
  await srv.close();

  try {
    await watchBundle(url, { publicKeyPem: signedKey.pub, pollSeconds: 0 });
    assert.unreachable('started without a bundle');
  } catch (err) {
    assert.instance(err, BundleFetchError);
    assert.match((err as Error).message, /cannot fetch bundle from http:\/\/127\.0\.0\.1:\d+\/b\.tar\.gz: connection refused \(ECONNREFUSED\)/);
  }

  const rejects: Error[] = [];
  const w = await watchBundle(url, { publicKeyPem: signedKey.pub, pollSeconds: 0.05, maxBackoffSeconds: 0.2, persistPath, onReject: (e) => rejects.push(e) });
  try {
    assert.is(w.current().revision, revision);
    const s = w.status();
    assert.is(s.origin, 'persisted');
    assert.is(s.lastError?.code, 'ERR_BUNDLE_FETCH');
    assert.match(rejects[0]!.message, /ECONNREFUSED/);

    const v2 = await signBundle(await withRevision('v2'), { privateKeyPem: signedKey.priv });
    srv.state.body = v2;
    srv.state.etag = '"2"';
    await srv.listen(port);
    const deadline = Date.now() + 8000;
    while (w.current().revision !== 'v2' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.is(w.current().revision, 'v2');
    assert.is(w.status().origin, 'source');
    assert.is(w.status().failures, 0);
    assert.equal(readFileSync(persistPath), Buffer.from(v2), 'the new bundle replaces the persisted one');
  } finally {
    await w.close();
    await srv.close();
  }
});

test('a persisted bundle is verified again at start: one that no longer verifies does not start the gateway', async () => {
  const persistPath = join(tmp.dir, 'persist-bad.tar.gz');
  writeFileSync(persistPath, await signBundle(committed, { privateKeyPem: pair().priv }));
  const srv = bundleServer();
  const port = await srv.listen();
  await srv.close();
  try {
    await watchBundle(`http://127.0.0.1:${port}/b.tar.gz`, { publicKeyPem: keysAB.a.pub, pollSeconds: 0, persistPath });
    assert.unreachable('started');
  } catch (err) {
    assert.match((err as Error).message, /ECONNREFUSED.*; the persisted bundle .* was refused too: the bundle signature does not verify/);
  }
});

test('client TLS: a private CA is trusted only when configured; a server requiring a client certificate gets one', async () => {
  const d = join(tmp.dir, 'pki');
  const sh = (args: string[]) => execFileSync('openssl', args, { cwd: tmp.dir, stdio: 'pipe' });
  execFileSync('mkdir', ['-p', d]);
  sh(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(d, 'ca.key'), '-out', join(d, 'ca.pem'), '-days', '1', '-subj', '/CN=test-ca']);
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    sh(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(d, `${name}.key`), '-out', join(d, `${name}.csr`), '-subj', `/CN=${name}`]);
    writeFileSync(join(d, `${name}.ext`), `${ext}\n`);
    sh(['x509', '-req', '-in', join(d, `${name}.csr`), '-CA', join(d, 'ca.pem'), '-CAkey', join(d, 'ca.key'), '-CAcreateserial', '-out', join(d, `${name}.pem`), '-days', '1', '-extfile', join(d, `${name}.ext`)]);
  }
  const srv = bundleServer((h) => createTlsServer({ key: readFileSync(join(d, 'server.key')), cert: readFileSync(join(d, 'server.pem')), ca: readFileSync(join(d, 'ca.pem')), requestCert: true, rejectUnauthorized: true }, h));
  const port = await srv.listen();
  const url = `https://127.0.0.1:${port}/b.tar.gz`;
  try {
    for (const [service, message] of [
      [{}, /TLS: the server's certificate is not trusted \(\w+\); set policy\.service\.tls\.ca_file/],
      [{ tls: { caFile: join(d, 'ca.pem') } }, /cannot fetch bundle from https:.*: the server closed the connection \((UND_ERR_SOCKET|ECONNRESET)\); if the server requires a client certificate, set policy\.service\.tls\.cert_file and key_file/],
    ] as const) {
      try {
        await watchBundle(url, { pollSeconds: 0, service });
        assert.unreachable('fetched');
      } catch (err) {
        assert.instance(err, BundleFetchError);
        assert.match((err as Error).message, message);
      }
    }
    const w = await watchBundle(url, { pollSeconds: 0, service: { tls: { caFile: join(d, 'ca.pem'), certFile: join(d, 'client.pem'), keyFile: join(d, 'client.key') } } });
    assert.type(w.current().revision, 'string');
    await w.close();
  } finally {
    await srv.close();
  }
});

/** The committed bundle with its manifest's revision set to `revision` (unsigned). */
async function withRevision(revision: string): Promise<Uint8Array> {
  const { readTarGz, writeTarGz } = await import('../../src/policy/tar.js');
  return writeTarGz(readTarGz(committed).map((e) => (e.name === '.manifest' ? { name: e.name, bytes: new TextEncoder().encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(e.bytes)), revision })) } : e)));
}

const LONG_POLL_TYPE = 'application/vnd.openpolicyagent.bundles';

/**
 * A bundle server speaking OPA's long-polling protocol (or, with `supports` false, one that ignores
 * it): a request whose If-None-Match is the current ETag and that carries `Prefer: wait=N` is held
 * until a new bundle is published or N seconds pass.
 */
function longPollServer(supports: boolean) {
  const state = { body: committed as Uint8Array, etag: '"1"', requests: [] as IncomingMessage['headers'][], held: [] as (() => void)[] };
  const server = createServer((req, res) => {
    state.requests.push(req.headers);
    const type = supports ? LONG_POLL_TYPE : 'application/gzip';
    const answer = () => {
      if (req.headers['if-none-match'] === state.etag) res.writeHead(304, { 'content-type': type }).end();
      else res.writeHead(200, { etag: state.etag, 'content-type': type }).end(state.body);
    };
    const wait = /^wait=(\d+)$/.exec(String(req.headers.prefer ?? ''));
    if (!supports || !wait || req.headers['if-none-match'] !== state.etag) return answer();
    const release = () => {
      clearTimeout(timer);
      state.held = state.held.filter((r) => r !== release);
      answer();
    };
    const timer = setTimeout(release, Number(wait[1]) * 1000).unref();
    state.held.push(release);
  });
  return {
    state,
    publish(body: Uint8Array, etag: string) {
      Object.assign(state, { body, etag });
      for (const release of [...state.held]) release();
    },
    async listen(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/b.tar.gz`;
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('long polling: the poll is held by the server and a new bundle arrives through it, though poll_seconds is an hour; the next poll follows at once', async () => {
  const srv = longPollServer(true);
  const url = await srv.listen();
  const w = await watchBundle(url, { pollSeconds: 3600, longPollingSeconds: 30 });
  try {
    assert.is(w.current().revision, (await loadBundle(committed)).revision);
    // pollSeconds is an hour: a second request now can only be the long poll that follows the first answer at once.
    await until('a poll held by the server', () => srv.state.held.length === 1);
    const held = srv.state.requests.at(-1)!;
    assert.equal([held['if-none-match'], held.prefer], ['"1"', 'wait=30']);
    assert.is(w.status().longPolling, true);
    srv.publish(await withRevision('v2'), '"2"');
    await until('the published bundle is current', () => w.current().revision === 'v2');
    await until('the next poll, held again, for the new ETag', () => srv.state.held.length === 1 && srv.state.requests.at(-1)!['if-none-match'] === '"2"');
  } finally {
    // Closing while a poll is held aborts it rather than waiting up to 30 s for the server.
    await w.close();
    assert.is(srv.state.held.length, 1, 'the held poll was still open when the watcher closed');
    await srv.close();
  }
});

test('long polling asked of a server that does not do it: plain answers, no long-polling claimed, ordinary polling picks up a new bundle', async () => {
  const srv = longPollServer(false);
  const url = await srv.listen();
  const w = await watchBundle(url, { pollSeconds: 0.05, longPollingSeconds: 30 });
  try {
    await until('a conditional poll', () => srv.state.requests.some((h) => h['if-none-match'] === '"1"'));
    assert.is(srv.state.requests.at(-1)!.prefer, 'wait=30');
    assert.is(w.status().longPolling, false);
    srv.publish(await withRevision('v3'), '"3"');
    await until('the published bundle is current', () => w.current().revision === 'v3');
    assert.is(w.status().longPolling, false);
  } finally {
    await w.close();
    await srv.close();
  }
});

test.run();
