/**
 * `regate audit …`: what an auditor runs. verify (store or export files, exit 1 naming the first
 * fault), export, prove / verify-proof, replay one request, tail for a SIEM. Every reader opens the
 * LMDB store read-only, so it can run beside a live gateway.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import {
  AuditLog, AuditWriteError, checkpointFileJws, exportSegments, loadOrCreateAuditKey, type ExportResult, fileInput, findExchange, openStore, proveInclusion, readTrustedKeys, statePublicKeyFiles, storeInput,
  tailRecords, verifyInclusion, verifyLog, AuditReadError, type BodyCapture, type InclusionProof, type RequestDecisionEvent, type RequestOutcomeEvent,
  type Store, type VerifySummary,
} from '../audit/index.js';
import { UsageError, VerificationFailed } from './exit.js';
import { progress } from './progress.js';

interface Where { dir?: string; state?: string }

const where = <T>(y: Argv<T>) =>
  y
    .option('dir', { type: 'string', describe: 'The audit log directory (LMDB)' })
    .option('state', { type: 'string', describe: 'A gateway state directory: the log is <state>/audit, the keys <state>/audit.pub*.pem' });

function logDir(a: Where): string {
  if (a.dir) return a.dir;
  if (a.state) return join(a.state, 'audit');
  throw new UsageError('name the log with --dir DIR (or --state DIR)');
}

function keyFiles(a: Where & { key?: string[] }): string[] {
  if (a.key && a.key.length > 0) return a.key;
  if (a.state) return statePublicKeyFiles(a.state);
  throw new UsageError('name the public key(s) with --key PUB.pem (PEM or JWKS; repeat for rotated keys)');
}

async function withStore<T>(a: Where, fn: (store: Store) => Promise<T> | T): Promise<T> {
  const store = openStore(logDir(a), { readOnly: true });
  try {
    return await fn(store);
  } finally {
    await store.env.close();
  }
}

/** Reads a file the user named (`-` is stdin); a missing one is a usage error, not a crash. */
function readText(file: string, what: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the ${what} ${file === '-' ? 'from stdin' : file}: ${(err as Error).message}`);
  }
}

function describe(s: VerifySummary): string {
  const lines = [
    s.segments
      ? `audit log ${s.logId}: intact. ${s.records - s.unsealed} records in segments ${s.segments.first}..${s.segments.last}, signed by ${s.kids.join(', ')}.`
      : `audit log: intact. No sealed segment yet.`,
  ];
  if (s.segments && s.segments.first > 0) lines.push(`These files start at segment ${s.segments.first}: segments before it were not checked.`);
  if (s.unsealed > 0) lines.push(`${s.unsealed} newer records are not sealed yet (hash chain checked, no signature yet).`);
  if (s.lastCheckpointMatched) lines.push('The given last checkpoint is in the log, byte for byte: nothing before it was truncated.');
  if (s.decisionsWithoutOutcome.length > 0) {
    const list = s.decisionsWithoutOutcome.slice(0, 10).map((d) => `request ${d.request_id} (record ${d.seq})`).join(', ');
    lines.push(`${s.decisionsWithoutOutcome.length} request decision(s) without an outcome (the gateway stopped between decision and response; not tampering): ${list}${s.decisionsWithoutOutcome.length > 10 ? ', …' : ''}.`);
  }
  return lines.join('\n') + '\n';
}

interface VerifyArgs extends Where { files?: string[]; key?: string[]; checkpoint?: string; json: boolean }

const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify [files..]',
  describe: 'Verify a log (LMDB store or export files) offline with public key(s)',
  builder: (y) =>
    where(y)
      .positional('files', { type: 'string', array: true, describe: 'Export files or directories (instead of --dir)' })
      .option('key', { type: 'string', array: true, describe: 'Trusted public key: PEM or JWKS file (repeatable)' })
      .option('checkpoint', { type: 'string', describe: "Your last checkpoint file: the log must still contain it" })
      .option('json', { type: 'boolean', default: false, describe: 'Print the summary as JSON' })
      .example('$0 audit verify --state .regate', 'verify the demo log with its public key')
      .example('$0 audit verify ./export --key audit.pub.pem --checkpoint last.checkpoint.json', 'verify exported segments'),
  handler: async (a) => {
    const keys = await readTrustedKeys(keyFiles(a));
    const last = a.checkpoint ? checkpointFileJws(readText(a.checkpoint, 'checkpoint'), a.checkpoint) : undefined;
    const run = async (source: { input: Parameters<typeof verifyLog>[0]; total: number }, fromGenesis: boolean) => {
      const bar = progress(source.total, 'verifying');
      try {
        return await verifyLog(source.input, { keys, fromGenesis, ...(last ? { lastCheckpoint: last } : {}), onProgress: bar.update });
      } finally {
        bar.done();
      }
    };
    if (a.files && a.files.length > 0 && (a.dir || a.state)) throw new UsageError('verify either export files or a store (--dir/--state), not both');
    const result = a.files && a.files.length > 0 ? await run(fileInput(a.files), false) : await withStore(a, (store) => run(storeInput(store), true));
    if (!result.ok) throw new VerificationFailed(`audit log is NOT intact: ${result.fault.message}`);
    process.stdout.write(a.json ? JSON.stringify(result.summary) + '\n' : describe(result.summary));
  },
};

interface ExportArgs extends Where { out: string; from?: number; to?: number }

const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'Write sealed segments as JSONL + checkpoint files, verifiable without LMDB',
  builder: (y) =>
    where(y)
      .option('out', { type: 'string', demandOption: true, describe: 'Output directory' })
      .option('from', { type: 'number', describe: 'First record number wanted' })
      .option('to', { type: 'number', describe: 'Last record number wanted' }),
  handler: async (a) => {
    const r = await withStore(a, (store) => exportSegments(store, a.out, { from: a.from, to: a.to }));
    if (r.segments.length === 0) throw new UsageError(`no sealed segment in ${logDir(a)} holds records ${a.from ?? 0}..${a.to ?? 'end'}`);
    const recorded = await recordExport(a, r);
    process.stdout.write(`exported segments ${r.segments[0]}..${r.segments[r.segments.length - 1]} (${r.records} records) to ${a.out}; ${recorded}\n`);
  },
};

/**
 * Access to the audit log is itself audited (PCI DSS 10.2.1.3). Given --state (whose signing key
 * this can use) and no gateway holding the log, the export is appended as a log.exported record.
 */
async function recordExport(a: ExportArgs, r: ExportResult): Promise<string> {
  if (!a.state || !existsSync(join(a.state, 'audit.key.pem'))) return 'not recorded in the log (give --state to record exports)';
  const key = await loadOrCreateAuditKey(a.state);
  let log: AuditLog;
  try {
    log = await AuditLog.open({ dir: logDir(a), signingKey: key.privateKey, keyId: key.keyId });
  } catch (err) {
    if (err instanceof AuditWriteError) return `not recorded in the log: ${err.message}`;
    throw err;
  }
  try {
    const first = r.firstRecord;
    const { seq } = await log.append({ type: 'log.exported', actor: process.env.USER ?? userInfo().username, first, last: first + r.records - 1, target: resolve(a.out) });
    return `recorded in the log as record ${seq}`;
  } catch (err) {
    if (err instanceof AuditWriteError) return `not recorded in the log: ${err.message}`;
    throw err;
  } finally {
    await log.close();
  }
}

const proveCommand: CommandModule<object, Where & { seq: number; out?: string }> = {
  command: 'prove',
  describe: 'Print an inclusion proof for one record',
  builder: (y) =>
    where(y)
      .option('seq', { type: 'number', demandOption: true, describe: 'Record number' })
      .option('out', { type: 'string', describe: 'Write the proof here instead of stdout' }),
  handler: (a) =>
    withStore(a, (store) => {
      const proof = JSON.stringify(proveInclusion(store, a.seq), null, 2) + '\n';
      if (a.out) writeFileSync(a.out, proof);
      else process.stdout.write(proof);
    }),
};

const verifyProofCommand: CommandModule<object, Where & { proof: string; key?: string[] }> = {
  command: 'verify-proof [proof]',
  describe: 'Check an inclusion proof (file, or - for stdin) against public key(s)',
  builder: (y) =>
    where(y)
      .positional('proof', { type: 'string', default: '-' })
      .option('key', { type: 'string', array: true, describe: 'Trusted public key: PEM or JWKS file (repeatable)' }),
  handler: async (a) => {
    const keys = await readTrustedKeys(keyFiles(a));
    const text = readText(a.proof, 'proof');
    let proof: InclusionProof;
    try {
      proof = JSON.parse(text) as InclusionProof;
    } catch (err) {
      throw new UsageError(`the proof ${a.proof} is not JSON: ${(err as Error).message}`);
    }
    const r = await verifyInclusion(proof, keys);
    if (!r.ok) throw new VerificationFailed(r.message);
    process.stdout.write(`record ${r.record.seq} (${r.record.event.type}, ${r.record.ts}) is included in segment ${r.segment}, signed by a trusted key.\n`);
  },
};

/** A recorded body as replay shows it: what was kept (masked), and how much of the whole that is. */
function bodyBlock(side: string, body: BodyCapture | null): string {
  if (body === null) return `# ${side} body: none recorded\n`;
  const shown = body.truncated ? `first ${Buffer.byteLength(body.text)} of ${body.bytes} bytes` : `${body.bytes} bytes`;
  return `# ${side} body (masked, ${shown}, sha256 ${body.sha256}):\n${body.text}\n`;
}

