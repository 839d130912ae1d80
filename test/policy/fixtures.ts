/**
 * Test fixtures for the policy stage: typical inputs, temp folders, and small policies compiled
 * with the real pinned compiler (against the committed capabilities file) into real bundles.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPolicy } from '../../src/policy-build/index.js';
import { DEFAULT_CAPABILITIES } from '../../src/policy/paths.js';
import type { PolicyInput } from '../../src/contract/index.js';

export function input(groups: string[], method: string, path: string, extra: Partial<PolicyInput> = {}): PolicyInput {
  return {
    identity: { sub: 'alice', iss: 'https://idp.test', groups, claims: {} },
    request: { method, path, query: {}, headers: { 'content-type': 'application/json' }, body: null, body_bytes: 0 },
    route: { name: 'test' },
    usage: { requests_last_minute: 1 },
    approval: null,
    grants: [],
    time: { now_ns: 1_000 },
    ...extra,
  };
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'regate-policy-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Compiles one Rego module (package regate) and data into a bundle file; returns its bytes. */
export async function compileBundle(dir: string, rego: string, data: unknown = {}): Promise<Buffer> {
  const src = join(dir, `src-${Math.random().toString(36).slice(2)}`);
  await import('node:fs/promises').then((fs) => fs.mkdir(src));
  await writeFile(join(src, 'policy.rego'), rego);
  await writeFile(join(src, 'data.json'), JSON.stringify(data));
  const out = join(src, 'bundle.tar.gz');
  await buildPolicy({ regoDir: src, wasmOut: join(src, 'policy.wasm'), bundleOut: out, capabilities: DEFAULT_CAPABILITIES });
  return readFile(out);
}
