/**
 * regate as a contender: `regate serve` with a generated config in a temp folder — the real
 * pipeline (JWT verified against a JWKS file, signed bundle, Wasm policy, masking, fsync'd audit
 * log). The policy is the default PCI policy rebuilt with the bulk rate threshold raised, since a
 * load test is by definition "more requests in the last minute" than a human makes; everything
 * else is as shipped.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exportJWK, importPKCS8, SignJWT } from 'jose';
import { writeConfig } from '../../test/helpers/serve.js';
import { startPinned, type Started } from './proc.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

export interface RegateSetup { dir: string; config: string; tokens: Record<string, string>; cleanup(): void }

/**
 * Writes keys, a bench bundle and a config for an upstream; returns bearer tokens per role. With
 * `shadow`, the same bundle also runs as the shadow policy (`policy.shadow`), so every request is
 * decided twice and the two always agree: the cost of shadow mode itself, without disagreement records.
 * With `forward`, every route has that `routes[].forward`.
 */
export async function prepareRegate(
  upstream: string,
  opts: {
    workers?: number; limits?: Record<string, number>; cluster?: { url: string; passwordFile: string }; shadow?: boolean; forward?: 'overlap' | 'after_commit';
    /** Top-level config sections set as given (e.g. `audit`, `holds`, `admin`), replacing the defaults'. */
    config?: Record<string, unknown>;
  } = {},
): Promise<RegateSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-'));
  const rego = join(dir, 'rego');
  cpSync(join(root, 'rego'), rego, { recursive: true });
  const data = JSON.parse(readFileSync(join(rego, 'data.json'), 'utf8'));
  data.pci.bulk.max_requests_per_minute = 1_000_000_000;
  writeFileSync(join(rego, 'data.json'), JSON.stringify(data, null, 2));

  const bundleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'bundle.key.pem'), bundleKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'bundle.pub.pem'), bundleKey.publicKey.export({ type: 'spki', format: 'pem' }));
  await run(process.execPath, [cli, 'build', '--rego', rego, '--out', join(dir, 'bench.tar.gz'), '--wasm', join(dir, 'bench.wasm'),
    '--capabilities', join(root, 'wasm/capabilities.json'), '--signing-key', join(dir, 'bundle.key.pem')]);

  const idp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(idp.publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  const signer = await importPKCS8(idp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'ES256');
  const token = (sub: string, groups: string[]) =>
    new SignJWT({ groups }).setProtectedHeader({ alg: 'ES256', kid: 'bench' }).setSubject(sub).setIssuer('urn:bench')
      .setAudience('regate').setIssuedAt().setExpirationTime('2h').sign(signer);
  const tokens = {
    analyst: `Bearer ${await token('alice', ['fraud-analysts'])}`,
    agent: `Bearer ${await token('sam', ['support-agents'])}`,
    approver: `Bearer ${await token('victor', ['pci-approvers'])}`,
  };

  const config = writeConfig(dir, {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    state_dir: join(dir, 'state'),
    ...(opts.workers ? { workers: opts.workers } : {}),
    upstreams: { stub: { url: upstream, credential: { header: 'x-upstream-key', value_env: 'BENCH_UPSTREAM_KEY' }, connections: 128 } },
    // `forward: after_commit` on every route is the order before issue 17 (record, then forward): the bench's "before".
    routes: [
      { name: 'fraud-model', path_prefix: '/v1/score', upstream: 'stub' },
      { name: 'transactions', path_prefix: '/v1/transactions', upstream: 'stub' },
      { name: 'chat', path_prefix: '/v1/chat', upstream: 'stub' },
    ].map((r) => (opts.forward ? { ...r, forward: opts.forward } : r)),
    identity: { issuer: 'urn:bench', audience: 'regate', jwks_file: join(dir, 'jwks.json') },
    policy: {
      bundle: join(dir, 'bench.tar.gz'), public_key_file: join(dir, 'bundle.pub.pem'), poll_seconds: 0,
      ...(opts.shadow ? { shadow: { bundle: join(dir, 'bench.tar.gz') } } : {}),
    },
    // One identity sends all the load: by default its per-identity rate and concurrency limits are lifted.
    limits: opts.limits ?? { requests_per_second: 0, max_concurrent: 0 },
    logging: { level: 'warn', requests: false },
    ...(opts.cluster ? { cluster: { postgres: { url: opts.cluster.url, password_file: opts.cluster.passwordFile }, node_id: 'bench' } } : {}),
    ...opts.config,
  }, 'regate.yaml');
  return { dir, config, tokens, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `regate cluster migrate` for a setup made with `cluster` (idempotent). */
export async function migrateCluster(setup: RegateSetup): Promise<void> {
  await run(process.execPath, [cli, 'cluster', 'migrate', '--config', setup.config], { env: { ...process.env, BENCH_UPSTREAM_KEY: 'bench-upstream-secret' } });
}

/**
 * Starts `regate serve` on the given CPUs; resolves once it prints `regate ready`. `checkout` runs
 * another build instead (a checkout with `dist/` built: BENCH_BASELINE's before-and-after rows).
 */
export function startRegate(setup: RegateSetup, cpus: string, checkout?: string): Promise<Started> {
  // BENCH_NODE_ARGS: node options for regate's process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a row.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  return startPinned(cpus, process.execPath, [...nodeArgs, checkout ? join(checkout, 'dist/src/cli/main.js') : cli, 'serve', '--config', setup.config], { env: { BENCH_UPSTREAM_KEY: 'bench-upstream-secret' } });
}
