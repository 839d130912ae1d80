/**
 * When an allowed request may leave for the upstream relative to its decision record. The one
 * guarantee that never bends: no byte of the upstream's answer reaches the client before the
 * decision record is durable, and a record that cannot be written means a 503 and no answer.
 * Within that, the record's commit (an fsync, about half a millisecond) can overlap the upstream
 * round trip, which then costs the client nothing, or precede it.
 *
 * Overlapping means the upstream may see a request the audit log never holds (the commit failed
 * after the request left). For inference that is harmless: the answer is discarded. For calls that
 * change state at the provider (loading or deleting a model, uploading a file, starting a
 * fine-tuning job or a batch) it is not: those wait for the commit. A route says which it is with
 * `forward: overlap | after_commit`; without it the state-changing calls of the OpenAI-style
 * management API wait and everything else overlaps.
 */
import type { Route } from './router.js';

/** Management resources whose non-safe methods change state at the provider. */
const MANAGEMENT = ['/v1/models', '/v1/files', '/v1/fine_tuning', '/v1/batches', '/v1/uploads'];

/** Methods that change nothing by definition (RFC 9110 9.2.1). */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function underManagement(path: string): boolean {
  for (const prefix of MANAGEMENT) {
    if (path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* / */)) return true;
  }
  return false;
}

/** True when the request must wait for its decision record before it is sent upstream. */
export function forwardsAfterCommit(route: Pick<Route, 'forward'>, method: string, path: string): boolean {
  if (route.forward !== undefined) return route.forward === 'after_commit';
  return !SAFE.has(method.toUpperCase()) && underManagement(path);
}
