/**
 * Shared by the reliability tests: reading the audit log back the way an auditor does (the CLI, in
 * another process, while the gateway may still be writing), raw HTTP over a socket for shapes no
 * HTTP client will send, and the "still serving" check every bad-input test ends with.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import type { Rig } from '../gateway/harness.js';

export type AuditEventJson = Record<string, any>;

/** Every event in the rig's audit log, in order (`regate audit tail`). */
export async function auditEvents(stateDir: string): Promise<AuditEventJson[]> {
  const tail = await runCli(['audit', 'tail', '--dir', join(stateDir, 'audit')]);
  assert.is(tail.code, 0, tail.stderr);
  return tail.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: AuditEventJson }).event);
}

/** The events about one request id, waiting (bounded) until `types` are all there. */
export async function exchangeRecords(stateDir: string, requestId: string, types = ['request.decision', 'request.outcome']): Promise<AuditEventJson[]> {
  let mine: AuditEventJson[] = [];
  for (let i = 0; i < 50; i++) {
    mine = (await auditEvents(stateDir)).filter((e) => e.request_id === requestId);
    if (types.every((t) => mine.some((e) => e.type === t))) return mine;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.unreachable(`request ${requestId}: expected ${types.join(', ')} in the audit log, found ${mine.map((e) => e.type).join(', ') || 'nothing'}`);
  return mine;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server sent before closing (or before the wait ran out). */
  text: string;
}

/**
 * Writes `parts` to a fresh connection (with `gapMs` between them, for slow senders) and reads until
 * the server closes or `waitMs` runs out. Only the first response is parsed.
 */
export function rawExchange(url: string, parts: (string | Buffer)[], opts: { gapMs?: number; waitMs?: number } = {}): Promise<RawResponse> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let gap: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      clearTimeout(gap);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.split('\r\n\r\n')[0] ?? '';
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
      const rest = text.slice(head.length + 4);
      const len = Number(headers['content-length'] ?? rest.length);
      resolve({ status, headers, body: rest.slice(0, len), text });
    };
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', done);
    socket.on('error', (err) => (chunks.length ? undefined : reject(err)));
    timer = setTimeout(done, opts.waitMs ?? 5_000);
    let i = 0;
    const next = () => {
      if (i >= parts.length || socket.destroyed) return;
      socket.write(parts[i++]!);
      gap = setTimeout(next, opts.gapMs ?? 0);
    };
    socket.once('connect', next);
  });
}

/** The JSON error body of a raw answer, checked for the project's shape. */
export function rawError(r: RawResponse, status: number, error: string): { message: string; request_id: string } {
  assert.is(r.status, status, r.text.slice(0, 300));
  const body = JSON.parse(r.body) as { error: string; message: string; request_id: string };
  assert.is(body.error, error);
  assert.type(body.message, 'string');
  assert.is(body.request_id, r.headers['x-request-id']);
  return body;
}

/** A request the policy allows (ml-admins load a model): proves the gateway still serves. */
export async function assertServes(rig: Rig, token: string): Promise<void> {
  const res = await fetch(`${rig.gw.url}/v1/models/load`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{"model":"m"}',
  });
  assert.is(res.status, 200, await res.clone().text());
  assert.equal(await res.json(), { ok: true, path: '/v1/models/load' });
}
