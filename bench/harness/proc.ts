/**
 * Starting contenders as pinned child processes and charging them what they used: CPU seconds
 * (utime+stime of the process and its descendants, from /proc) and peak RSS (VmHWM summed over the
 * tree, since nginx and `--workers` run several processes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

export interface Started {
  child: ChildProcess;
  port: number;
  /** The admin listener's port, where the process names it (`regate ready … (admin http://127.0.0.1:N)`). */
  adminPort?: number;
  stop(): Promise<void>;
}

/** Spawns `cmd` pinned to `cpus`; resolves once it prints `listening <port>` or `regate ready <url>`, or at once for a given `readyPort`. */
export function startPinned(cpus: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; readyPort?: number } = {}): Promise<Started> {
  const child = spawn('taskset', ['-c', cpus, cmd, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const pattern = /(?:listening |regate ready http:\/\/127\.0\.0\.1:)(\d+)/;
  if (opts.readyPort !== undefined) {
    // A fixed-port process that prints nothing when ready: the caller polls it over HTTP.
    child.stdout!.resume();
    child.stderr!.resume();
    return Promise.resolve({ child, port: opts.readyPort, stop: () => stop(child) });
  }
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} did not become ready in 30 s: ${out.slice(-500)}`)); }, 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        const admin = /\(admin http:\/\/127\.0\.0\.1:(\d+)\)/.exec(out);
        resolve({ child, port: Number(m[1]), ...(admin ? { adminPort: Number(admin[1]) } : {}), stop: () => stop(child) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited ${code} before ready: ${out.slice(-500)}`)); });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* exited meanwhile */ }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  return out;
}

export interface Usage { cpuSeconds: number; rssBytes: number }

/** CPU seconds so far and peak RSS of `pid` and its descendants. */
/** CPU seconds `pid` itself used so far, without its children (the `--workers` primary on its own). */
export function ownCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

export function usage(pid: number): Usage {
  let ticks = 0;
  let rss = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (hwm) rss += Number(hwm[1]) * 1024;
    } catch { /* exited meanwhile */ }
  }
  return { cpuSeconds: ticks / TICKS, rssBytes: rss };
}
