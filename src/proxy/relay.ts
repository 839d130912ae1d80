/**
 * Streams an upstream body (through its masker, if any) into the client's response: what
 * stream.pipeline did here, minus the error objects and AbortController it creates on every call
 * even when everything succeeds (about 4 % of the hot path's profile, bench/README.md).
 */
import type { ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';

/**
 * Resolves once the response has finished, or the client has gone (`res.writableFinished` tells
 * which); rejects with the first error of a stage. On either failure every stage is destroyed.
 */
export function relay(source: Readable, through: Duplex | null, res: ServerResponse): Promise<void> {
  const stages: Readable[] = through ? [source, through] : [source];
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err || !res.writableFinished) for (const s of stages) s.destroy();
      if (err) reject(err);
      else resolve();
    };
    // `on`, not `once`: a stage erroring again after the first must not become an uncaught error.
    for (const s of stages) s.on('error', settle);
    res.on('error', settle);
    res.once('finish', () => settle());
    res.once('close', () => settle());
    (through ? source.pipe(through) : source).pipe(res);
  });
}
