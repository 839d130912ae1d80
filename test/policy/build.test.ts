import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { DEFAULT_CAPABILITIES } from '../../src/policy/paths.js';
import { HOST_BUILTINS } from '../../src/policy/host.js';
import { tempDir } from './fixtures.js';

const tmp = await tempDir();
test.after(() => tmp.cleanup());

async function buildSource(name: string, rego: string) {
  const src = join(tmp.dir, name);
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'policy.rego'), rego);
  await writeFile(join(src, 'data.json'), '{}');
  return runCli(['build', '--rego', src, '--out', join(src, 'b.tar.gz'), '--wasm', join(src, 'p.wasm')]);
}

for (const builtin of ['http.send', 'yaml.marshal', 'time.now_ns', 'crypto.sha256']) {
  test(`a policy calling ${builtin} (not native, not provided by the host) fails at build time naming it`, async () => {
    const args = builtin === 'time.now_ns' ? '' : builtin === 'http.send' ? '{"method": "GET", "url": "http://x"}' : '"x"';
    const r = await buildSource(builtin, `package regate\n\nx := ${builtin}(${args})\n\ndecision := {"allow": false, "reason": x, "mask": {"request": [], "response": []}, "hold": null}\n`);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, `undefined function ${builtin}`);
  });
}

test('native builtins and the host builtins compile', async () => {
  const r = await buildSource('ok', 'package regate\n\nx := sprintf("%s-%d", [lower("A"), count([1])]) if regex.match("^a", "ab")\n\ndecision := {"allow": false, "reason": x, "mask": {"request": [], "response": []}, "hold": null}\n');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /revision sha256:/);
});

test('the capabilities file lists operators, native builtins and the host builtins only', async () => {
  const caps = JSON.parse(await readFile(DEFAULT_CAPABILITIES, 'utf8')) as { builtins: { name: string }[] };
  const names = new Set(caps.builtins.map((b) => b.name));
  for (const n of ['eq', 'internal.member_2', 'concat', 'regex.match', 'to_number', ...HOST_BUILTINS]) assert.ok(names.has(n), n);
  for (const n of ['http.send', 'time.now_ns', 'opa.runtime', 'print', 'net.lookup_ip_addr', 'io.jwt.decode']) assert.not.ok(names.has(n), n);
});

test('build --check passes on the committed build', async () => {
  const r = await runCli(['build', '--check']);
  assert.is(r.code, 0, r.stderr);
});

test('build --check fails with exit 1 naming the module and data when the source changed', async () => {
  const src = join(tmp.dir, 'changed');
  await mkdir(src, { recursive: true });
  const data = JSON.parse(await readFile(new URL('../../../rego/data.json', import.meta.url), 'utf8')) as { pci: { bulk: { max_limit: number } } };
  data.pci.bulk.max_limit = 7;
  await writeFile(join(src, 'data.json'), JSON.stringify(data));
  await writeFile(join(src, 'regate.rego'), await readFile(new URL('../../../rego/regate.rego', import.meta.url), 'utf8'));
  const r = await runCli(['build', '--check', '--rego', src]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /data\.json differs/);
  assert.match(r.stderr, /\.manifest differs/);
});

test('build --help shows examples', async () => {
  const r = await runCli(['build', '--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /build --check/);
});

test.run();
