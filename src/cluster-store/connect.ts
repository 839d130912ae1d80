/**
 * Turns the `cluster.postgres` settings into a node-postgres pool. The driver is `pg`
 * (node-postgres): pure JavaScript (no native build to break on a new Node), the most used
 * PostgreSQL client for Node, with a plain `Client` whose LISTEN connection we control ourselves
 * (reconnect, polling fallback) and node `tls` options passed through unchanged.
 *
 * The password never appears in the URL regate logs: it is read from a file (mode 0600 in
 * production), and every message that names the server uses `describeTarget`, which drops it.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ClusterConfigError } from './errors.js';

export interface ClusterTlsOptions {
  /** PEM CA bundle that signs the server's certificate (absent: the system's CAs). */
  ca_file?: string;
  /** Client certificate and key, for servers that require `clientcert`. */
  cert_file?: string;
  key_file?: string;
  /** Skip the certificate check: for tests only, and refused unless written explicitly. */
  insecure_skip_verify?: boolean;
}

export interface ClusterPostgresOptions {
  /** `postgres://user@host:port/db`; a password here is allowed but `password_file` is preferred. */
  url: string;
  password_file?: string;
  tls?: ClusterTlsOptions;
  /** Connections this node keeps to PostgreSQL (besides its LISTEN connection). */
  pool_size?: number;
  /** How long to wait for a connection or a statement before calling the store unavailable. */
  timeout_ms?: number;
}

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ClusterConfigError(`cannot read cluster.postgres.${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The server a URL names, without its password: safe to log. */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** Connection settings for one pg `Client` or `Pool`. */
export function clientConfig(opts: ClusterPostgresOptions): pg.ClientConfig {
  let parsed: URL;
  try {
    parsed = new URL(opts.url);
  } catch {
    throw new ClusterConfigError('cluster.postgres.url is not a URL (expected postgres://user@host:port/database)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ClusterConfigError(`cluster.postgres.url must start with postgres:// (found ${parsed.protocol}//)`);
  }
  const timeout = opts.timeout_ms ?? 5000;
  // Fields are taken from the URL here rather than passed as `connectionString`, which pg lets
  // override every other setting (the password from password_file among them).
  const config: pg.ClientConfig = {
    host: decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, '')) || 'localhost',
    port: parsed.port ? Number(parsed.port) : 5432,
    user: decodeURIComponent(parsed.username) || undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined,
    connectionTimeoutMillis: timeout,
    statement_timeout: timeout,
    query_timeout: timeout + 1000,
    application_name: 'regate',
    keepAlive: true,
  };
  if (opts.password_file !== undefined) config.password = readFile(opts.password_file, 'password_file').replace(/\r?\n$/, '');
  const tls = opts.tls;
  if (tls) {
    config.ssl = {
      rejectUnauthorized: tls.insecure_skip_verify !== true,
      ...(tls.ca_file ? { ca: readFile(tls.ca_file, 'tls.ca_file') } : {}),
      ...(tls.cert_file ? { cert: readFile(tls.cert_file, 'tls.cert_file') } : {}),
      ...(tls.key_file ? { key: readFile(tls.key_file, 'tls.key_file') } : {}),
    };
  }
  return config;
}

export function openPool(opts: ClusterPostgresOptions): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(opts), max: opts.pool_size ?? 4, idleTimeoutMillis: 30_000 });
  // An idle connection that the server drops emits 'error' on the pool; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
