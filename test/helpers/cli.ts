import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of the compiled CLI entry (tests run from dist/test). */
export const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs the real `regate` CLI in a child process, optionally feeding stdin. */
export function runCli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return runProcess(process.execPath, [cliPath, ...args], opts);
}

/** Runs a program in a child process, optionally feeding stdin; resolves with its exit code and output. */
export function runProcess(command: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Resolves with the URLs a spawned `regate serve` prints once it listens; rejects if it exits first. */
export function whenReady(child: ChildProcess): Promise<{ url: string; adminUrl: string }> {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /regate ready (\S+) \(admin (\S+)\)/.exec(err);
      if (m) resolve({ url: m[1]!, adminUrl: m[2]! });
    });
    child.once('exit', (code) => reject(new Error(`regate serve exited ${code}: ${err}`)));
  });
}

/**
 * Every leaf command `regate --help` leads to (`audit verify`, `token`, …), found by walking the
 * help texts (a command whose help lists commands is a group), so a test over "every command"
 * covers a command added later without being told.
 */
export async function allCommands(prefix: string[] = []): Promise<string[]> {
  const help = await runCli([...prefix, '--help']);
  const section = help.stdout.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  const names = [...section.matchAll(/^ {2}regate ((?:[\w-]+ )*[\w-]+)/gm)].map((m) => m[1]!.split(' ')).filter((w) => w.at(-1) !== 'completion');
  const found = await Promise.all(names.map(async (words) => {
    const leaves = await allCommands(words);
    return leaves.length > 0 ? leaves : [words.join(' ')];
  }));
  return found.flat();
}
