/**
 * docs/audit-format.md must be enough for an auditor's own code: its §7 program (node:crypto only,
 * no regate code) is extracted and run against a real export, intact and tampered.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportSegments, openStore } from '../../src/audit/index.js';
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
  exportSegments(store, exported);
  await store.env.close();
  const block = /## 7\.[\s\S]*?```js\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, 'docs/audit-format.md §7 holds a js block');
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
});

test.run();
