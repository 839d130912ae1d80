/**
 * A separate process for the crash and permission tests (not a test file itself):
 * - `writer STATE`: appends from 20 concurrent callers until killed, printing "<seq> <request_id>"
 *   for every acknowledged append, so the parent knows exactly what was promised durable;
 * - `readonly STATE`: opens the log and tries one append, printing the outcome as JSON.
 */
import { join } from 'node:path';
import { AuditLog, loadOrCreateAuditKey } from '../../src/audit/index.js';
import { sampleEvent } from './helpers.js';

const [mode, state] = process.argv.slice(2) as [string, string];
const key = await loadOrCreateAuditKey(state);
const log = await AuditLog.open({ dir: join(state, 'audit'), signingKey: key.privateKey, keyId: key.keyId, segmentRecords: 100 });

if (mode === 'writer') {
  // Never outlive a parent that failed to kill us.
  setTimeout(() => process.exit(3), 20_000).unref();
  let i = 0;
  const caller = async () => {
    for (;;) {
      const event = sampleEvent(i++);
      const { seq } = await log.append(event);
      process.stdout.write(`${seq} ${'request_id' in event ? event.request_id : ''}\n`);
    }
  };
  await Promise.all(Array.from({ length: 20 }, caller));
} else {
  const result = await log.append(sampleEvent(0)).then(
    (r) => ({ appended: r.seq }),
    (err: { code?: string; message?: string }) => ({ code: err.code, message: err.message }),
  );
  process.stdout.write(JSON.stringify(result) + '\n');
  await log.close().catch(() => undefined);
}
