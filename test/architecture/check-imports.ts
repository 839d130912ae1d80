/**
 * The import checker behind test/architecture/imports.test.ts: reads every `.ts` file under a
 * source root, builds the file-level import graph (type-only imports and `export … from`
 * included, as the reader sees them) and reports three kinds of fault:
 *
 * - `cycle`: files that import each other in a loop (Tarjan's strongly connected components);
 * - `bypass`: an import into another top-level folder that does not go through its `index.ts`;
 * - `layer`: an import into a folder whose layer is not strictly lower than the importer's, or
 *   from or into a folder the layer table does not name.
 *
 * The layer table is read from docs/architecture.md ("Dependency rule"), so the rule is written
 * in one place, where contributors read it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export interface Fault {
  kind: 'cycle' | 'bypass' | 'layer';
  message: string;
}

/** Folder name → layer number (a folder may import only folders of a lower layer). */
export type Layers = ReadonlyMap<string, number>;

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|(?:^|[\s;])import\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
    }
  };
  walk(root);
  return out;
}

/** The file an import specifier names (`./x.js` → `x.ts`, `./dir/index.js` → `dir/index.ts`), if it is a source file. */
function target(from: string, spec: string, files: ReadonlySet<string>): string | undefined {
  const base = resolve(dirname(from), spec).replace(/\.js$/, '');
  return [`${base}.ts`, join(base, 'index.ts')].find((c) => files.has(c));
}

/** Every import edge between source files, keyed by the importing file (paths relative to `root`). */
export function importGraph(root: string): Map<string, string[]> {
  const absolute = sourceFiles(resolve(root));
  const known = new Set(absolute);
  const graph = new Map<string, string[]>();
  for (const file of absolute) {
    const text = readFileSync(file, 'utf8');
    const edges = new Set<string>();
    for (const m of text.matchAll(IMPORT)) {
      const to = target(file, (m[1] ?? m[2] ?? m[3])!, known);
      if (to) edges.add(relative(root, to));
    }
    graph.set(relative(root, file), [...edges]);
  }
  return graph;
}

/** Strongly connected components of more than one file (or a file importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The top-level folder a path (relative to the root) is in; files at the root have none. */
function folderOf(path: string): string | undefined {
  const parts = path.split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

/** Every fault in the tree at `root` against `layers`. */
export function checkImports(root: string, layers: Layers): Fault[] {
  const graph = importGraph(root);
  const faults: Fault[] = cycles(graph).map((c) => ({ kind: 'cycle', message: `import cycle: ${c.join(' <-> ')}` }));
  for (const [from, edges] of graph) {
    const a = folderOf(from);
    for (const to of edges) {
      const b = folderOf(to);
      if (a === b) continue;
      if (b !== undefined && to !== join(b, 'index.ts')) {
        faults.push({ kind: 'bypass', message: `${from} imports ${to}: go through ${b}/index.ts` });
      }
      const la = a === undefined ? undefined : layers.get(a);
      const lb = b === undefined ? undefined : layers.get(b);
      if (la === undefined || lb === undefined) {
        const missing = la === undefined ? (a ?? '(root)') : (b ?? '(root)');
        faults.push({ kind: 'layer', message: `${from} imports ${to}: folder ${missing} is in no layer of the table` });
      } else if (lb >= la) {
        faults.push({ kind: 'layer', message: `${from} imports ${to}: ${a} (layer ${la}) may import only lower layers, not ${b} (layer ${lb})` });
      }
    }
  }
  return faults;
}

/**
 * Reads the layer table from the "Dependency rule" section of a markdown document: rows
 * `| <layer> | \`folder\`, \`folder\` | … |`.
 */
export function readLayers(markdown: string): Map<string, number> {
  const section = /^## Dependency rule\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown)?.[1];
  if (section === undefined) throw new Error('the document has no "## Dependency rule" section');
  const layers = new Map<string, number>();
  for (const row of section.matchAll(/^\|\s*(\d+)\s*\|([^|\n]*)\|/gm)) {
    for (const folder of row[2]!.matchAll(/`([\w-]+)`/g)) layers.set(folder[1]!, Number(row[1]));
  }
  if (layers.size === 0) throw new Error('the "Dependency rule" section has no layer table');
  return layers;
}
