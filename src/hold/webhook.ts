/**
 * Notifies approvers of a new hold through a Slack-compatible incoming webhook: a JSON body whose
 * `text` Slack shows, plus structured fields other receivers can use. Delivery is retried with
 * exponential backoff; a final failure is returned (never thrown) so the caller can audit it. The
 * webhook URL is a secret (Slack puts its key in the path), so it never appears in a message.
 */
import { request } from 'undici';
import type { Hold } from './types.js';

export interface WebhookOptions {
  url: string;
  /** Attempts in total, first one included. */
  attempts: number;
  /** Delay before the second attempt; doubles after each failure. */
  backoffMs: number;
  timeoutMs: number;
  /** Where approvers open the console, shown in the message when known. */
  consoleUrl?: string;
}

export interface WebhookResult {
  ok: boolean;
  attempts: number;
  /** The last failure, in words without the URL. */
  error: string | null;
}

export function webhookBody(hold: Hold, consoleUrl?: string): Record<string, unknown> {
  const where = consoleUrl ? ` Review it at ${consoleUrl}` : '';
  return {
    text:
      `regate: ${hold.requester.sub} is waiting for approval of ${hold.method} ${hold.path} on route ${hold.route} ` +
      `(hold ${hold.id}): ${hold.spec.reason}. Approvers: ${hold.spec.approvers.join(', ')}.${where}`,
    hold_id: hold.id,
    requester: hold.requester.sub,
    route: hold.route,
    method: hold.method,
    path: hold.path,
    reason: hold.spec.reason,
    summary: hold.summary,
    approvers: hold.spec.approvers,
    approvals_required: hold.spec.approvals_required ?? 1,
    expires_at: new Date(hold.expires_at_ms).toISOString(),
  };
}

async function attemptOnce(opts: WebhookOptions, body: string, signal: AbortSignal): Promise<string | null> {
  try {
    const res = await request(opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)]),
    });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300 ? null : `receiver answered HTTP ${res.statusCode}`;
  } catch (err) {
    return `delivery failed: ${(err as Error).name === 'TimeoutError' ? 'timed out' : ((err as { code?: string }).code ?? (err as Error).name)}`;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Posts the hold to the webhook, retrying; `signal` stops retries when the service closes. */
export async function notifyWebhook(hold: Hold, opts: WebhookOptions, signal: AbortSignal): Promise<WebhookResult> {
  const body = JSON.stringify(webhookBody(hold, opts.consoleUrl));
  let error: string | null = null;
  let attempts = 0;
  for (let delay = opts.backoffMs; attempts < opts.attempts && !signal.aborted; delay *= 2) {
    if (attempts > 0) await sleep(delay, signal);
    attempts += 1;
    error = await attemptOnce(opts, body, signal);
    if (error === null) return { ok: true, attempts, error: null };
  }
  return { ok: false, attempts, error: error ?? 'delivery stopped: the hold service closed' };
}
