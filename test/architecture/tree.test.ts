/**
 * What the repository tracks: never what is installed or built. A helper's worktree links
 * node_modules to the main checkout's; committed by mistake, that link replaced the main checkout's
 * installed folder when it landed (twice), breaking every worktree at once. test/architecture runs
 * before every landing, so the mistake is caught here, not on main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('git tracks nothing under node_modules, dist or .regate (run `git rm --cached node_modules` if this fails)', () => {
  const tracked = execFileSync('git', ['ls-files', '--', 'node_modules', 'dist', '.regate'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.equal(tracked, []);
});

test.run();
