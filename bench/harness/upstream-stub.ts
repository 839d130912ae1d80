/**
 * The upstream every contender proxies to: a small JSON answer (`/json`, `/v1/score`), rows dense
 * with card numbers (`/dense`, `/v1/transactions`), an OpenAI chat completion, and an OpenAI-style
 * SSE stream of 200 tokens (`/sse`, or `stream: true` on `/v1/chat/completions`).
 * It runs in its own process so its CPU is not charged to the contender.
 */
import { createServer } from 'node:http';

const json = JSON.stringify({ id: 'txn_01', score: 0.12, decision: 'approve', model: 'fraud-v3', card: { brand: 'visa', last4: '1111' } });
const denseBody = JSON.stringify({
  rows: Array.from({ length: 20 }, (_, i) => ({ id: i, pan: '4111 1111 1111 1111', cvv: '123', note: 'card 5500-0000-0000-0004 on file' })),
});
const chatJson = JSON.stringify({
  id: 'chatcmpl-1', object: 'chat.completion', created: 0, model: 'demo',
  choices: [{ index: 0, message: { role: 'assistant', content: 'The card on file ends in 1111; the charge looks legitimate.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 14, total_tokens: 26 },
});
const tokens = Array.from({ length: 200 }, (_, i) => `tok${i} `);
const sseEvents = tokens.map((t) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: 'demo', choices: [{ index: 0, delta: { content: t }, finish_reason: null }] })}\n\n`,
);

export function startStub(port: number): Promise<number> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      const url = req.url ?? '/';
      const chat = url.startsWith('/v1/chat/completions');
      if (url.startsWith('/sse') || (chat && /"stream"\s*:\s*true/.test(body))) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const e of sseEvents) res.write(e);
        res.end('data: [DONE]\n\n');
        return;
      }
      const answer = chat ? chatJson : url.startsWith('/dense') || url.startsWith('/v1/transactions') ? denseBody : json;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const port = await startStub(Number(process.argv[2] ?? 0));
  process.stdout.write(`listening ${port}\n`);
}
