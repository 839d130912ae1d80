/**
 * The pinned OPA compiler. regate never ships an `opa` binary: it installs the pinned version with
 * `go install` into a per-user cache shared by every clone (so CI's fresh clone reuses it), or uses
 * the binary named by OPA_BIN. Either way the version is checked, because a different compiler
 * emits a different Wasm module and the committed build would no longer reproduce.
 */
import { execFile, spawn } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RegateError } from '../util/index.js';

const run = promisify(execFile);

export const OPA_VERSION = 'v1.22.2';
export const OPA_MODULE = 'github.com/open-policy-agent/opa';

export class OpaUnavailable extends RegateError {
  static override readonly code: string = 'ERR_OPA_UNAVAILABLE';
}
export class OpaVersionMismatch extends RegateError {
  static override readonly code: string = 'ERR_OPA_VERSION';
}

/** `~/.cache/regate/opa/v1.22.2` (XDG_CACHE_HOME respected). */
export function opaCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'regate', 'opa', OPA_VERSION);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Reads `opa version` and returns e.g. `v1.22.2`. */
export async function opaVersionOf(bin: string): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await run(bin, ['version']));
  } catch (err) {
    throw new OpaUnavailable(`could not run ${bin} version: ${(err as Error).message}`, { cause: err });
  }
  const m = /^Version:\s*(\S+)/m.exec(stdout);
  if (!m?.[1]) throw new OpaUnavailable(`${bin} version printed no "Version:" line`);
  return m[1].startsWith('v') ? m[1] : `v${m[1]}`;
}

async function checked(bin: string, source: string): Promise<string> {
  const version = await opaVersionOf(bin);
  if (version !== OPA_VERSION) {
    throw new OpaVersionMismatch(`${source} ${bin} is OPA ${version}, but regate is pinned to ${OPA_VERSION}; unset it or install ${OPA_VERSION}`);
  }
  return bin;
}

export interface FindOpaOptions {
  /** Install with `go install` when missing (default true). */
  install?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Where progress lines go (installation takes minutes the first time). */
  log?: (line: string) => void;
}

/** Returns the path of a usable, version-checked `opa`, installing it when allowed. */
export async function findOpa(opts: FindOpaOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (env.OPA_BIN) {
    if (!(await isExecutable(env.OPA_BIN))) throw new OpaUnavailable(`OPA_BIN=${env.OPA_BIN} is not an executable file`);
    return checked(env.OPA_BIN, 'OPA_BIN');
  }
  const dir = opaCacheDir(env);
  const bin = join(dir, 'opa');
  if (await isExecutable(bin)) return checked(bin, 'cached');
  if (opts.install === false) {
    throw new OpaUnavailable(`OPA ${OPA_VERSION} is not installed at ${bin}; run \`regate toolchain\` or set OPA_BIN`);
  }
  await goInstall(dir, env, log);
  return checked(bin, 'installed');
}

async function goInstall(dir: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
  try {
    await run('go', ['version'], { env });
  } catch {
    throw new OpaUnavailable(`OPA ${OPA_VERSION} is needed but neither Go (to install it) nor OPA_BIN (an existing opa ${OPA_VERSION}) is available`);
  }
  await mkdir(dir, { recursive: true });
  log(`regate: installing OPA ${OPA_VERSION} with go install into ${dir} (a few minutes, once per machine)...`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('go', ['install', `${OPA_MODULE}@${OPA_VERSION}`], {
      env: { ...env, GOBIN: dir, GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
    });
    const ticker = setInterval(() => log(`regate: still building OPA (${Math.round((Date.now() - started) / 1000)} s)...`), 30_000);
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(new OpaUnavailable(`go install failed to start: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new OpaUnavailable(`go install ${OPA_MODULE}@${OPA_VERSION} exited ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
  log(`regate: OPA ${OPA_VERSION} installed in ${Math.round((Date.now() - started) / 1000)} s`);
}
