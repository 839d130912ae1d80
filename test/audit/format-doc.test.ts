/**
 * docs/audit-format.md must be enough for an auditor's own code: its §9 program (node:crypto only,
 * no regate code) is extracted and run against a real export, intact and tampered.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportSegments, openStore, readTrustedKeys } from '../../src/audit/index.js';
import { fixture, writeLog, type Fixture } from './helpers.js';

const doc = readFileSync(fileURLToPath(new URL('../../../docs/audit-format.md', import.meta.url)), 'utf8');
let f: Fixture;
let check: string;
let exported: string;

test.before(async () => {
  f = await fixture();
  await writeLog(f, 45, 10);
  exported = join(f.state, 'export');
  const store = openStore(f.dir, { readOnly: true });
  await exportSegments(store, exported, await readTrustedKeys([f.pub]));
  await store.env.close();
  const block = /## 9\.[\s\S]*?```js\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, 'docs/audit-format.md §9 holds a js block');
  check = join(f.state, 'check.mjs');
  writeFileSync(check, block![1]!);
});
test.after(() => f.cleanup());

const run = (dir: string) => spawnSync(process.execPath, [check, dir, f.pub], { encoding: 'utf8' });

test('the documented check accepts a real export', () => {
  const r = run(exported);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^OK: 5 segments, \d+ records$/m);
});

test('the documented check rejects a changed record and a dropped segment', () => {
  const changed = join(f.state, 'changed');
  cpSync(exported, changed, { recursive: true });
  const file = join(changed, 'segment-000001.jsonl');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"status":200', '"status":201'));
  const r = run(changed);
  assert.is(r.status, 1);
  assert.match(r.stderr, /^FAIL: (record \d+ changed|segment 1: Merkle root differs)$/m);
  const dropped = join(f.state, 'dropped');
  cpSync(exported, dropped, { recursive: true });
  for (const kind of ['jsonl', 'checkpoint.json']) rmSync(join(dropped, `segment-000002.${kind}`));
  const d = run(dropped);
  assert.is(d.status, 1);
  assert.match(d.stderr, /^FAIL: segment 2 missing$/m);
  const first = join(f.state, 'dropped-first');
  cpSync(exported, first, { recursive: true });
  for (const kind of ['jsonl', 'checkpoint.json']) rmSync(join(first, `segment-000000.${kind}`));
  assert.match(run(first).stderr, /^FAIL: segment 0 missing$/m);
});

test('the documented check reads a last line without its newline, and a partial export from its base', async () => {
  const bare = join(f.state, 'no-final-newline');
  cpSync(exported, bare, { recursive: true });
  const file = join(bare, 'segment-000004.jsonl');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\n$/, ''));
  const r = run(bare);
  assert.is(r.status, 0, r.stderr);
  const partial = join(f.state, 'partial');
  const store = openStore(f.dir, { readOnly: true });
  await exportSegments(store, partial, await readTrustedKeys([f.pub]), { from: 25 });
  await store.env.close();
  const p = run(partial);
  assert.is(p.status, 0, p.stderr);
  assert.match(p.stdout, /^OK: 3 segments, \d+ records$/m);
});

test.run();
