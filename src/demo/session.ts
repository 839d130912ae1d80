/**
 * The embedded default that `npm start` runs: the demo inference service, the dev identity
 * provider and the gateway with the committed PCI bundle (signed with a demo key), all on
 * loopback, wired by a config built here (the same GatewayConfig a YAML file produces). It prints
 * where things are and ready-to-paste curl commands, one per role, each with a fresh dev token.
 */
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LIMITS, type GatewayConfig } from '../config/index.js';
import { devAuthorizationServer, ensureDevIdentity, type DevIdentity, type DevUser } from '../identity/index.js';
import { DEFAULT_BUNDLE, signBundle } from '../policy/index.js';
import { startGateway, type RunningGateway } from '../app/index.js';
import { startDemoService, type DemoService } from './service.js';

export interface DemoOptions {
  port: number;
  adminPort: number;
  upstreamPort: number;
  stateDir: string;
  /** Where the gateway's JSON logs go. */
  log?: NodeJS.WritableStream;
  tokenTtlSeconds?: number;
}

export interface DemoSession {
  gateway: RunningGateway;
  service: DemoService;
  dev: DevIdentity;
  /** The text printed for the user: ready line, then a curl command per role. */
  banner: string;
  stop(): Promise<void>;
}

/** The demo's roles: who they are and one request that shows what the policy does for them. */
export const DEMO_ROLES = [
  { role: 'fraud-analysts', sub: 'alice', shows: 'score a transaction; the card number comes back masked to its last four digits',
    request: { method: 'POST', path: '/v1/score', body: { transaction: { amount: 4200, merchant: 'm-17' } } } },
  { role: 'fraud-analysts', sub: 'alice', shows: 'ask for 5000 transactions: bulk extraction is held for a pci-approvers approval',
    request: { method: 'GET', path: '/v1/transactions?limit=5000' } },
  { role: 'pci-admins', sub: 'paula', shows: 'list transactions; pci-admins see first six and last four digits',
    request: { method: 'GET', path: '/v1/transactions?limit=3' } },
  { role: 'support-agents', sub: 'sam', shows: 'stream a chat answer; the card number spread over several tokens is masked',
    request: { method: 'POST', path: '/v1/chat/completions', body: { model: 'demo-llm', stream: true, messages: [{ role: 'user', content: 'Which card is on file?' }] } } },
  { role: 'ml-admins', sub: 'mo', shows: 'load a model (allowed, nothing to mask)',
    request: { method: 'POST', path: '/v1/models/load', body: { model: 'fraud-v4' } } },
  { role: 'marketing', sub: 'eve', shows: 'someone the policy denies: 403 with the reason',
    request: { method: 'POST', path: '/v1/score', body: { transaction: { amount: 10 } } } },
] as const;

/** Whom the dev IdP's sign-in page offers: each role's user once, and victor, the approver. */
export const DEMO_USERS: DevUser[] = [
  ...[...new Map(DEMO_ROLES.map((r) => [r.sub, { sub: r.sub, groups: [r.role as string] }])).values()],
  { sub: 'victor', groups: ['pci-approvers'] },
];

/** Where the demo keeps its bundle signing key and the bundle it signed. */
export interface DemoBundle {
  bundle: string;
  publicKeyFile: string;
}

/**
 * Signs the committed bundle with the demo's own key (made on first run, kept in the state
 * folder) into the state folder, so the demo gateway verifies a signature like a production one.
 * The signed copy is replaced by a rename, so the watching gateway never reads half a file.
 */
