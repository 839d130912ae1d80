/**
 * Runs the pinned `opa` binary (found by toolchain.ts) and turns its failures into one sentence
 * with the compiler's own message, which names the file, line and builtin at fault.
 */
import { execFile } from 'node:child_process';
import { RegateError } from '../util/index.js';
import { findOpa } from './toolchain.js';

export class OpaCommandFailed extends RegateError {
  static override readonly code: string = 'ERR_OPA_FAILED';
}

export interface OpaResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `opa args...`; with `check` (default) a non-zero exit throws OpaCommandFailed. */
export async function runOpa(args: string[], opts: { check?: boolean; input?: string; cwd?: string } = {}): Promise<OpaResult> {
  const bin = await findOpa({ install: false });
  const result = await new Promise<OpaResult>((resolve, reject) => {
    const child = execFile(bin, args, { cwd: opts.cwd, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      if (err && code === -1) reject(new OpaCommandFailed(`opa ${args[0]} could not run: ${err.message}`, { cause: err }));
      else resolve({ code, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
  if (opts.check !== false && result.code !== 0) {
    const detail = (result.stderr || result.stdout).trim().replace(/\s*\n\s*/g, ' | ');
    throw new OpaCommandFailed(`opa ${args[0]} failed: ${detail}`);
  }
  return result;
}
