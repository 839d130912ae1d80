/**
 * OPA's bundle format, as far as regate uses it: a gzipped tarball holding `.manifest` (with the
 * Wasm entrypoint), `data.json` files, `policy.wasm` and, when signed, `.signatures.json`. Rego
 * source files that `opa build` also packs are carried but not used: the gateway runs the module.
 */
import { BundleError } from './errors.js';
import type { TarEntry } from './tar.js';

export const MANIFEST = '.manifest';
export const SIGNATURES = '.signatures.json';
export const DEFAULT_ENTRYPOINT = 'regate/decision';

export interface WasmResolver {
  entrypoint: string;
  module: string;
}

export interface Manifest {
  revision?: string;
  roots?: string[];
  wasm?: WasmResolver[];
  rego_version?: number;
  metadata?: Record<string, unknown>;
}

export interface Bundle {
  /** Every file in the archive, keyed by its path without a leading `/`. */
  files: Map<string, Uint8Array>;
  manifest: Manifest;
  /** The merged contents of the bundle's data.json files. */
  data: Record<string, unknown>;
  /** The module serving the entrypoint. */
  wasm: Uint8Array;
  wasmPath: string;
  entrypoint: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function parseJson(name: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new BundleError(`${name} is not valid JSON: ${(err as Error).message}`, { cause: err, file: name });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseManifest(bytes: Uint8Array | undefined): Manifest {
  if (!bytes) throw new BundleError('bundle has no .manifest', { file: MANIFEST });
  const m = parseJson(MANIFEST, bytes);
  if (!isObject(m)) throw new BundleError('.manifest is not a JSON object', { file: MANIFEST });
  if (m.revision !== undefined && typeof m.revision !== 'string') throw new BundleError('.manifest "revision" is not a string', { file: MANIFEST });
  if (m.wasm !== undefined) {
    const ok = Array.isArray(m.wasm) && m.wasm.every((w) => isObject(w) && typeof w.entrypoint === 'string' && typeof w.module === 'string');
    if (!ok) throw new BundleError('.manifest "wasm" must be a list of {entrypoint, module} strings', { file: MANIFEST });
  }
  return m as Manifest;
}

/** Places a nested data.json's contents at its directory's path in the data tree. */
function mergeData(root: Record<string, unknown>, name: string, value: unknown): void {
  const dirs = name.split('/').slice(0, -1);
  if (!isObject(value)) {
    if (dirs.length === 0) throw new BundleError(`${name} must hold a JSON object at the bundle root`, { file: name });
  }
  let node = root;
  for (const [i, dir] of dirs.entries()) {
    if (i === dirs.length - 1 && !isObject(value)) {
      if (dir in node) throw new BundleError(`${name} collides with other data at ${dirs.join('/')}`, { file: name });
      node[dir] = value;
      return;
    }
    const next = node[dir] ?? {};
    if (!isObject(next)) throw new BundleError(`${name} collides with other data at ${dirs.slice(0, i + 1).join('/')}`, { file: name });
    node[dir] = next;
    node = next;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k in node) throw new BundleError(`${name} redefines data key ${JSON.stringify(k)}`, { file: name });
    node[k] = v;
  }
}

/** Interprets unpacked archive entries as a bundle whose module serves `entrypoint`. */
export function parseBundle(entries: TarEntry[], entrypoint = DEFAULT_ENTRYPOINT): Bundle {
  const files = new Map(entries.map((e) => [e.name, e.bytes] as const));
  const manifest = parseManifest(files.get(MANIFEST));
  const resolver = manifest.wasm?.find((w) => w.entrypoint === entrypoint);
  if (!resolver) {
    const have = manifest.wasm?.map((w) => w.entrypoint).join(', ') || 'none';
    throw new BundleError(`.manifest names no Wasm module for entrypoint ${entrypoint} (it has: ${have})`, { file: MANIFEST });
  }
  const wasmPath = resolver.module.replace(/^\/+/, '');
  const wasm = files.get(wasmPath);
  if (!wasm) throw new BundleError(`.manifest names module ${resolver.module}, which the bundle does not contain`, { file: wasmPath });
  const data: Record<string, unknown> = {};
  for (const [name, bytes] of files) {
    if (name === 'data.json' || name.endsWith('/data.json')) mergeData(data, name, parseJson(name, bytes));
    else if (name === 'data.yaml' || name.endsWith('/data.yaml') || name === 'data.yml' || name.endsWith('/data.yml')) {
      throw new BundleError(`${name}: YAML data files are not supported; use data.json`, { file: name });
    }
  }
  return { files, manifest, data, wasm, wasmPath, entrypoint };
}
