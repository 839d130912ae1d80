/**
 * Contender 8, the peer a Go team would build (bench/peers/go-opa): net/http reverse proxy, ES256
 * JWT with lestrrat-go/jwx, the same rego/ in process with OPA's Go SDK. Built here with `go build`
 * (modules from the Go module proxy, pinned by the committed go.sum) into the user cache; without
 * a Go toolchain the contender is skipped with that reason. It serves the same bench setup as
 * regate (the rego copy with the bulk threshold raised, the JWKS file, issuer and audience).
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startPinned, type Started } from './proc.js';
import type { RegateSetup } from './regate.js';

const run = promisify(execFile);
const source = fileURLToPath(new URL('../../../bench/peers/go-opa/', import.meta.url));
const binDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'regate', 'bench');
const bin = join(binDir, 'go-opa');
let built: Promise<string> | undefined;

/** Builds the peer once per bench run (Go's build cache makes a rebuild take about a second). */
export function buildGoPeer(): Promise<string> {
  built ??= (async () => {
    try {
      await run('go', ['version']);
    } catch (err) {
      throw new Error(`no Go toolchain: \`go version\` failed (${(err as Error).message.split('\n')[0]}); install Go 1.26+ to build bench/peers/go-opa`);
    }
    mkdirSync(binDir, { recursive: true });
    try {
      await run('go', ['build', '-o', bin, '.'], { cwd: source, env: { ...process.env, GOFLAGS: '-mod=mod' }, maxBuffer: 16 << 20 });
    } catch (err) {
      throw new Error(`go build of bench/peers/go-opa failed: ${((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n').slice(-3).join(' | ')}`);
    }
    return bin;
  })();
  return built;
}

export interface EvalFigures { evals: number; p50_us: number; p99_us: number }

export interface GoPeer {
  proc: Started;
  base: string;
  /** Policy evaluations timed inside the peer since the last call (the run's figures); resets. */
  evalStats(): Promise<EvalFigures>;
  /** `n` evaluations back to back of the last input it built, and that input. */
  evalLoop(n: number): Promise<EvalFigures & { input: unknown }>;
}

export async function startGoPeer(setup: RegateSetup, upstream: string, cpus: string): Promise<GoPeer> {
  const exe = await buildGoPeer();
  const proc = await startPinned(cpus, exe, [
    '-upstream', upstream, '-rego', join(setup.dir, 'rego'), '-jwks', join(setup.dir, 'jwks.json'),
    '-issuer', 'urn:bench', '-audience', 'regate', '-credential', 'x-upstream-key=bench-upstream-secret',
  ]);
  const base = `http://127.0.0.1:${proc.port}`;
  const get = async <T>(path: string): Promise<T> => {
    const r = await fetch(base + path);
    if (!r.ok) throw new Error(`go-opa ${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  };
  return { proc, base, evalStats: () => get('/__peer/eval-stats'), evalLoop: (n) => get(`/__peer/eval-loop?n=${n}`) };
}
