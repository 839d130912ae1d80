/**
 * `regate serve --check` (as `envoy --mode validate` and `kong check`): everything the gateway
 * would need to start, checked without starting it, every problem reported rather than only the
 * first: the config file (each bad key), the files it names (keys, key sets, service credentials
 * and TLS files), the policy bundle (read, verified with the configured keys and compiled, from its
 * file or its server), the upstreams (a TCP connection to each) and the two listener addresses.
 */
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { checkConfigFile, type GatewayConfig } from '../config/index.js';
import { watchBundle } from '../policy/index.js';
import { watchOptions } from './options.js';

export interface CheckResult {
  /** What was checked and found good. */
  checked: string[];
  problems: string[];
}

async function readable(file: string, key: string): Promise<string | undefined> {
  try {
    await readFile(file);
    return undefined;
  } catch (err) {
    return `${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/** Whether `host:port` accepts a TCP connection within `timeoutMs`. */
function reachable(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => (socket.destroy(), resolve(undefined)));
    socket.once('timeout', () => (socket.destroy(), resolve(`no connection within ${timeoutMs} ms`)));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Whether `host:port` can be listened on now (port 0 always can). */
function bindable(host: string, port: number): Promise<string | undefined> {
  if (port === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE' ? `${host}:${port} is already in use by another process (EADDRINUSE)` : `${host}:${port}: ${err.code ?? err.message}`));
    server.listen(port, host, () => server.close(() => resolve(undefined)));
  });
}

/** The files the config names, by key. */
function namedFiles(c: GatewayConfig): [string, string][] {
  const files: [string, string][] = [];
  const service = (prefix: string, s: { credentials?: { bearer: { token_file: string } } | undefined; tls?: { ca_file?: string | undefined; cert_file?: string | undefined; key_file?: string | undefined } | undefined } | undefined) => {
    if (s?.credentials) files.push([`${prefix}.credentials.bearer.token_file`, s.credentials.bearer.token_file]);
    for (const k of ['ca_file', 'cert_file', 'key_file'] as const) if (s?.tls?.[k]) files.push([`${prefix}.tls.${k}`, s.tls[k]]);
  };
  if (c.identity.jwks_file) files.push(['identity.jwks_file', c.identity.jwks_file]);
  service('policy.service', c.policy.service);
  service('decision_logs.service', c.decision_logs?.service);
  service('status.service', c.status?.service);
  return files;
}

/** The signing keys the config names, by key: each must be a PEM public key. */
async function keyProblems(c: GatewayConfig): Promise<string[]> {
  const keys: [string, string][] = c.policy.public_key_file ? [['policy.public_key_file', c.policy.public_key_file]] : [];
  for (const [id, k] of Object.entries(c.policy.keys ?? {})) keys.push([`policy.keys.${id}.public_key_file`, k.public_key_file]);
  const problems: string[] = [];
  for (const [key, file] of keys) {
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch (err) {
      problems.push(`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    try {
      createPublicKey(pem);
    } catch (err) {
      problems.push(`${key}: ${file} is not a PEM public key (${(err as Error).message})`);
    }
  }
  return problems;
}

export async function checkGatewayConfig(file: string): Promise<CheckResult> {
  const { problems: configProblems, config } = await checkConfigFile(file);
  if (!config) return { checked: [], problems: configProblems.map((e) => e.message) };
  const checked = [`config ${file}`];
  const problems: string[] = [];

  for (const [key, path] of namedFiles(config)) {
    const p = await readable(path, key);
    if (p) problems.push(p);
  }
  const keys = await keyProblems(config);
  problems.push(...keys);

  if (!keys.length) {
    try {
      const watcher = await watchBundle(config.policy.bundle, { ...(await watchOptions(config)), pollSeconds: 0, persistPath: undefined });
      checked.push(`policy bundle ${config.policy.bundle} (revision ${watcher.current().revision}, ${config.policy.allow_unsigned ? 'unsigned allowed' : 'signature verified'})`);
      await watcher.close();
    } catch (err) {
      problems.push(`policy.bundle: ${config.policy.bundle} refused: ${(err as Error).message}`);
    }
  } else if (!/^https?:\/\//.test(config.policy.bundle)) {
    // The bundle cannot be verified without good keys, but a missing bundle file is a problem of its own.
    const p = await readable(config.policy.bundle, 'policy.bundle');
    if (p) problems.push(p);
  }

  await Promise.all(Object.entries(config.upstreams).map(async ([name, up]) => {
    const u = new URL(up.url);
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    const why = await reachable(u.hostname, port, Math.min(up.timeouts.connect_ms, 5000));
    if (why) problems.push(`upstreams.${name}.url: cannot connect to ${u.hostname}:${port} (${why})`);
    else checked.push(`upstream ${name} (${u.host}) accepts connections`);
  }));

  for (const key of ['listen', 'admin'] as const) {
    const why = await bindable(config[key].host, config[key].port);
    if (why) problems.push(`${key}.port: ${why}; stop that process or choose another port`);
  }
  return { checked, problems };
}
