/**
 * One writer per log. Record numbers and the hash chain live in the writer's memory, so a second
 * writer on the same directory would overwrite records; readers (verify, tail…) need no lock.
 * The lock is a pid file; one left by a dead process (SIGKILL, crash) is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuditWriteError } from './errors.js';

const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dir>/writer.pid`; returns its release and, when the lock was left by a process that died
 * without releasing it (SIGKILL, crash), that process's id. Permission errors propagate unchanged.
 */
export function lockWriter(dir: string): { release: () => void; deadWriter: number | null } {
  const file = join(dir, 'writer.pid');
  const key = resolve(file);
  let deadWriter: number | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      heldHere.add(key);
      const release = () => {
        heldHere.delete(key);
        rmSync(file, { force: true });
      };
      return { release, deadWriter };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    const held = pid === process.pid ? heldHere.has(key) : Number.isSafeInteger(pid) && pid > 0 && alive(pid);
    if (held) throw new AuditWriteError(`the audit log at ${dir} is already open for writing by process ${pid} (${file}); a log has one writer`);
    deadWriter = Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
    rmSync(file, { force: true });
  }
  throw new AuditWriteError(`could not take the writer lock ${file}: another process keeps taking it`);
}
