/**
 * How each contender is started. Every one gets CPU 0 (the load generator and the upstream stub share
 * CPU 1), so figures compare what each proxy does with the same single core.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPinned, type Started } from './proc.js';

export const CONTENDER_CPU = '0';
export const LOAD_CPU = '1';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export function startStub(): Promise<Started> {
  return startPinned(LOAD_CPU, process.execPath, [here('./upstream-stub.js'), '0']);
}

export function startBareProxy(upstream: string, opaUrl?: string): Promise<Started> {
  return startPinned(CONTENDER_CPU, process.execPath, [here('./bare-proxy.js'), '0', upstream, ...(opaUrl ? ['--opa', opaUrl] : [])]);
}

/** `opa run --server` on the default policy source, pinned with the proxy that asks it. */
export async function startOpaServer(opaBin: string, regoDir: string): Promise<Started> {
  const port = await freePort();
  return startPinned(CONTENDER_CPU, opaBin, ['run', '--server', '--log-level', 'error', '--addr', `127.0.0.1:${port}`, regoDir], {
    readyPort: port,
  }).then(async (s) => {
    await waitHttp(`http://127.0.0.1:${port}/health`);
    return s;
  });
}

/** nginx from Debian: one worker, keep-alive upstream, no buffering, no logging. */
export async function startNginx(upstream: string): Promise<Started> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  const u = new URL(upstream);
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream up { server ${u.host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
`);
  const s = await startPinned(CONTENDER_CPU, '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { readyPort: port });
  await waitHttp(`http://127.0.0.1:${port}/json`);
  return s;
}

export async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${url} not answering after ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