const replayCommand: CommandModule<object, Where & { requestId: string }> = {
  command: 'replay <requestId>',
  describe: 'Show one request as recorded (masked): decision, holds, outcome',
  builder: (y) => where(y).positional('requestId', { type: 'string', demandOption: true, describe: 'The request id (x-request-id the gateway gave the client)' }),
  handler: (a) =>
    withStore(a, (store) => {
      const records = findExchange(store, a.requestId);
      if (records.length === 0) throw new UsageError(`no record of request ${a.requestId} in ${logDir(a)}`);
      for (const r of records) process.stdout.write(`# record ${r.seq}  ${r.ts}  ${r.event.type}\n${JSON.stringify(r.event, null, 2)}\n`);
      const decision = records.find((r) => r.event.type === 'request.decision')?.event as RequestDecisionEvent | undefined;
      const outcome = records.find((r) => r.event.type === 'request.outcome')?.event as RequestOutcomeEvent | undefined;
      if (decision) process.stdout.write(`# ${decision.method} ${decision.path} by ${decision.subject}: ${decision.decision.effect} (${decision.decision.reason})\n${bodyBlock('request', decision.request_body)}`);
      if (outcome) process.stdout.write(`# answered ${outcome.status}${outcome.error ? ` (${outcome.error})` : ''}, ${outcome.bytes_in} bytes in, ${outcome.bytes_out} bytes out\n${bodyBlock('response', outcome.response_body)}`);
      else if (decision) process.stdout.write('# no outcome recorded: the gateway stopped before the response ended\n');
    }),
};

