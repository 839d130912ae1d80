/**
 * HAProxy (Debian's `haproxy`) in front of test nodes: HTTP mode, round-robin per request (the
 * server-side connection is closed after each exchange, so one keep-alive client is spread over
 * the nodes too), a TCP check on each node (a dead node leaves the rotation within a second; a connection it
 * refuses before then is retried on the next node), long timeouts for held requests. Config in a temp
 * folder; `stop()` ends the process and removes it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './postgres.js';

export interface TestHaproxy {
  url: string;
  stop(): Promise<void>;
}

export async function startHaproxy(backends: string[]): Promise<TestHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'regate-haproxy-'));
  const port = await freePort();
  const servers = backends.map((b, i) => {
    const u = new URL(b);
    return `  server node${i + 1} ${u.hostname}:${u.port} check inter 500 fall 2 rise 1`;
  });
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, [
    'global', '  maxconn 256', 'defaults', '  mode http', '  timeout connect 2s', '  timeout client 120s', '  timeout server 120s',
    '  option http-server-close', '  retries 3', '  option redispatch 1',
    'frontend regate', `  bind 127.0.0.1:${port}`, '  default_backend nodes',
    'backend nodes', '  balance roundrobin', ...servers, '',
  ].join('\n'));
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready when the frontend accepts connections.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${err}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false);
    if (ok) break;
    if (i > 100) throw new Error(`haproxy did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
