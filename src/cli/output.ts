/**
 * How a command reports its result: a sentence for people, or with `--json` one JSON document on
 * stdout for scripts (`{"ok": true, ...}`; failures are `{"ok": false, "code", "message",
 * "exit_code", ...verdict}`, written by main.ts), so every command that reports can be read by a
 * machine the same way. Progress and logs go to stderr, so stdout holds that one document only.
 */
import { VerificationFailed } from './exit.js';

/** Writes `text` (a line, or several) or, with `json`, `{ok: true, ...data}`. */
export function report(json: boolean | undefined, text: string, data: Record<string, unknown>): void {
  process.stdout.write(json ? `${JSON.stringify({ ok: true, ...data })}\n` : `${text.replace(/\n$/, '')}\n`);
}

/**
 * The end of a check (verify, status, diff): with no `failure`, reported as `report` does; with one,
 * `text` (when there is any) goes to stdout for people and the command fails with exit 1, its
 * `data` printed under `--json` beside the failure's code and message (one document either way).
 */
export function verdict(json: boolean | undefined, text: string, data: Record<string, unknown>, failure?: string): void {
  if (failure === undefined) return report(json, text, data);
  if (!json && text !== '') process.stdout.write(`${text.replace(/\n$/, '')}\n`);
  throw new VerificationFailed(failure, { report: data });
}

/** The failure document printed under `--json`: what went wrong, then the verdict, if the check gave one. */
export function failureJson(code: string, message: string, exitCode: number, verdictData?: Record<string, unknown>): string {
  return `${JSON.stringify({ ok: false, code, message, exit_code: exitCode, ...verdictData })}\n`;
}
