/**
 * transparency-dev's witness (github.com/transparency-dev/witness, cmd/omniwitness) as a real
 * process, for the interoperability test. It is built with the machine's Go from the module pinned
 * in test/go/witness/go.mod (go.sum committed; the binaries are `tool` dependencies there) and
 * cached under ~/.cache/regate/witness/<module version>/, as the OPA toolchain is, so CI builds it
 * once. Its signing key comes from its own `generate_keys`; the logs it witnesses are given in the
 * `--additional_logs` YAML (Origin + the log's note verifier key); state is its SQLite `--db_file`.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../../../test/go/witness', import.meta.url));
const MODULE = 'github.com/transparency-dev/witness';

/** The pinned module version, from go.mod (the cache key). */
export function witnessVersion(): string {
  const m = /^\s*(?:require\s+)?github\.com\/transparency-dev\/witness (v\S+)/m.exec(readFileSync(join(source, 'go.mod'), 'utf8'));
  if (!m) throw new Error(`${join(source, 'go.mod')} does not require ${MODULE}`);
  return m[1]!;
}

export function witnessCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'regate', 'witness', witnessVersion());
}

export interface Binaries {
  omniwitness: string;
  generateKeys: string;
}

/**
 * The cached binaries, built first when missing. Returns why they cannot be had (no Go and nothing
 * cached), the only reason the test may skip.
 */
export function witnessBinaries(): Binaries | string {
  const dir = witnessCacheDir();
  const bins = { omniwitness: join(dir, 'omniwitness'), generateKeys: join(dir, 'generate_keys') };
  if (existsSync(bins.omniwitness) && existsSync(bins.generateKeys)) return bins;
  if (spawnSync('go', ['version']).error) return `no Go toolchain on PATH to build ${MODULE} (and nothing cached in ${dir})`;
  mkdirSync(dir, { recursive: true });
  // Built beside the cache and renamed in, so a concurrent run never sees half a binary.
  const tmp = mkdtempSync(join(dir, '.build-'));
  try {
    execFileSync('go', ['build', '-o', tmp + '/', `${MODULE}/cmd/omniwitness`, `${MODULE}/cmd/generate_keys`], {
      cwd: source, stdio: 'pipe', env: { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false' },
    });
    renameSync(join(tmp, 'generate_keys'), bins.generateKeys);
    renameSync(join(tmp, 'omniwitness'), bins.omniwitness);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bins;
}

export interface Omniwitness {
  url: string;
  /** Its cosignature verifier key (name+hash+base64, type 0x04) as its generate_keys wrote it. */
  vkey: string;
  vkeyFile: string;
  stop(): Promise<void>;
}

/** A free port on 127.0.0.1 (omniwitness prints no bound address, so it is told one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Generates the witness's key pair (in `dir`) with its own tool. */
export function witnessKey(bins: Binaries, dir: string, name: string): { priv: string; vkeyFile: string; vkey: string } {
  mkdirSync(dir, { recursive: true });
  const priv = join(dir, 'witness.key');
  const vkeyFile = join(dir, 'witness.vkey');
  if (!existsSync(priv)) execFileSync(bins.generateKeys, ['--origin', name, '--out_priv', priv, '--out_pub', vkeyFile], { stdio: 'pipe' });
  return { priv, vkeyFile, vkey: readFileSync(vkeyFile, 'utf8').trim() };
}

/**
 * Starts omniwitness on 127.0.0.1 witnessing `logs` (origin → the log's verifier key), keeping its
 * key and database in `dir` (a restart with the same `dir` keeps what it cosigned).
 */
export async function startOmniwitness(bins: Binaries, dir: string, name: string, logs: { origin: string; vkey: string }[]): Promise<Omniwitness> {
  const key = witnessKey(bins, dir, name);
  const yaml = join(dir, 'logs.yaml');
  writeFileSync(yaml, 'Logs:\n' + logs.map((l) => `  - Origin: ${JSON.stringify(l.origin)}\n    PublicKey: ${JSON.stringify(l.vkey)}\n`).join(''));
  let lastErr = '';
  // A port found free may be taken before the witness binds it: then try another.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(bins.omniwitness, [
      '--listen', `127.0.0.1:${port}`, '--metrics_listen', '', '--private_key_path', key.priv,
      '--db_file', join(dir, 'witness.db'), '--additional_logs', yaml,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let err = '';
    const ready = await new Promise<boolean>((resolve) => {
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        // Logged after net.Listen succeeded: connections are accepted from here on.
        if (err.includes('HTTP server goroutine started')) resolve(true);
      });
      void exited.then(() => resolve(false));
    });
    if (ready) {
      return {
        url: `http://127.0.0.1:${port}`, vkey: key.vkey, vkeyFile: key.vkeyFile,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    }
    lastErr = err;
    if (!/failed to listen/.test(err)) break;
  }
  throw new Error(`omniwitness did not start: ${lastErr}`);
}
