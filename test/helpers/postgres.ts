/**
 * A throwaway PostgreSQL 15 for tests, from Debian's `postgresql` package: `initdb` (as the
 * `postgres` user, which PostgreSQL requires when the tests run as root) into a temp folder owned
 * by that user, `pg_ctl` on a free loopback port with its socket inside the same folder, password
 * authentication over TCP (so the tests exercise `password_file`), stopped and removed by `stop()`.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { migrate, openPool } from '../../src/cluster-store/index.js';

const run = promisify(execFile);
/** The newest server Debian's `postgresql` package installed (15 on bookworm), or PG_BIN. */
export const PG_BIN = process.env.PG_BIN ?? newestPostgresBin();

function newestPostgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return join(root, versions[0] ?? '15', 'bin');
}

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres (no password: it is in `passwordFile`). */
  url: string;
  passwordFile: string;
  port: number;
  dir: string;
  /** Stops the server (fast shutdown: open connections are dropped). */
  halt(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function asPostgres(cmd: string, args: string[], cpus?: string): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  // The server's processes inherit the CPU affinity of pg_ctl.
  await run(cpus === undefined ? file : 'taskset', cpus === undefined ? argv : ['-c', cpus, file, ...argv], { timeout: 60_000 });
}

export interface PostgresPlacement {
  /** The folder the data directory goes under (default the system's temp folder), e.g. /dev/shm. */
  under?: string;
  /** Run the server on these CPUs only (taskset list), e.g. to keep it off a benchmarked process's core. */
  cpus?: string;
}

export async function startPostgres(place: PostgresPlacement = {}): Promise<TestPostgres> {
  const dir = mkdtempSync(join(place.under ?? tmpdir(), 'regate-pg-'));
  const data = join(dir, 'data');
  const pwfile = join(dir, 'initdb.pw');
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  writeFileSync(pwfile, `${password}\n`);
  const passwordFile = join(dir, 'client.pw');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const { uid, gid } = await lookupPostgres();
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o755);
  await asPostgres(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
  const log = join(dir, 'server.log');
  const start = () => asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-l', log, '-o', opts, '-w', '-t', '60', 'start'], place.cpus);
  const halt = () => asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  await start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    passwordFile,
    port,
    dir,
    halt: async () => {
      await halt();
      running = false;
    },
    start: async () => {
      await start();
      running = true;
    },
    stop: async () => {
      if (running) await halt().catch(() => undefined);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function lookupPostgres(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}

/** A fresh database on `pg` (one per test file keeps tests independent), as a URL. */
export async function createDatabase(pg: TestPostgres, name: string): Promise<string> {
  await asPostgres(join(PG_BIN, 'psql'), ['-h', pg.dir, '-p', String(pg.port), '-U', 'postgres', '-d', 'postgres', '-qc', `CREATE DATABASE "${name}"`]);
  return `postgres://postgres@127.0.0.1:${pg.port}/${name}`;
}

/** A throwaway server with the cluster store's schema migrated in its `postgres` database. */
export async function startMigratedPostgres(): Promise<{ server: TestPostgres; opts: { url: string; password_file: string; timeout_ms: number } }> {
  const server = await startPostgres();
  const opts = { url: server.url, password_file: server.passwordFile, timeout_ms: 1000 };
  const pool = openPool(opts);
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return { server, opts };
}
