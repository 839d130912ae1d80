import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { tempDir } from './fixtures.js';

const REGO = fileURLToPath(new URL('../../../rego/', import.meta.url));
const tmp = await tempDir();
test.after(() => tmp.cleanup());

const DECISION = 'decision := {"allow": false, "reason": r, "mask": {"request": [], "response": []}, "hold": null}';

async function policyDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(tmp.dir, name);
  await mkdir(join(dir, 'cases'), { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

test('regate test passes on the committed policy', async () => {
  const r = await runCli(['test']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /coverage: 100\.0 %/);
  assert.match(r.stdout, /decision tables: \d+ cases/);
});

test('a wrong expectation in a decision table fails with a diff naming the case and field', async () => {
  const dir = join(tmp.dir, 'wrong-expectation');
  await cp(REGO, dir, { recursive: true });
  const table = JSON.parse(await readFile(join(dir, 'cases', 'pci.json'), 'utf8')) as { cases: { expect: Record<string, unknown> }[] };
  table.cases[0]!.expect.allow = false;
  await writeFile(join(dir, 'cases', 'pci.json'), JSON.stringify(table));
  const r = await runCli(['test', '--rego', dir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /FAIL .*pci\.json "fraud analyst scores a transaction"/);
  assert.match(r.stderr, /expectation: \$\.allow: expected false, got true/);
});

test('coverage below the floor fails and names the uncovered lines', async () => {
  const dir = await policyDir('low-coverage', {
    'p.rego': `package regate\n\nr := "a" if input.a\n\nr := "b" if input.b\n\nr := "c" if input.c\n\n${DECISION}\n`,
    'p_test.rego': 'package regate_test\n\nimport data.regate\n\ntest_a if regate.r == "a" with input as {"a": true}\n',
    'data.json': '{}',
  });
  const r = await runCli(['test', '--rego', dir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /coverage is [\d.]+ %, below the required 90 %; not covered: .*p\.rego:5/);
});

test('a failing Rego unit test fails regate test with opa\'s report', async () => {
  const dir = await policyDir('failing-unit', {
    'p.rego': `package regate\n\nr := "a"\n\n${DECISION}\n`,
    'p_test.rego': 'package regate_test\n\nimport data.regate\n\ntest_r if regate.r == "b"\n',
    'data.json': '{}',
  });
  const r = await runCli(['test', '--rego', dir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /opa test failed:[\s\S]*test_r/, r.stderr);
});

test('a builtin that behaves differently in the Wasm host than in opa is caught as interpreter vs Wasm', async () => {
  // sprintf's %v of an array: Go prints [1, 2], the host's JavaScript implementation does not.
  const dir = await policyDir('divergent', {
    'p.rego': `package regate\n\nr := sprintf("%v", [input.xs])\n\n${DECISION}\n`,
    'p_test.rego': 'package regate_test\n\nimport data.regate\n\ntest_r if regate.decision.reason == "[1, 2]" with input as {"xs": [1, 2]}\n',
    'data.json': '{}',
  });
  await writeFile(join(dir, 'cases', 't.json'), JSON.stringify({ cases: [{ name: 'array', input: { xs: [1, 2] }, expect: { allow: false } }] }));
  const r = await runCli(['test', '--rego', dir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /interpreter vs Wasm: \$\.reason: expected "\[1, 2\]", got "1,2"/);
});

test.run();