export async function signDemoBundle(stateDir: string): Promise<DemoBundle> {
  await mkdir(stateDir, { recursive: true });
  const keyFile = join(stateDir, 'bundle-signing.key.pem');
  const publicKeyFile = join(stateDir, 'bundle-signing.pub.pem');
  let privateKeyPem: string;
  try {
    privateKeyPem = await readFile(keyFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    privateKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(keyFile, privateKeyPem, { mode: 0o600, flag: 'wx' });
  }
  await writeFile(publicKeyFile, createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString());
  const bundle = join(stateDir, 'pci.tar.gz');
  const tmp = `${bundle}.${process.pid}.tmp`;
  await writeFile(tmp, await signBundle(await readFile(DEFAULT_BUNDLE), { privateKeyPem }));
  await rename(tmp, bundle);
  return { bundle, publicKeyFile };
}

export function demoConfig(o: DemoOptions, dev: DevIdentity, upstreamUrl: string, credential: string, policy: DemoBundle): GatewayConfig {
  const route = (name: string, path_prefix: string) => ({ name, path_prefix, host: undefined, upstream: 'demo', unmaskable: 'refuse' as const });
  return {
    listen: { host: '127.0.0.1', port: o.port },
    // The console signs in through the dev IdP this admin listener serves (devAuthorizationServer).
    admin: { host: '127.0.0.1', port: o.adminPort, metrics_public: false, console: { client_id: dev.audience, discovery_url: '/.well-known/openid-configuration', session_seconds: 3600 } },
    state_dir: o.stateDir,
    max_body_bytes: 1 << 20,
    drain_seconds: 10,
    workers: 1,
    upstreams: {
      demo: {
        url: upstreamUrl,
        credential: { header: 'x-demo-credential', value: credential },
        connections: 32,
        timeouts: { connect_ms: 2_000, headers_ms: 30_000, body_ms: 60_000 },
      },
    },
    routes: [route('fraud-model', '/v1/score'), route('transactions', '/v1/transactions'), route('chat', '/v1/chat'), route('models', '/v1/models')],
    identity: {
      issuer: dev.issuer,
      audience: dev.audience,
      jwks_url: undefined,
      jwks_file: undefined,
      algorithms: ['ES256'],
      clock_tolerance_seconds: 30,
      groups_claim: 'groups',
      jwks_cooldown_seconds: 30,
      jwks_max_age_seconds: 600,
      jwks_fetch_timeout_ms: 5_000,
      token_cache_entries: 10_000,
      api_keys: [],
    },
    // The secure path: only bundles signed with the demo's key load, and the file is watched.
    policy: { bundle: policy.bundle, public_key_file: policy.publicKeyFile, allow_unsigned: false, poll_seconds: 10 },
    audit: { dir: join(o.stateDir, 'audit'), body_cap_bytes: 8192, max_size_bytes: 2 ** 30 },
    holds: { wait_seconds: 60, max_pending_per_identity: 5, max_pending: 100, webhook_url: undefined },
    limits: DEFAULT_LIMITS,
    logging: { level: 'info', requests: true },
  };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function banner(url: string, adminUrl: string, dev: DevIdentity, ttl: number): Promise<string> {
  const lines = [`regate ready ${url}`, `admin listener (metrics, JWKS): ${adminUrl}  ·  tokens valid ${Math.round(ttl / 60)} min`, ''];
  for (const r of DEMO_ROLES) {
    const token = await dev.sign({ sub: r.sub, groups: [r.role], ttlSeconds: ttl });
    const req = r.request;
    const parts = [`curl -sS -X ${req.method} ${shellQuote(url + req.path)}`, `-H ${shellQuote(`authorization: Bearer ${token}`)}`];
    if ('body' in req) parts.push(`-H 'content-type: application/json'`, `-d ${shellQuote(JSON.stringify(req.body))}`);
    if ('body' in req && 'stream' in req.body) parts.push('-N');
    lines.push(`# ${r.sub} (${r.role}): ${r.shows}`, parts.join(' '), '');
  }
  const approver = await dev.sign({ sub: 'victor', groups: ['pci-approvers'], ttlSeconds: ttl });
  lines.push(
    `# victor (pci-approvers): approve or deny held requests in the console at ${adminUrl}/console (sign in as victor; or paste this token), or:`,
    `regate holds list --admin ${adminUrl} --token ${approver}`,
    '',
  );
  return lines.join('\n');
}

export async function startDemo(o: DemoOptions): Promise<DemoSession> {
  const dev = await ensureDevIdentity(o.stateDir);
  const credential = randomBytes(24).toString('base64url');
  const service = await startDemoService({ host: '127.0.0.1', port: o.upstreamPort, credential: { header: 'x-demo-credential', value: credential } });
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(demoConfig(o, dev, service.url, credential, await signDemoBundle(o.stateDir)), { jwks: dev.jwks, log: o.log, adminMounts: [devAuthorizationServer(dev, DEMO_USERS)] });
  } catch (err) {
    await service.close();
    throw err;
  }
  return {
    gateway,
    service,
    dev,
    banner: await banner(gateway.url, gateway.adminUrl, dev, o.tokenTtlSeconds ?? 3600),
    stop: async () => {
      await gateway.stop();
      await service.close();
    },
  };
}
