/**
 * Durability and failure: an acknowledged record survives SIGKILL of the writer; a full log and a
 * read-only log refuse appends with a typed error and lose nothing already written.
 */
import { test } from 'uvu';
import { runCli } from '../helpers/cli.js';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AuditLogFullError, AuditReadOnlyError, captureBody, openStore, readTrustedKeys, storeInput, verifyLog, type VerifyResult } from '../../src/audit/index.js';
import { parseRecord } from '../../src/audit/record.js';
import { fixture, openLog, sampleEvent, writeLog, type Fixture } from './helpers.js';

const child = fileURLToPath(new URL('./audit-child.js', import.meta.url));

async function verifyDir(f: Fixture): Promise<{ result: VerifyResult; requestIdAt: (seq: number) => string | undefined }> {
  const store = openStore(f.dir, { readOnly: true });
  try {
    const result = await verifyLog(storeInput(store).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true });
    const ids = new Map<number, string>();
    for (const { key, value } of store.records.getRange()) {
      const r = parseRecord(value);
      if (typeof r !== 'string' && 'request_id' in r.event && typeof r.event.request_id === 'string') ids.set(key, r.event.request_id);
    }
    return { result, requestIdAt: (seq) => ids.get(seq) };
  } finally {
    await store.env.close();
  }
}

test('every record acknowledged before SIGKILL is there after reopening, and the log verifies', async () => {
  const f = await fixture();
  try {
    const proc = spawn(process.execPath, [child, 'writer', f.state], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const giveUp = setTimeout(() => reject(new Error('the writer acknowledged too few records in 15 s')), 15_000);
      proc.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        // Kill mid-stream, with appends and seals in flight.
        if (out.split('\n').length > 1500 && !proc.killed) {
          clearTimeout(giveUp);
          proc.kill('SIGKILL');
          resolve();
        }
      });
      proc.on('exit', (code) => reject(new Error(`writer exited by itself (${code})`)));
    });
    await new Promise((r) => proc.once('close', r));
    const acked = out.split('\n').slice(0, -1).map((l) => l.split(' ') as [string, string]);
    assert.ok(acked.length >= 1500);

    // Reopening seals what the crash left unsealed.
    const log = await openLog(f);
    await log.close();
    const { result, requestIdAt } = await verifyDir(f);
    assert.ok(result.ok, result.ok ? '' : result.fault.message);
    for (const [seq, id] of acked) assert.is(requestIdAt(Number(seq)), id, `acknowledged record ${seq} is missing or different`);
    assert.is(result.summary.unsealed, 0);
    // The unclean stop is on record: the dead writer's process id, and what was sealed for it.
    const tail = await runCli(['audit', 'tail', '--dir', f.dir]);
    const recovered = tail.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).event).filter((e) => e.type === 'gateway.recovered');
    assert.is(recovered.length, 1);
    assert.match(recovered[0].reason, new RegExp(`^process ${proc.pid} stopped without closing the audit log`));
  } finally {
    f.cleanup();
  }
});

test('a full log rejects appends with AuditLogFullError and keeps every acknowledged record', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { mapSizeBytes: 512 * 1024, segmentRecords: 20 });
    const body = captureBody('x'.repeat(4000));
    const acked: Array<[number, string]> = [];
    let error: unknown;
    for (let i = 0; i < 500 && !error; i++) {
      await log.append({ ...(sampleEvent(0) as Extract<ReturnType<typeof sampleEvent>, { type: 'request.decision' }>), request_id: `big${i}`, request_body: body }).then(
        (r) => acked.push([r.seq, `big${i}`]),
        (err: unknown) => (error = err),
      );
    }
    assert.instance(error, AuditLogFullError);
    assert.is((error as AuditLogFullError).code, 'ERR_AUDIT_LOG_FULL');
    assert.match((error as Error).message, `the audit log at ${f.dir} is full`);
    await log.append(sampleEvent(1)).then(() => assert.unreachable('a full log must keep refusing'), (err) => assert.instance(err, AuditLogFullError));
    await log.close();
    const { result, requestIdAt } = await verifyDir(f);
    assert.ok(result.ok, result.ok ? '' : result.fault.message);
    assert.ok(acked.length > 10);
    for (const [seq, id] of acked) assert.is(requestIdAt(seq), id);
  } finally {
    f.cleanup();
  }
});

test('a read-only log directory rejects appends with AuditReadOnlyError and loses nothing', async () => {
  const f = await fixture();
  try {
    await writeLog(f, 10, 100);
    chmodSync(f.state, 0o755);
    for (const file of readdirSync(f.dir)) chmodSync(`${f.dir}/${file}`, 0o444);
    chmodSync(f.dir, 0o555);
    chmodSync(`${f.state}/audit.key.pem`, 0o644);
    // root ignores file modes: run the writer as nobody then; otherwise in this process.
    let outcome: { code?: string; message?: string; appended?: number };
    if (process.getuid?.() === 0) {
      const r = spawnSync(process.execPath, [child, 'readonly', f.state], { uid: 65534, gid: 65534, encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      outcome = JSON.parse(r.stdout);
    } else {
      const log = await openLog(f);
      outcome = await log.append(sampleEvent(0)).then((r) => ({ appended: r.seq }), (err: AuditReadOnlyError) => ({ code: err.code, message: err.message }));
      await log.close();
    }
    assert.is(outcome.code, AuditReadOnlyError.code);
    assert.match(outcome.message ?? '', `the audit log at ${f.dir} cannot be written`);
    chmodSync(f.dir, 0o755);
    const { result } = await verifyDir(f);
    assert.ok(result.ok && result.summary.records === 10, JSON.stringify(result));
  } finally {
    f.cleanup();
  }
});

test.run();
