/**
 * A small decision-log and status receiver speaking real HTTP: it gunzips each POST to /logs and
 * checks every event against OPA's decision-log event schema (the field table of OPA's "Decision
 * Logs" page), and records status reports from /status. It answers with `status` (200 by default),
 * so tests can make it fail.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface Upload {
  headers: IncomingHttpHeaders;
  compressedBytes: number;
  events: Record<string, unknown>[];
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The ways `event` departs from OPA's decision-log event schema (empty when it conforms). */
export function schemaProblems(event: unknown): string[] {
  const p: string[] = [];
  if (!isObject(event)) return ['the event is not an object'];
  const known = new Set(['labels', 'decision_id', 'trace_id', 'span_id', 'bundles', 'path', 'query', 'input', 'result', 'requested_by', 'request_context', 'timestamp', 'metrics', 'erased', 'masked', 'nd_builtin_cache', 'req_id']);
  for (const k of Object.keys(event)) if (!known.has(k)) p.push(`unknown field ${k}`);
  if (!isObject(event.labels) || !Object.values(event.labels).every((v) => typeof v === 'string')) p.push('labels must be an object of strings');
  if (typeof event.decision_id !== 'string' || !event.decision_id) p.push('decision_id must be a non-empty string');
  if (event.bundles !== undefined && (!isObject(event.bundles) || !Object.values(event.bundles).every((b) => isObject(b) && typeof b.revision === 'string'))) p.push('bundles must map names to {revision: string}');
  if (typeof event.path !== 'string') p.push('path must be a string');
  if (!('input' in event)) p.push('input is missing');
  if (!('result' in event)) p.push('result is missing');
  if (event.requested_by !== undefined && typeof event.requested_by !== 'string') p.push('requested_by must be a string');
  if (typeof event.timestamp !== 'string' || !RFC3339.test(event.timestamp)) p.push('timestamp must be an RFC 3339 string');
  for (const k of ['erased', 'masked'] as const) {
    const v = event[k];
    if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && /^\/(input|result|nd_builtin_cache)(\/|$)/.test(x)))) p.push(`${k} must be JSON pointers under /input, /result or /nd_builtin_cache`);
  }
  return p;
}

export class ReportSink {
  uploads: Upload[] = [];
  statuses: Record<string, unknown>[] = [];
  problems: string[] = [];
  status = 200;
  #server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        const body = Buffer.concat(chunks);
        if (this.status !== 200) return void res.writeHead(this.status).end();
        try {
          if (req.method === 'POST' && req.url === '/logs') {
            if (req.headers['content-encoding'] !== 'gzip') this.problems.push('decision logs not gzipped');
            if (!/^application\/json/.test(req.headers['content-type'] ?? '')) this.problems.push('decision logs not application/json');
            const events = JSON.parse(gunzipSync(body).toString('utf8')) as unknown;
            if (!Array.isArray(events)) throw new Error('the body is not a JSON array');
            events.forEach((e, i) => this.problems.push(...schemaProblems(e).map((m) => `event ${i}: ${m}`)));
            this.uploads.push({ headers: req.headers, compressedBytes: body.byteLength, events: events as Record<string, unknown>[] });
          } else if (req.method === 'POST' && req.url === '/status') {
            this.statuses.push(JSON.parse(body.toString('utf8')) as Record<string, unknown>);
          } else {
            return void res.writeHead(404).end();
          }
          res.writeHead(200).end();
        } catch (err) {
          this.problems.push((err as Error).message);
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  events(): Record<string, unknown>[] {
    return this.uploads.flatMap((u) => u.events);
  }

  stop(): Promise<void> {
    this.#server?.closeAllConnections();
    return new Promise((r) => this.#server?.close(() => r()) ?? r());
  }
}
