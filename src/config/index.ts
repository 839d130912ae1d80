/**
 * Loads `regate serve --config FILE`: parses the YAML, validates it against the schema, resolves
 * relative paths against the file's folder and reads the upstream credentials from their files or
 * environment variables. Every failure is a ConfigError naming the file, the key's path, the line
 * and what was expected, so the operator fixes it in one go.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { RegateError } from '../util/index.js';
import { configSchema, type ConfigFile, type PolicyConfig, type UpstreamConfig } from './schema.js';
export { DEFAULT_LIMITS } from './schema.js';
import { collectProblems, ConfigValueError } from './validate.js';

export type { ClusterConfig, ConfigFile, DecisionLogsConfig, IdentityConfig, LimitsConfig, PolicyConfig, RouteConfig, StatusConfig, UpstreamConfig } from './schema.js';

/** A config file that cannot be read, parsed or validated. */
export class ConfigError extends RegateError {
  static override readonly code: string = 'ERR_CONFIG';
}

/** An upstream with its credential read: the value is a secret, never logged. */
export interface ResolvedUpstream extends Omit<UpstreamConfig, 'credential'> {
  credential: { header: string; value: string } | null;
}

/** What the gateway runs on: the validated file with paths made absolute and secrets read. */
export interface GatewayConfig extends Omit<ConfigFile, 'upstreams' | 'audit'> {
  upstreams: Record<string, ResolvedUpstream>;
  /** `durability` unset: `fsync`; `retain_archive_days` unset: 400; origin, witnesses and their quorum (docs/config.md): none when absent. */
  audit: Partial<Omit<ConfigFile['audit'], 'dir'>> & { dir: string; body_cap_bytes: number; max_size_bytes: number };
}

