/**
 * The dependency rule of docs/architecture.md holds for src/: no import cycle, every import into
 * another folder goes through its index.ts, and every folder imports only folders of a lower
 * layer. The checker itself is tested on small synthetic trees, one fault each, so a green run
 * means the rule holds and not that the checker sees nothing.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkImports, readLayers, type Fault } from './check-imports.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const layers = readLayers(readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8'));

/** Checks a tree written from `files` (path → source) against the layers app 2 > stage 1 > util 0. */
function checkTree(files: Record<string, string>, table: [string, number][] = [['app', 2], ['stage', 1], ['other', 1], ['util', 0]]): Fault[] {
  const root = mkdtempSync(join(tmpdir(), 'regate-imports-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return checkImports(root, new Map(table));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const kinds = (faults: Fault[]) => faults.map((f) => f.kind).sort();

test('src/ has no import cycle, no import around an index.ts and none against the layers', () => {
  const faults = checkImports(join(ROOT, 'src'), layers);
  assert.equal(faults.map((f) => f.message), []);
});

test('the layer table names every folder of src/ and puts contract and util at the bottom', () => {
  const bottom = Math.min(...layers.values());
  assert.is(layers.get('contract'), bottom);
  assert.is(layers.get('util'), bottom);
  assert.ok(layers.get('cli')! > layers.get('app')!);
  assert.ok(layers.get('app')! > layers.get('proxy')!);
  assert.ok(layers.get('proxy')! > layers.get('policy')!);
});

test('checker: a clean tree has no fault (imports downward through index.ts, within a folder freely)', () => {
  const faults = checkTree({
    'app/index.ts': "export { a } from './a.js';",
    'app/a.ts': "import { s } from '../stage/index.js';\nimport type { U } from '../util/index.js';\nexport const a = s;",
    'stage/index.ts': "export { s } from './s.js';",
    'stage/s.ts': "import { u } from '../util/index.js';\nexport const s = u;",
    'util/index.ts': 'export const u = 1;\nexport type U = number;',
  });
  assert.equal(faults, []);
});

test('checker: a cycle of files is found, type-only imports and re-exports included', () => {
  const faults = checkTree({
    'stage/index.ts': "export { a } from './a.js';",
    'stage/a.ts': "import type { B } from './b.js';\nexport const a = 1;",
    'stage/b.ts': "export type { A } from './c.js';\nexport type B = 1;",
    'stage/c.ts': "import { a } from './a.js';\nexport type A = typeof a;",
  });
  assert.equal(kinds(faults), ['cycle']);
  assert.match(faults[0]!.message, 'stage/a.ts <-> stage/b.ts <-> stage/c.ts');
});

test('checker: an import into another folder that skips its index.ts is a bypass', () => {
  const faults = checkTree({
    'app/a.ts': "import { s } from '../stage/s.js';",
    'stage/index.ts': "export { s } from './s.js';",
    'stage/s.ts': 'export const s = 1;',
  });
  assert.equal(kinds(faults), ['bypass']);
  assert.match(faults[0]!.message, 'app/a.ts imports stage/s.ts');
});

test('checker: an upward import and an import within a layer are against the rule', () => {
  const up = checkTree({
    'util/index.ts': "import { s } from '../stage/index.js';\nexport const u = s;",
    'stage/index.ts': 'export const s = 1;',
  });
  assert.equal(kinds(up), ['layer']);
  assert.match(up[0]!.message, 'util (layer 0) may import only lower layers, not stage (layer 1)');
  const sideways = checkTree({
    'stage/index.ts': "export { o } from '../other/index.js';",
    'other/index.ts': 'export const o = 1;',
  });
  assert.equal(kinds(sideways), ['layer']);
});

test('checker: a folder missing from the table is a fault, and a dynamic import counts', () => {
  const faults = checkTree({
    'app/index.ts': "export const load = () => import('../stray/index.js');",
    'stray/index.ts': 'export const x = 1;',
  });
  assert.equal(kinds(faults), ['layer']);
  assert.match(faults[0]!.message, 'folder stray is in no layer');
});

test('readLayers: reads the rows of the "Dependency rule" section only, and refuses a document without one', () => {
  const doc = '# A\n\n## Dependency rule\n\n| layer | folders |\n|---|---|\n| 2 | `app` |\n| 1 | `stage`, `other` |\n\n## Next\n\n| 9 | `x` |\n';
  assert.equal([...readLayers(doc)], [['app', 2], ['stage', 1], ['other', 1]]);
  assert.throws(() => readLayers('# nothing here\n'), /no "## Dependency rule" section/);
});

test.run();
