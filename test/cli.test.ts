import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from './helpers/cli.js';

test('unknown command exits 2 with a clear message', async () => {
  const r = await runCli(['frobnicate']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /Unknown argument: frobnicate|Unknown command/);
});

test('no command exits 2 and says to name one', async () => {
  const r = await runCli([]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /Name a command/);
});

test('--help lists usage and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /regate <command>/);
});

test.run();
