/**
 * How a command reports its result: a sentence for people, or with `--json` one JSON document on
 * stdout for scripts (`{"ok": true, ...}`; failures are `{"ok": false, "code", "message"}`, written
 * by main.ts), so every command that reports can be read by a machine the same way.
 */

/** Writes `text` (a line) or, with `json`, `{ok: true, ...data}`. */
export function report(json: boolean | undefined, text: string, data: Record<string, unknown>): void {
  process.stdout.write(json ? `${JSON.stringify({ ok: true, ...data })}\n` : `${text}\n`);
}

/** The failure document printed under `--json`. */
export function failureJson(code: string, message: string, exitCode: number): string {
  return `${JSON.stringify({ ok: false, code, message, exit_code: exitCode })}\n`;
}
