import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliPath } from '../helpers/cli.js';

const state = mkdtempSync(join(tmpdir(), 'regate-demo-'));
const child = spawn(process.execPath, [cliPath, 'demo', '--port', '0', '--admin-port', '0', '--upstream-port', '0', '--state', state], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
let banner = '';
let logs = '';
child.stderr!.setEncoding('utf8').on('data', (d: string) => (logs += d));

test.before(async () => {
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      banner += d;
      if ((banner.match(/^curl /gm) ?? []).length === 6) resolve();
    });
    child.once('exit', (code) => reject(new Error(`regate demo exited ${code}`)));
  });
});
test.after(async () => {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  rmSync(state, { recursive: true, force: true });
});

/** Runs the banner's curl command for `sub` (the n-th one of theirs) exactly as a user would paste it. */
function paste(sub: string, n = 0): Promise<string> {
  const lines = banner.split('\n');
  const cmds = lines.flatMap((l, i) => (l.startsWith(`# ${sub} `) ? [lines[i + 1]!] : []));
  const cmd = cmds[n];
  if (!cmd) throw new Error(`no command for ${sub} in:\n${banner}`);
  return new Promise((resolve, reject) => execFile('sh', ['-c', cmd], (err, stdout) => (err ? reject(err) : resolve(stdout))));
}

test('the demo prints the ready line and a command per role', () => {
  assert.match(banner, /^regate ready http:\/\/127\.0\.0\.1:\d+\n/);
  for (const who of ['alice (fraud-analysts)', 'paula (pci-admins)', 'sam (support-agents)', 'mo (ml-admins)', 'eve (marketing)']) {
    assert.ok(banner.includes(`# ${who}`), who);
  }
});

test('the demo runs the secure path: its bundle is signed with a key it made and verified on load', () => {
  const loaded = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.msg === 'policy bundle loaded');
  assert.ok(loaded, logs);
  assert.is(loaded.source, join(state, 'pci.tar.gz'));
  assert.is(loaded.verification, `signature verified with ${join(state, 'bundle-signing.pub.pem')}`);
  assert.is(statSync(join(state, 'bundle-signing.key.pem')).mode & 0o777, 0o600);
});

test('pasted: the analyst scores with the PAN masked, the admin sees first six, the model admin loads', async () => {
  const score = JSON.parse(await paste('alice'));
  assert.match(score.card.pan, /^\*{12}\d{4}$/);
  assert.is(score.card.cvv, '****');
  const rows = JSON.parse(await paste('paula')).data as { pan: string }[];
  for (const r of rows) assert.match(r.pan, /^\d{6}\*{6}\d{4}$/);
  assert.equal(JSON.parse(await paste('mo')), { id: 'fraud-v4', object: 'model', status: 'loaded' });
});

test('pasted: the chat stream is masked; the marketing user is denied with a reason', async () => {
  const sse = await paste('sam');
  const content = sse
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => JSON.parse(l.slice(6)).choices[0].delta.content ?? '')
    .join('');
  assert.is(content, 'The card on file is **** **** **** 6467, expiring 09/28.');
  const denied = JSON.parse(await paste('eve'));
  assert.is(denied.error, 'forbidden');
  assert.match(denied.message, /requires one of: fraud-analysts, pci-admins/);
});

test.run();
