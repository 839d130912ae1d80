import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_BUNDLE, loadBundle, openBundle, signBundle, BundleSignatureError } from '../../src/policy/index.js';
import { hashBundleFile } from '../../src/policy/filehash.js';
import { readTarGz, writeTarGz, type TarEntry } from '../../src/policy/tar.js';
import { runOpa } from '../../src/policy-build/index.js';
import { hasCode } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { input, tempDir } from './fixtures.js';

const tmp = await tempDir();
test.after(() => tmp.cleanup());

function pemPair(type: 'ec' | 'rsa' | 'ed25519') {
  const { privateKey, publicKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return {
    priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

const ec = pemPair('ec');
const rsa = pemPair('rsa');
const other = pemPair('ec');

async function file(name: string, text: string): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, text);
  return path;
}

const committed = await readFile(DEFAULT_BUNDLE);
const signedEc = await signBundle(committed, { privateKeyPem: ec.priv });

async function expectRejected(bundle: Uint8Array, pub: string, pattern: RegExp, opts: { keyId?: string; scope?: string } = {}) {
  try {
    await openBundle(bundle, { publicKeyPem: pub, ...opts });
    assert.unreachable('bundle was accepted');
  } catch (err) {
    assert.instance(err, BundleSignatureError);
    assert.ok(hasCode(err, 'ERR_BUNDLE_SIGNATURE'));
    assert.match((err as Error).message, pattern);
  }
}

function edit(bundle: Uint8Array, change: (entries: TarEntry[]) => TarEntry[]): Buffer {
  return writeTarGz(change(readTarGz(bundle)));
}

for (const [alg, keys] of [['ES256', ec], ['RS256', rsa]] as const) {
  test(`a bundle regate signs (${alg}) is accepted by opa's own verification, and opa rejects it with another key`, async () => {
    const signed = await signBundle(committed, { privateKeyPem: keys.priv });
    const path = await file(`regate-${alg}.tar.gz`, '');
    await writeFile(path, signed);
    const ok = await runOpa(['build', '-b', '--verification-key', await file(`${alg}.pub`, keys.pub), '--signing-alg', alg, path, '-o', join(tmp.dir, `rt-${alg}.tar.gz`)], { check: false });
    assert.is(ok.code, 0, ok.stderr);
    if (alg === 'ES256') {
      const bad = await runOpa(['build', '-b', '--verification-key', await file('other.pub', other.pub), '--signing-alg', alg, path, '-o', join(tmp.dir, 'rt-bad.tar.gz')], { check: false });
      assert.is(bad.code, 1);
      assert.match(bad.stdout + bad.stderr, /failed to verify JWT signature/);
    }
  });
}

test('a bundle opa build --signing-key signs is accepted by regate (tricky data: HTML characters, unicode, number literals)', async () => {
  const src = join(tmp.dir, 'opa-src');
  await mkdir(src);
  await writeFile(join(src, 'regate.rego'), await readFile(new URL('../../../rego/regate.rego', import.meta.url), 'utf8'));
  const data = JSON.parse(await readFile(new URL('../../../rego/data.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  await writeFile(join(src, 'data.json'), JSON.stringify(data).replace(/}$/, ',"extra":{"html":"<a&b>","uni":"é😀\\u2028","n":1.50,"e":1e3,"z":[0,-0.0]}}'));
  const out = join(tmp.dir, 'opa-signed.tar.gz');
  await runOpa(['build', '-b', '-t', 'wasm', '-e', 'regate/decision', '--signing-key', await file('rsa.key', rsa.priv), '-o', out, src]);
  const engine = await loadBundle(out, { publicKeyPem: rsa.pub });
  assert.is(engine.evaluate(input(['fraud-analysts'], 'POST', '/v1/score')).allow, true);
  const cli = await runCli(['bundle', 'verify', out, '--key', await file('rsa.pub', rsa.pub)]);
  assert.is(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /signature valid/);
});

test('Ed25519 keys sign and verify', async () => {
  const ed = pemPair('ed25519');
  const signed = await signBundle(committed, { privateKeyPem: ed.priv });
  const engine = await loadBundle(signed, { publicKeyPem: ed.pub });
  assert.ok(engine.revision);
});

for (const name of ['data.json', 'policy.wasm', '.manifest']) {
  test(`tampering: ${name} changed after signing is rejected naming it`, async () => {
    const tampered = edit(signedEc, (es) =>
      es.map((e) => {
        if (e.name !== name) return e;
        if (name === 'policy.wasm') {
          const b = Uint8Array.from(e.bytes);
          b[b.length - 1] = b[b.length - 1]! ^ 1;
          return { name, bytes: b };
        }
        const doc = JSON.parse(new TextDecoder().decode(e.bytes)) as Record<string, unknown>;
        return { name, bytes: new TextEncoder().encode(JSON.stringify({ ...doc, tampered: true })) };
      }),
    );
    await expectRejected(tampered, ec.pub, new RegExp(`file ${name.replace('.', '\\.')} does not match the digest`));
  });

  test(`tampering: ${name} dropped is rejected naming it`, async () => {
    await expectRejected(edit(signedEc, (es) => es.filter((e) => e.name !== name)), ec.pub, new RegExp(`${name.replace('.', '\\.')}`));
  });
}

test('tampering: a file added after signing is rejected naming it', async () => {
  const added = edit(signedEc, (es) => [...es, { name: 'extra/policy.rego', bytes: new TextEncoder().encode('package x\n') }]);
  await expectRejected(added, ec.pub, /file extra\/policy\.rego is in the bundle but not covered by its signature/);
});

test('tampering: a signature by another key is rejected', async () => {
  await expectRejected(await signBundle(committed, { privateKeyPem: other.priv }), ec.pub, /does not verify with the public key "default"/);
});

test('tampering: the signature stripped is rejected as unsigned', async () => {
  await expectRejected(edit(signedEc, (es) => es.filter((e) => e.name !== '.signatures.json')), ec.pub, /not signed: \.signatures\.json is missing/);
});

test('key id and scope claims are checked', async () => {
  await expectRejected(signedEc, ec.pub, /key id \("kid"\) is "default", expected "prod"/, { keyId: 'prod' });
  const scoped = await signBundle(committed, { privateKeyPem: ec.priv, scope: 'write' });
  await expectRejected(scoped, ec.pub, /"scope" claim "write" does not match the expected scope ""/);
  assert.ok(await openBundle(scoped, { publicKeyPem: ec.pub, scope: 'write' }));
});

test('whitespace and key order in data.json do not change its digest (canonical hashing)', async () => {
  const reformatted = edit(signedEc, (es) =>
    es.map((e) => (e.name === 'data.json' ? { name: e.name, bytes: new TextEncoder().encode(JSON.stringify(JSON.parse(new TextDecoder().decode(e.bytes)), null, 4)) } : e)),
  );
  assert.ok(await openBundle(reformatted, { publicKeyPem: ec.pub }));
});

test('property: the structured digest ignores formatting and key order but not values', () => {
  const shuffle = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(shuffle) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, shuffle(x)])) : v;
  const enc = (s: string) => new TextEncoder().encode(s);
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (doc) => {
      const a = hashBundleFile('data.json', enc(JSON.stringify(doc)));
      assert.is(hashBundleFile('data.json', enc(JSON.stringify(shuffle(doc), null, 2))), a);
      assert.is.not(hashBundleFile('data.json', enc(JSON.stringify({ ...doc, ['\u0000changed']: 1 }))), a);
    }),
    { numRuns: 200 },
  );
});