/** Line number (1-based) of the key at `path` (`routes[1].upstream`) in the document, if found. */
function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, path: string): number | undefined {
  const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== '').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  for (let n = keys.length; n > 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function isUrl(s: string): boolean {
  return /^https?:\/\//.test(s);
}

async function readSecret(file: string, up: string, source: { value_file?: string; value_env?: string }): Promise<string> {
  if (source.value_env !== undefined) {
    const v = process.env[source.value_env];
    if (v === undefined || v === '') {
      throw new ConfigError(`${file}: upstreams.${up}.credential.value_env: environment variable ${source.value_env} is not set`);
    }
    return v;
  }
  const path = resolve(dirname(file), source.value_file!);
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(`${file}: upstreams.${up}.credential.value_file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

type ServiceFiles = { credentials?: { bearer: { token_file: string; scheme: string } } | undefined; tls?: { ca_file?: string | undefined; cert_file?: string | undefined; key_file?: string | undefined } | undefined };

/** A service section with its token and TLS files made absolute. */
function absoluteServicePaths<S extends ServiceFiles>(s: S, abs: (path: string) => string): S {
  const opt = (f: string | undefined) => f && abs(f);
  return {
    ...s,
    credentials: s.credentials && { bearer: { ...s.credentials.bearer, token_file: abs(s.credentials.bearer.token_file) } },
    tls: s.tls && { ca_file: opt(s.tls.ca_file), cert_file: opt(s.tls.cert_file), key_file: opt(s.tls.key_file) },
  };
}

/** The policy section with every file it names made absolute (the bundle too, unless it is a URL). */
function absolutePolicyPaths(p: PolicyConfig, abs: (path: string) => string): PolicyConfig {
  const keys = p.keys && Object.fromEntries(Object.entries(p.keys).map(([id, k]) => [id, { ...k, public_key_file: abs(k.public_key_file) }]));
  return {
    ...p,
    bundle: isUrl(p.bundle) ? p.bundle : abs(p.bundle),
    public_key_file: p.public_key_file && abs(p.public_key_file),
    keys,
    service: p.service && absoluteServicePaths(p.service, abs),
    shadow: p.shadow && { bundle: isUrl(p.shadow.bundle) ? p.shadow.bundle : abs(p.shadow.bundle) },
  };
}

/** A schema error as the operator reads it: file, line, key path, what was expected. */
function located(file: string, err: ConfigValueError, lineFor: (path: string) => number | undefined): ConfigError {
  const line = lineFor(err.path);
  return new ConfigError(`${file}${line ? ` line ${line}` : ''}: ${err.message}`, { cause: err });
}

/** Validates an already-parsed config tree; `file` names it in errors and anchors relative paths. */
export async function resolveConfig(file: string, tree: unknown, lineFor: (path: string) => number | undefined = () => undefined): Promise<GatewayConfig> {
  let parsed: ConfigFile;
  try {
    parsed = configSchema(tree, '');
  } catch (err) {
    if (!(err instanceof ConfigValueError)) throw err;
    throw located(file, err, lineFor);
  }
  const base = dirname(file);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const upstreams: Record<string, ResolvedUpstream> = {};
  for (const [name, up] of Object.entries(parsed.upstreams)) {
    const credential = up.credential
      ? { header: up.credential.header.toLowerCase(), value: up.credential.prefix + (await readSecret(file, name, up.credential)) }
      : null;
    upstreams[name] = { ...up, credential };
  }
  const stateDir = abs(parsed.state_dir);
  return {
    ...parsed,
    upstreams,
    state_dir: stateDir,
    identity: { ...parsed.identity, jwks_file: parsed.identity.jwks_file && abs(parsed.identity.jwks_file) },
    policy: absolutePolicyPaths(parsed.policy, abs),
    decision_logs: parsed.decision_logs && { ...parsed.decision_logs, service: absoluteServicePaths(parsed.decision_logs.service, abs) },
    status: parsed.status && { ...parsed.status, service: absoluteServicePaths(parsed.status.service, abs) },
    audit: { ...parsed.audit, dir: parsed.audit.dir ? abs(parsed.audit.dir) : resolve(stateDir, 'audit'), archive: parsed.audit.archive && { dir: abs(parsed.audit.archive.dir) } },
    cluster: parsed.cluster && {
      ...parsed.cluster,
      postgres: {
        ...parsed.cluster.postgres,
        password_file: parsed.cluster.postgres.password_file && abs(parsed.cluster.postgres.password_file),
        tls: parsed.cluster.postgres.tls && {
          ...parsed.cluster.postgres.tls,
          ca_file: parsed.cluster.postgres.tls.ca_file && abs(parsed.cluster.postgres.tls.ca_file),
          cert_file: parsed.cluster.postgres.tls.cert_file && abs(parsed.cluster.postgres.tls.cert_file),
          key_file: parsed.cluster.postgres.tls.key_file && abs(parsed.cluster.postgres.tls.key_file),
        },
      },
    },
  };
}

/** The config file's text and its parsed YAML document; unreadable or not YAML: a ConfigError per YAML error. */
async function readConfigDocument(path: string): Promise<{ doc: ReturnType<typeof parseDocument>; counter: LineCounter; errors: ConfigError[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const errors = doc.errors.map((e) => new ConfigError(`${path} line ${counter.linePos(e.pos[0]).line}: not valid YAML (${e.message.split('\n')[0]})`));
  return { doc, counter, errors };
}

/** Reads, parses and validates a YAML config file. */
export async function loadConfig(file: string): Promise<GatewayConfig> {
  const path = resolve(file);
  const { doc, counter, errors } = await readConfigDocument(path);
  if (errors[0]) throw errors[0];
  return resolveConfig(path, doc.toJS(), (p) => lineOf(doc, counter, p));
}

/**
 * Every problem of a config file at once (`regate serve --check`): each YAML error, else each
 * schema error (every bad key, not only the first), else the first unreadable credential. The
 * config is returned when there is none, for the checks that need it resolved.
 */
export async function checkConfigFile(file: string): Promise<{ problems: ConfigError[]; config: GatewayConfig | undefined }> {
  const path = resolve(file);
  let read: Awaited<ReturnType<typeof readConfigDocument>>;
  try {
    read = await readConfigDocument(path);
  } catch (err) {
    if (err instanceof ConfigError) return { problems: [err], config: undefined };
    throw err;
  }
  const { doc, counter, errors } = read;
  if (errors.length) return { problems: errors, config: undefined };
  const lineFor = (p: string) => lineOf(doc, counter, p);
  const tree = doc.toJS();
  const schemaProblems = collectProblems(() => void configSchema(tree, ''));
  if (schemaProblems.length) return { problems: schemaProblems.map((e) => located(path, e, lineFor)), config: undefined };
  try {
    return { problems: [], config: await resolveConfig(path, tree, lineFor) };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: [err], config: undefined };
    throw err;
  }
}
