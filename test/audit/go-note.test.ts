/**
 * regate's checkpoints are standard C2SP signed notes: an independent implementation,
 * golang.org/x/mod/sumdb/note (test/go/checkpoint, built here with the machine's Go toolchain),
 * verifies them with the verifier key `regate audit key` prints, and rejects altered ones.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPairSync } from 'node:crypto';
import { openStore, parseNoteCheckpoint, verifierKey } from '../../src/audit/index.js';
import { runCli } from '../helpers/cli.js';
import { fixture, writeLog, type Fixture } from './helpers.js';

const source = fileURLToPath(new URL('../../../test/go/checkpoint', import.meta.url));
let f: Fixture;
let bin: string;
let note: string;

test.before(async () => {
  f = await fixture();
  await writeLog(f, 25, 10);
  bin = join(f.state, 'checkpoint-go');
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: source, stdio: 'pipe', env: { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false' } });
  const store = openStore(f.dir, { readOnly: true });
  note = store.checkpoints.get(2)!;
  await store.env.close();
});
test.after(() => f.cleanup());

function check(vkey: string, text: string): { code: number | null; out: string } {
  const file = join(f.state, `note-${Math.random()}.txt`);
  writeFileSync(file, text);
  const r = spawnSync(bin, [vkey, file], { encoding: 'utf8' });
  return { code: r.status, out: (r.stdout + r.stderr).trim() };
}

test('Go verifies the checkpoint with the verifier key regate audit key prints', async () => {
  const printed = await runCli(['audit', 'key', '--state', f.state]);
  assert.is(printed.code, 0, printed.stderr);
  const cp = parseNoteCheckpoint(note);
  if (typeof cp === 'string') throw new Error(cp);
  const vkey = verifierKey(cp.origin, f.key.privateKey);
  assert.match(printed.stdout, `verifier key: ${vkey}`);
  const r = check(vkey, note);
  assert.is(r.code, 0, r.out);
  assert.is(r.out, `OK ${cp.origin} 27 ${cp.root.toString('base64')}`);
});

test('Go rejects a checkpoint whose tree size or root was changed, or under another key', () => {
  const cp = parseNoteCheckpoint(note);
  if (typeof cp === 'string') throw new Error(cp);
  const vkey = verifierKey(cp.origin, f.key.privateKey);
  const resized = check(vkey, note.replace('\n27\n', '\n28\n'));
  assert.is(resized.code, 1);
  assert.match(resized.out, 'note: ');
  const other = check(verifierKey(cp.origin, generateKeyPairSync('ed25519').privateKey), note);
  assert.is(other.code, 1);
  assert.match(other.out, 'note: ');
});

test.run();
