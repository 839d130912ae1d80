/**
 * Contender 2: the floor of any Node proxy — node:http in, one undici Pool out, bodies piped,
 * nothing inspected. With `--opa URL` it is contender 5: the same proxy asking an OPA server over
 * REST for every decision before forwarding, as external-authorisation set-ups do.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [, , listenPort, upstream, flag, opaUrl] = process.argv;
const pool = new Pool(upstream!, { connections: 128, pipelining: 1 });
const opa = flag === '--opa' && opaUrl ? new Pool(new URL(opaUrl).origin, { connections: 64 }) : null;

const hop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);

async function allowed(method: string, path: string, headers: Record<string, string>): Promise<boolean> {
  if (!opa) return true;
  const input = {
    identity: { sub: 'bench', iss: 'bench', groups: ['fraud-analysts'], claims: {} },
    request: { method, path, query: {}, headers, body: null, body_bytes: 0 },
    route: { name: 'bench' }, usage: { requests_last_minute: 1 }, approval: null, grants: [], time: { now_ns: Date.now() * 1e6 },
  };
  const r = await opa.request({ method: 'POST', path: '/v1/data/regate/decision', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
  const out = (await r.body.json()) as { result?: { allow?: boolean; hold?: unknown } };
  return out.result?.allow === true && !out.result.hold;
}

const server = createServer(async (req, res) => {
  try {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!hop.has(k) && typeof v === 'string') headers[k] = v;
    const url = new URL(req.url ?? '/', 'http://x');
    if (!(await allowed(req.method ?? 'GET', url.pathname, headers))) {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"forbidden"}');
      return;
    }
    const r = await pool.request({ method: req.method as 'GET', path: req.url ?? '/', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req });
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(r.headers)) if (!hop.has(k) && v !== undefined) out[k] = v;
    res.writeHead(r.statusCode, out);
    for await (const chunk of r.body) res.write(chunk);
    res.end();
  } catch {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":"upstream"}');
  }
});
server.keepAliveTimeout = 60_000;
server.listen(Number(listenPort ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
