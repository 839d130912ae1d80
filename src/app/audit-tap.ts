/**
 * A tap on the audit log's appends, for what watches them from the composition root (metrics,
 * decision logs, status reports). Every append goes through `appendCanonical` (an in-process
 * `append` calls it, and so do the workers' records arriving over IPC), so one wrap sees them all,
 * with the time the durable write took and whether it failed.
 */
import type { AuditLog } from '../audit/index.js';

export type AppendTap = (type: string, json: string, seconds: number, failure: unknown) => void;

/** Calls `tap` after each append, once it is durable or has failed; the append's result is unchanged. */
export function tapAppends(audit: AuditLog, tap: AppendTap): void {
  const appendCanonical = audit.appendCanonical.bind(audit);
  audit.appendCanonical = async (type, json) => {
    const t0 = performance.now();
    try {
      const done = await appendCanonical(type, json);
      tap(type, json, (performance.now() - t0) / 1000, undefined);
      return done;
    } catch (err) {
      tap(type, json, (performance.now() - t0) / 1000, err);
      throw err;
    }
  };
}