const tailCommand: CommandModule<object, Where & { from?: number; follow: boolean }> = {
  command: 'tail',
  describe: 'Stream records as JSONL (for a SIEM); --follow keeps waiting for new ones',
  builder: (y) =>
    where(y)
      .option('from', { type: 'number', describe: 'First record number (default 0)' })
      .option('follow', { alias: 'f', type: 'boolean', default: false }),
  handler: (a) =>
    withStore(a, async (store) => {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        for await (const bytes of tailRecords(store, { from: a.from, follow: a.follow, signal: stop.signal })) {
          if (!process.stdout.write(Buffer.concat([bytes, Buffer.from('\n')]))) await new Promise((r) => process.stdout.once('drain', r));
        }
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    }),
};

/** Input the user named that cannot be read (no log there, no key file) is a usage error: exit 2, not 1. */
function readErrorsAreUsage<T>(cmd: CommandModule<object, T>): CommandModule {
  return {
    ...cmd,
    handler: async (a) => {
      try {
        await cmd.handler(a as never);
      } catch (err) {
        throw err instanceof AuditReadError ? new UsageError(err.message, { cause: err }) : err;
      }
    },
  } as CommandModule;
}

/** `regate audit <subcommand>` */
export const auditCommand: CommandModule = {
  command: 'audit <command>',
  describe: 'Verify, export, prove and read the signed audit log',
  builder: (y) =>
    y
      .command(readErrorsAreUsage(verifyCommand))
      .command(readErrorsAreUsage(exportCommand))
      .command(readErrorsAreUsage(proveCommand))
      .command(readErrorsAreUsage(verifyProofCommand))
      .command(readErrorsAreUsage(replayCommand))
      .command(readErrorsAreUsage(tailCommand))
      .demandCommand(1, 'Name an audit command: verify, export, prove, verify-proof, replay or tail.'),
  handler: () => undefined,
};
