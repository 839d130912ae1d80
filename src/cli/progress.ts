/**
 * A one-line progress bar on stderr for the commands that read a whole log (`audit verify`,
 * `policy diff`): shown only on a terminal, and only once the work has taken a second, so scripts
 * and short runs print nothing extra.
 */
export function progress(total: number, verb: string, unit = 'records'): { update: (n: number) => void; done: () => void } {
  const started = Date.now();
  let shown = false;
  return {
    update: (n) => {
      if (!process.stderr.isTTY || total === 0 || Date.now() - started < 1000) return;
      shown = true;
      const width = 30;
      const filled = Math.round((Math.min(n, total) / total) * width);
      process.stderr.write(`\r${verb} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total} ${unit}`);
    },
    done: () => {
      if (shown) process.stderr.write('\n');
    },
  };
}
