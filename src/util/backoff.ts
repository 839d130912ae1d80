/**
 * Exponential backoff with equal jitter, for every retry loop regate runs against a remote service
 * (bundle server, decision-log and status receivers): replicas that failed together do not retry
 * in step, and a service that is down is asked less and less often, up to a ceiling.
 */

/** The wait before attempt number `failures + 1`: `base` doubled per failure up to `max`, half to all of it. */
export function backoffSeconds(base: number, failures: number, maxSeconds: number, random: () => number): number {
  if (failures === 0) return base;
  const ceiling = Math.min(maxSeconds, base * 2 ** Math.min(failures, 30));
  return ceiling / 2 + (ceiling / 2) * random();
}
