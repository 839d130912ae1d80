/**
 * `regate witness serve`: the witness as its own HTTP service (node:http), with its own key and
 * store. POST /add-checkpoint is the C2SP tlog-witness call; GET /checkpoint?origin=O gives the
 * latest checkpoint it cosigned for a log (what an auditor keeps); GET /alarms lists the rollbacks
 * and forks it refused, one JSON object a line.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { keyIdOf, parseVerifierKey, verifierKey, type TrustedKey } from '../audit/index.js';
import { WitnessConfigError } from './errors.js';
import { loadOrCreateWitnessKey, WitnessStore } from './store.js';
import { Witness } from './witness.js';

export interface WitnessServeOptions {
  /** The witness's folder: its key and store. */
  dir: string;
  /** Its name, a schema-less URL without spaces or '+' (e.g. witness.example/w1). */
  name: string;
  host?: string;
  port?: number;
  /** The logs it witnesses: each log's verifier key (`regate audit key` prints it); the origin is its name. */
  logs: readonly string[];
}

export interface RunningWitness {
  url: string;
  name: string;
  /** The witness's cosignature verifier key (name+id+base64(0x04||key)), for `verify --witness-key` and `audit.witnesses`. */
  verifierKey: string;
  close: () => Promise<void>;
}

const MAX_BODY = 64 * 1024;

export async function serveWitness(opts: WitnessServeOptions): Promise<RunningWitness> {
  if (!/^[^\s+]+$/u.test(opts.name)) throw new WitnessConfigError(`the witness name "${opts.name}" must be non-empty, without spaces or '+'`);
  const logs = new Map<string, TrustedKey[]>();
  for (const vkey of opts.logs) {
    const parsed = parseVerifierKey(vkey);
    if (typeof parsed === 'string') throw new WitnessConfigError(`--log ${vkey}: ${parsed}`);
    if (parsed.type !== 0x01) throw new WitnessConfigError(`--log ${vkey}: a log key is a note signing key (type 0x01), not a cosignature key`);
    logs.set(parsed.name, [...(logs.get(parsed.name) ?? []), { kid: await keyIdOf(parsed.key), key: parsed.key }]);
  }
  const key = loadOrCreateWitnessKey(opts.dir);
  const store = new WitnessStore(opts.dir);
  const witness = new Witness({ name: opts.name, key, logs, store });
  const server = createServer((req, res) => {
    handle(witness, store, req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `the witness could not answer: ${err.message}\n`);
      else res.destroy(err);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    name: opts.name,
    verifierKey: verifierKey(opts.name, key, 0x04),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(witness: Witness, store: WitnessStore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://witness');
  if (req.method === 'POST' && url.pathname === '/add-checkpoint') {
    const body = await readBody(req);
    if (body === null) return send(res, 413, 'text/plain; charset=utf-8', `the request body is over ${MAX_BODY} bytes\n`);
    const answer = await witness.add(body);
    return send(res, answer.status, answer.contentType, answer.body);
  }
  if (req.method === 'GET' && url.pathname === '/checkpoint') {
    const note = witness.latest(url.searchParams.get('origin') ?? '');
    return note === null ? send(res, 404, 'text/plain; charset=utf-8', 'no checkpoint cosigned for that origin\n') : send(res, 200, 'text/plain; charset=utf-8', note);
  }
  if (req.method === 'GET' && url.pathname === '/alarms') return send(res, 200, 'application/jsonl', store.alarms().map((a) => JSON.stringify(a) + '\n').join(''));
  send(res, 404, 'text/plain; charset=utf-8', 'not found: POST /add-checkpoint, GET /checkpoint?origin=…, GET /alarms\n');
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
