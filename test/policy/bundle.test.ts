import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BundleError, BundleTooLarge, DEFAULT_BUNDLE, loadBundle } from '../../src/policy/index.js';
import { DEFAULT_TAR_LIMITS, readTarGz, writeTarGz } from '../../src/policy/tar.js';
import { hasCode } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { input, tempDir } from './fixtures.js';

const tmp = await tempDir();
test.after(() => tmp.cleanup());

async function rejects(p: Promise<unknown>, cls: typeof BundleError, pattern: RegExp) {
  try {
    await p;
    assert.unreachable('accepted');
  } catch (err) {
    assert.instance(err, cls);
    assert.match((err as Error).message, pattern);
  }
}

const small = { ...DEFAULT_TAR_LIMITS, maxCompressedBytes: 256 * 1024, maxUncompressedBytes: 1024 * 1024, maxFileBytes: 512 * 1024 };

test('not gzip, not tar, truncated: each a clear BundleError', async () => {
  await rejects(loadBundle(new TextEncoder().encode('hello')), BundleError, /not a gzip file/);
  await rejects(loadBundle(gzipSync(Buffer.alloc(1024, 7))), BundleError, /tar header (at byte 0 fails its checksum|has a malformed)/);
  const tar = (await import('node:zlib')).gunzipSync(await readFile(DEFAULT_BUNDLE));
  await rejects(loadBundle(gzipSync(tar.subarray(0, 2048))), BundleError, /truncated/);
});

test('a gzip bomb stops at the unpacked-size limit', async () => {
  await rejects(loadBundle(gzipSync(Buffer.alloc(5 * 1024 * 1024)), { limits: small }), BundleTooLarge, /unpacks to more than 1048576 bytes/);
});

test('a file over the per-file limit, and a bundle file over the compressed limit, are refused before reading', async () => {
  const big = writeTarGz([{ name: 'data.json', bytes: new Uint8Array(600 * 1024) }]);
  await rejects(loadBundle(big, { limits: small }), BundleTooLarge, /data\.json is 614400 bytes, over the 524288-byte limit/);
  const path = join(tmp.dir, 'huge.tar.gz');
  await writeFile(path, Buffer.alloc(300 * 1024));
  await rejects(loadBundle(path, { limits: small }), BundleTooLarge, /huge\.tar\.gz is 307200 bytes, over the 262144-byte limit/);
});

test('entries that climb out of the bundle, or repeat, are refused', async () => {
  const src = join(tmp.dir, 'evil');
  await mkdir(join(src, 'a'), { recursive: true });
  await writeFile(join(src, 'a', 'x'), 'x');
  const evil = execFileSync('tar', ['-cz', '-C', join(src, 'a'), '--transform', 's,^,../,', 'x']);
  await rejects(loadBundle(evil), BundleError, /climbs out of the bundle/);
  const twice = writeTarGz([{ name: 'a', bytes: new Uint8Array(1) }, { name: '/a', bytes: new Uint8Array(1) }]);
  await rejects(loadBundle(twice), BundleError, /contains a twice/);
});

test('manifest faults name .manifest; missing module names it', async () => {
  const entries = readTarGz(await readFile(DEFAULT_BUNDLE));
  const without = (name: string) => entries.filter((e) => e.name !== name);
  const replace = (name: string, text: string) => [...without(name), { name, bytes: new TextEncoder().encode(text) }];
  await rejects(loadBundle(writeTarGz(without('.manifest'))), BundleError, /no \.manifest/);
  await rejects(loadBundle(writeTarGz(replace('.manifest', '{"wasm": [{"entrypoint": "x/y", "module": "/policy.wasm"}]}'))), BundleError, /names no Wasm module for entrypoint regate\/decision \(it has: x\/y\)/);
  await rejects(loadBundle(writeTarGz(without('policy.wasm'))), BundleError, /does not contain/);
  await rejects(loadBundle(writeTarGz(replace('policy.wasm', 'not wasm'))), BundleError, /not a valid WebAssembly module/);
  await rejects(loadBundle(writeTarGz(replace('data.json', '{"a": '))), BundleError, /data\.json is not valid JSON/);
});

test('a PAX long-name archive written by GNU tar reads back', async () => {
  const dir = join(tmp.dir, 'pax');
  const long = `${'d'.repeat(120)}/data.json`;
  await mkdir(join(dir, 'd'.repeat(120)), { recursive: true });
  await writeFile(join(dir, long), '{"k": 1}');
  const gz = execFileSync('tar', ['--format=pax', '-cz', '-C', dir, long]);
  const [entry] = readTarGz(gz);
  assert.is(entry?.name, long);
  assert.is(new TextDecoder().decode(entry?.bytes), '{"k": 1}');
});

test('property: writeTarGz then readTarGz returns the same files', () => {
  const name = fc.stringMatching(/^[a-z0-9_.-]{1,20}(\/[a-z0-9_.-]{1,20}){0,2}$/).filter((n) => !n.split('/').some((p) => p === '.' || p === '..'));
  fc.assert(
    fc.property(fc.uniqueArray(fc.record({ name, bytes: fc.uint8Array({ maxLength: 1500 }) }), { selector: (e) => e.name, maxLength: 6 }), (files) => {
      const back = readTarGz(writeTarGz(files));
      assert.equal(back.map((e) => [e.name, Buffer.from(e.bytes).toString('hex')]), files.map((e) => [e.name, Buffer.from(e.bytes).toString('hex')]));
    }),
    { numRuns: 100 },
  );
});

test('regate policy eval prints the decision for an input file and for stdin', async () => {
  const file = join(tmp.dir, 'in.json');
  await writeFile(file, JSON.stringify(input(['fraud-analysts'], 'POST', '/v1/score')));
  const r = await runCli(['policy', 'eval', '--input', file]);
  assert.is(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout) as { allow: boolean; mask: { response: unknown[] } };
  assert.is(d.allow, true);
  assert.ok(d.mask.response.length > 0);
  const s = await runCli(['policy', 'eval', '--bundle', DEFAULT_BUNDLE, '--input', '-'], { input: JSON.stringify(input([], 'GET', '/v1/x')) });
  assert.is(s.code, 0, s.stderr);
  assert.is((JSON.parse(s.stdout) as { allow: boolean }).allow, false);
});

test('regate policy eval: bad input JSON exits 2; an unsigned bundle with --key exits 1', async () => {
  const bad = await runCli(['policy', 'eval', '--input', '-'], { input: '{nope' });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /not valid JSON/);
  const { generateKeyPairSync } = await import('node:crypto');
  const pub = join(tmp.dir, 'k.pub');
  await writeFile(pub, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
  const unsigned = await runCli(['policy', 'eval', '--key', pub, '--input', '-'], { input: '{}' });
  assert.is(unsigned.code, 1);
  assert.match(unsigned.stderr, /not signed/);
  assert.ok(hasCode(new BundleTooLarge('x'), 'ERR_BUNDLE_TOO_LARGE'));
});

test.run();
