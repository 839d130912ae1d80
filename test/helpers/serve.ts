/**
 * Running `regate serve` as operators run it, for tests and benchmarks alike: write a config as
 * YAML, spawn the real CLI on it (pinned to CPUs with taskset when asked), and wait for its ready
 * line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { cliPath, whenReady } from './cli.js';

/** Writes `config` as YAML into `dir` (a fresh file name each call unless `name` is given) and returns its path. */
export function writeConfig(dir: string, config: Record<string, unknown>, name = `regate-${Math.random().toString(36).slice(2)}.yaml`): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}

export interface Serving {
  child: ChildProcess;
  /** The URLs of the ready line; rejects if the process exits first. */
  ready: Promise<{ url: string; adminUrl: string }>;
  /** The exit code (null after a signal). */
  exited: Promise<number | null>;
  /** What the process wrote to stderr so far: its JSON log lines and the ready line. */
  logs(): string;
  /** What it wrote to stdout so far (serve writes nothing there). */
  stdout(): string;
}

export interface ServeOptions {
  /** More arguments after `--config FILE` (e.g. `--workers 2`). */
  args?: string[];
  /** Run under `taskset -c cpus`. */
  cpus?: string;
  /** Node options before the CLI (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Spawns `regate serve --config <config>`; the caller stops it (SIGTERM drains, SIGKILL in a `finally`). */
export function startServe(config: string, opts: ServeOptions = {}): Serving {
  const command = [process.execPath, ...(opts.nodeArgs ?? []), cliPath, 'serve', '--config', config, ...(opts.args ?? [])];
  const [file, ...args] = opts.cpus === undefined ? command : ['taskset', '-c', opts.cpus, ...command];
  const child = spawn(file!, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = whenReady(child);
  // A test that never asks for `ready` (it expects a failure) must not see an unhandled rejection.
  ready.catch(() => undefined);
  return { child, ready, exited, logs: () => err, stdout: () => out };
}