test('a data.json nested deeper than the stack allows is a BundleError, not a crash', () => {
  const deep = new TextEncoder().encode('['.repeat(200_000) + ']'.repeat(200_000));
  assert.throws(() => hashBundleFile('data.json', deep), (err: unknown) => hasCode(err, 'ERR_BUNDLE') && /nests JSON too deeply/.test((err as Error).message));
});

test('regate bundle verify: exit 0 when valid, exit 1 with a sentence naming the fault', async () => {
  const good = await file('good.tar.gz', '');
  await writeFile(good, signedEc);
  const pub = await file('ec.pub', ec.pub);
  const ok = await runCli(['bundle', 'verify', good, '--key', pub]);
  assert.is(ok.code, 0, ok.stderr);
  const bad = await file('bad.tar.gz', '');
  await writeFile(bad, edit(signedEc, (es) => es.filter((e) => e.name !== 'policy.wasm')));
  const r = await runCli(['bundle', 'verify', bad, '--key', pub]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /file policy\.wasm is listed in the signature but missing from the bundle/);
});

test('regate bundle sign then verify round-trips through the CLI', async () => {
  const out = join(tmp.dir, 'cli-signed.tar.gz');
  const s = await runCli(['bundle', 'sign', DEFAULT_BUNDLE, '--key', await file('ec.key', ec.priv), '--out', out]);
  assert.is(s.code, 0, s.stderr);
  const v = await runCli(['bundle', 'verify', out, '--key', await file('ec2.pub', ec.pub)]);
  assert.is(v.code, 0, v.stderr);
});

test.run();
