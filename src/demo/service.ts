/**
 * The demo inference service that `regate demo` puts behind the gateway: a fraud-scoring JSON API
 * and an OpenAI-compatible chat endpoint, both answering with (fake, Luhn-valid) card data so the
 * masking and policy decisions have something to act on. Real HTTP, loopback only; it refuses any
 * request without the upstream credential the gateway injects, which shows that clients cannot
 * reach it directly with their own tokens.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listen, sendJson } from '../util/index.js';

export interface DemoServiceOptions {
  host?: string;
  port?: number;
  /** The credential the gateway injects; requests without it get 401. */
  credential: { header: string; value: string };
  /** Pause between streamed chat tokens. */
  tokenDelayMs?: number;
}

export interface DemoService {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** The chat answer, cut so the card number spans several tokens (and SSE events). */
export const CHAT_TOKENS = ['The', ' card', ' on', ' file', ' is', ' 45', '39 14', '88 03', '43 64', '67', ',', ' expiring', ' 09/28', '.'];
export const CHAT_PAN = '4539148803436467';

/** Appends the Luhn check digit to `body` (all digits). */
function withLuhn(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(body.length - 1 - i) - 48;
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

/** A deterministic fake card for row `n`. */
function fakeCard(n: number): { pan: string; cvv: string; expiry: string } {
  const prefix = ['4539', '5425', '4716', '2221'][n % 4]!;
  const middle = String((n * 7919 + 104729) % 100_000_000_000).padStart(11, '0');
  return { pan: withLuhn(prefix + middle), cvv: String(100 + ((n * 37) % 900)), expiry: `${String(1 + (n % 12)).padStart(2, '0')}/${28 + (n % 4)}` };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (!chunks.length) return {};
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function credentialOk(req: IncomingMessage, cred: { header: string; value: string }): boolean {
  const got = req.headers[cred.header.toLowerCase()];
  if (typeof got !== 'string') return false;
  const a = Buffer.from(got);
  const b = Buffer.from(cred.value);
  return a.length === b.length && timingSafeEqual(a, b);
}

function score(body: Record<string, unknown>): unknown {
  const tx = (body.transaction ?? body) as Record<string, unknown>;
  const amount = typeof tx.amount === 'number' ? tx.amount : 100;
  const card = fakeCard(Math.floor(amount));
  return {
    model: 'fraud-v3',
    score: Math.round(Math.min(0.99, amount / 10_000) * 1000) / 1000,
    decision: amount > 5000 ? 'review' : 'approve',
    card,
    reasons: ['amount', 'merchant_category'],
  };
}

function transactions(url: URL): unknown {
  const limit = Math.max(0, Math.min(10_000, Number(url.searchParams.get('limit') ?? 10) || 0));
  const data = Array.from({ length: limit }, (_, i) => {
    const c = fakeCard(i);
    return { id: `tx_${i}`, pan: c.pan, expiry: c.expiry, amount: 10 + ((i * 313) % 5000), currency: 'EUR', merchant: `merchant-${i % 17}` };
  });
  return { object: 'list', data };
}

function completionBase(model: string) {
  return { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model };
}

function chat(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, delayMs: number): void {
  const model = typeof body.model === 'string' ? body.model : 'demo-llm';
  const base = completionBase(model);
  if (body.stream !== true) {
    sendJson(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: CHAT_TOKENS.join('') }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 12, completion_tokens: CHAT_TOKENS.length, total_tokens: 12 + CHAT_TOKENS.length },
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const event = (delta: unknown, finish: string | null) =>
    `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const frames = [event({ role: 'assistant', content: '' }, null), ...CHAT_TOKENS.map((t) => event({ content: t }, null)), event({}, 'stop'), 'data: [DONE]\n\n'];
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  const next = () => {
    if (res.destroyed) return;
    res.write(frames[i++]!);
    if (i < frames.length) timer = setTimeout(next, delayMs);
    else res.end();
  };
  // On the response, not the socket: a keep-alive socket would collect one listener per stream.
  res.once('close', () => clearTimeout(timer));
  next();
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: DemoServiceOptions): Promise<void> {
  if (!credentialOk(req, opts.credential)) {
    sendJson(res, 401, { error: 'upstream_unauthorized', message: `the demo service needs its ${opts.credential.header} credential` });
    return;
  }
  const url = new URL(req.url ?? '/', 'http://demo.invalid');
  const p = url.pathname;
  if (req.method === 'POST' && p === '/v1/score') return sendJson(res, 200, score(await readJson(req)));
  if (req.method === 'GET' && p === '/v1/transactions') return sendJson(res, 200, transactions(url));
  if (req.method === 'POST' && p === '/v1/chat/completions') return chat(req, res, await readJson(req), opts.tokenDelayMs ?? 25);
  if (req.method === 'GET' && p === '/v1/models') {
    return sendJson(res, 200, { object: 'list', data: [{ id: 'demo-llm', object: 'model', created: 0, owned_by: 'regate-demo' }] });
  }
  if (req.method === 'POST' && p === '/v1/models/load') {
    const body = await readJson(req);
    const id = typeof body.model === 'string' ? body.model : 'fraud-v4';
    return sendJson(res, 200, { id, object: 'model', status: 'loaded' });
  }
  const del = /^\/v1\/models\/([^/]+)$/.exec(p);
  if (req.method === 'DELETE' && del) return sendJson(res, 200, { id: decodeURIComponent(del[1]!), object: 'model', deleted: true });
  sendJson(res, 404, { error: 'not_found', message: `the demo service has no ${req.method} ${p}` });
}

export async function startDemoService(opts: DemoServiceOptions): Promise<DemoService> {
  const server = createServer((req, res) => {
    handle(req, res, opts).catch(() => res.destroy());
  });
  const url = await listen(server, opts.host ?? '127.0.0.1', opts.port ?? 0);
  return { url, server, close: () => closeServer(server) };
}
