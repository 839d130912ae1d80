/**
 * Streaming latency, which wrk cannot see: N sequential `stream: true` chat requests, each timed to
 * its first byte, to its first SSE event and to its end. Run pinned to the load core; prints one
 * JSON line. Usage: node sse-client.js URL N [AUTH]
 */
import { request } from 'undici';

const [, , url, n = '200', auth] = process.argv;
const body = JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'Summarise the last charge.' }] });
const ttfb: number[] = [];
const firstEvent: number[] = [];
const perEvent: number[] = [];

for (let i = 0; i < Number(n); i++) {
  const t0 = process.hrtime.bigint();
  const r = await request(url!, { method: 'POST', body, headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) } });
  const tHeaders = process.hrtime.bigint();
  let tFirst = 0n;
  let events = 0;
  for await (const chunk of r.body) {
    if (tFirst === 0n) tFirst = process.hrtime.bigint();
    events += (chunk.toString().match(/\n\n/g) ?? []).length;
  }
  const tEnd = process.hrtime.bigint();
  if (r.statusCode !== 200 || events < 2) throw new Error(`stream ${i}: status ${r.statusCode}, ${events} events`);
  ttfb.push(Number(tHeaders - t0) / 1e6);
  firstEvent.push(Number(tFirst - t0) / 1e6);
  perEvent.push(Number(tEnd - tFirst) / 1e6 / Math.max(1, events - 1));
}
const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const p99 = (a: number[]) => a.sort((x, y) => x - y)[Math.min(a.length - 1, Math.ceil(a.length * 0.99) - 1)]!;
process.stdout.write(`SSEJSON ${JSON.stringify({ n: Number(n), ttfb_p50_ms: med(ttfb), first_event_p50_ms: med(firstEvent), first_event_p99_ms: p99(firstEvent), per_event_p50_ms: med(perEvent) })}\n`);
