/**
 * `rego/` → `wasm/pci.wasm` → `bundles/pci.tar.gz`: compiles the policy with the pinned compiler
 * against the generated capabilities file, and packs module, data and manifest into an OPA bundle
 * (signed when a key is given). The same compilation, kept in memory, checks that the committed
 * build still matches its source (`regate build --check`, run by CI).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import {
  canonicalJson, contentRevision, DEFAULT_ENTRYPOINT, MANIFEST, parseBundle, readTarGz, signaturesFile, signFiles, writeTarGz,
  type Manifest, type SignOptions, type TarEntry,
} from '../policy/index.js';
import { generateCapabilities } from './capabilities.js';
import { runOpa } from './opa.js';

export interface BuildPaths {
  /** Policy source: `*.rego` (tests excluded) and `data.json` at its root. */
  regoDir: string;
  wasmOut: string;
  bundleOut: string;
  capabilities: string;
  entrypoint?: string;
}

export interface Compiled {
  wasm: Uint8Array;
  data: Uint8Array;
  manifest: Uint8Array;
  revision: string;
}

/** Rego files under `dir` (`_test.rego` only with `tests`), skipping hidden files and folders. */
export async function regoSources(dir: string, opts: { tests?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const rel = relative(dir, path);
    if (!entry.isFile() || rel.split('/').some((p) => p.startsWith('.'))) continue;
    if (entry.name.endsWith('.rego') && (opts.tests || !entry.name.endsWith('_test.rego'))) out.push(path);
  }
  return out.sort();
}

/** Compiles the policy source to a module, its data and a manifest, in memory. */
export async function compilePolicy(paths: BuildPaths): Promise<Compiled> {
  const entrypoint = paths.entrypoint ?? DEFAULT_ENTRYPOINT;
  const tmp = await mkdtemp(join(tmpdir(), 'regate-build-'));
  try {
    const out = join(tmp, 'opa.tar.gz');
    // Paths relative to the source folder: the compiler embeds source file names in the module,
    // so absolute ones would make the build differ between clones (and CI's check fail).
    const regoDir = resolve(paths.regoDir);
    const sources = [...(await regoSources(regoDir)), join(regoDir, 'data.json')].map((f) => relative(regoDir, f));
    await runOpa(['build', '-t', 'wasm', '-e', entrypoint, '--capabilities', resolve(paths.capabilities), '-o', out, ...sources], { cwd: regoDir });
    const built = new Map(readTarGz(await readFile(out)).map((e) => [e.name, e.bytes] as const));
    const wasm = built.get('policy.wasm');
    const data = built.get('data.json');
    if (!wasm || !data) throw new Error('opa build produced no policy.wasm or data.json');
    const revision = contentRevision(wasm, data);
    const manifest: Manifest = { revision, roots: [''], wasm: [{ entrypoint, module: '/policy.wasm' }], rego_version: 1 };
    return { wasm, data, manifest: new TextEncoder().encode(JSON.stringify(manifest)), revision };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Bundle files in OPA's order, with `.signatures.json` first when signed. */
export async function bundleEntries(c: Compiled, signing?: SignOptions): Promise<TarEntry[]> {
  const files: TarEntry[] = [
    { name: 'data.json', bytes: c.data },
    { name: 'policy.wasm', bytes: c.wasm },
    { name: MANIFEST, bytes: c.manifest },
  ];
  return signing ? [signaturesFile(await signFiles(files, signing)), ...files] : files;
}

async function writeOut(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

/** Regenerates the capabilities file from the pinned compiler. */
export async function updateCapabilities(path: string): Promise<void> {
  await writeOut(path, await generateCapabilities());
}

/** Builds and writes the module and bundle; returns what was compiled. */
export async function buildPolicy(paths: BuildPaths, signing?: SignOptions): Promise<Compiled> {
  const compiled = await compilePolicy(paths);
  await writeOut(paths.wasmOut, compiled.wasm);
  await writeOut(paths.bundleOut, writeTarGz(await bundleEntries(compiled, signing)));
  return compiled;
}

async function readOrNull(path: string): Promise<Buffer | null> {
  return readFile(path).catch(() => null);
}

/**
 * Rebuilds in memory and lists every way the committed capabilities, module and bundle differ from
 * what the source and the pinned compiler produce (empty when they match). Bundles are compared
 * by content (module bytes, canonical data and manifest), never by tar bytes.
 */
export async function checkBuild(paths: BuildPaths): Promise<string[]> {
  const faults: string[] = [];
  const caps = await generateCapabilities();
  if ((await readOrNull(paths.capabilities))?.toString() !== caps) {
    faults.push(`${paths.capabilities} differs from what the pinned compiler generates (run \`regate build --update-capabilities\`)`);
  }
  const c = await compilePolicy(paths);
  const wasm = await readOrNull(paths.wasmOut);
  if (!wasm || !wasm.equals(c.wasm)) faults.push(`${paths.wasmOut} differs from the module compiled from ${paths.regoDir}`);
  const gz = await readOrNull(paths.bundleOut);
  if (!gz) return [...faults, `${paths.bundleOut} is missing`];
  const committed = parseBundle(readTarGz(gz), paths.entrypoint ?? DEFAULT_ENTRYPOINT).files;
  const same = (name: string, fresh: Uint8Array, structured: boolean) => {
    const old = committed.get(name);
    if (!old) return false;
    return structured ? canonicalJson(name, old) === canonicalJson(name, fresh) : Buffer.from(old).equals(fresh);
  };
  if (!same('policy.wasm', c.wasm, false)) faults.push(`${paths.bundleOut}: policy.wasm differs from the module compiled from ${paths.regoDir}`);
  if (!same('data.json', c.data, true)) faults.push(`${paths.bundleOut}: data.json differs from ${join(paths.regoDir, 'data.json')}`);
  if (!same(MANIFEST, c.manifest, true)) faults.push(`${paths.bundleOut}: .manifest differs from the one the build writes`);
  return faults;
}
