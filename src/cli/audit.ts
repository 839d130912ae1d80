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
  AuditLog, AuditWriteError, archiveInput, LogReader, checkpointFile, exportSegments, loadOrCreateAuditKey, type ExportResult, fileInput, findExchange, openStore, parseVerifierKey, proveConsistency, proveInclusion,
  readTrustedKeys, statePublicKeyFiles, stateTrust, storeInput, storyLine, tailRecords, verifyConsistency, verifyInclusion, verifyLog, AuditReadError, type BodyCapture, type ConsistencyProof,
  type AuditArchive, type AuditRecord, type InclusionProof, type LegacyInclusionProof, type RequestDecisionEvent, type RequestOutcomeEvent, type Store, type TrustedKey, type VerifySummary, type Witness, verifierKey,
} from '../audit/index.js';
import { archiveTarget, describeVerdicts, exportArchive, verifyArchive } from './audit-cluster.js';
import { applyConfig, openArchive, type LogLocation } from './audit-config.js';
import { UsageError, VerificationFailed } from './exit.js';
import { report, verdict } from './output.js';
import { progress } from './progress.js';

type Where = LogLocation;

const where = <T>(y: Argv<T>) =>
  y
    .option('config', { type: 'string', describe: "The gateway's config file (default $REGATE_CONFIG): its state folder (keys), audit.dir and archive (audit.archive.dir or the cluster store); flags win" })
    .option('dir', { type: 'string', describe: 'The audit log directory (LMDB)' })
    .option('state', { type: 'string', describe: 'A gateway state directory: the log is <state>/audit, the keys <state>/audit.pub*.pem' })
    .option('archive', { type: 'string', describe: "The archive folder (audit.archive.dir): read archive + live store as one log (segments pruned from the store are read there)" });

function logDir(a: Where): string {
  if (a.dir) return a.dir;
  if (a.state) return join(a.state, 'audit');
  throw new UsageError('name the log with --config FILE (the gateway\'s config, or set REGATE_CONFIG), --dir DIR or --state DIR');
}

function keyFiles(a: Where & { key?: string[] }): string[] {
  if (a.key && a.key.length > 0) return a.key;
  if (a.state) return statePublicKeyFiles(a.state);
  throw new UsageError('name the public key(s) with --key PUB.pem (PEM or JWKS; repeat for rotated keys)');
}

/**
 * The keys a check trusts: those named with --key; with --state, only the gateway's own key (from
 * its private key, else audit.pub.pem). The other audit.pub.*.pem files there are candidates, trusted
 * only where a key.rotated record signed by a trusted key vouches for them.
 */
async function trustOf(a: Where & { key?: string[] }): Promise<{ keys: TrustedKey[]; candidates: TrustedKey[] }> {
  if ((a.key && a.key.length > 0) || !a.state) return { keys: await readTrustedKeys(keyFiles(a)), candidates: [] };
  return stateTrust(a.state);
}

/** Every key a sanity check may meet (exports and proofs are checked as made, not judged). */
async function allKeys(a: Where & { key?: string[] }): Promise<TrustedKey[]> {
  const t = await trustOf(a);
  return [...t.keys, ...t.candidates];
}

async function withStore<T>(a: Where, fn: (store: Store) => Promise<T> | T): Promise<T> {
  const store = openStore(logDir(a), { readOnly: true });
  try {
    return await fn(store);
  } finally {
    await store.env.close();
  }
}

/** The store and the archive it was pruned to (--archive, or the --config's), open for `fn`. */
function withArchive<T>(a: Where, fn: (store: Store, archive: AuditArchive | null) => Promise<T> | T): Promise<T> {
  return withStore(a, async (store) => {
    const opened = await openArchive(a, store);
    try {
      return await fn(store, opened.archive);
    } finally {
      await opened.close();
    }
  });
}

/** The log as one: the archive up to where the store was pruned, then the store. */
function withReader<T>(a: Where, fn: (reader: LogReader) => Promise<T> | T): Promise<T> {
  return withArchive(a, (store, archive) => fn(new LogReader(store, archive)));
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
  if (s.treeHead) lines.push(`Tree head: size ${s.treeHead.size}, root ${s.treeHead.root}.`);
  if (s.segments && s.segments.first > 0) lines.push(`These files start at segment ${s.segments.first}, checked against the signed checkpoint before it: records before it were not checked.`);
  if (s.unsealed > 0) lines.push(`${s.unsealed} newer records are not sealed yet (hash chain checked, no signature yet).`);
  if (s.lastCheckpointMatched) lines.push('Every checkpoint you kept is consistent with this log: nothing they cover was rewritten or truncated.');
  if (s.witnessed) lines.push(`Witnessed: the checkpoint of segment ${s.witnessed.segment} (tree size ${s.witnessed.size}) carries the witnesses' cosignatures.`);
  if (s.decisionsWithoutOutcomeCount > 0) {
    const list = s.decisionsWithoutOutcome.slice(0, 10).map((d) => `request ${d.request_id} (record ${d.seq})`).join(', ');
    lines.push(`${s.decisionsWithoutOutcomeCount} request decision(s) without an outcome (the gateway stopped between decision and response; not tampering): ${list}${s.decisionsWithoutOutcomeCount > 10 ? ', …' : ''}.`);
  }
  return lines.join('\n') + '\n';
}

interface ClusterArgs { cluster?: string; 'password-file'?: string; node?: string }

const clusterOptions = <T>(y: Argv<T>) =>
  y
    .option('cluster', { type: 'string', describe: "The cluster store's archive: a gateway config file (its cluster.postgres) or a postgres:// URL" })
    .option('password-file', { type: 'string', describe: 'With a --cluster URL: file holding the database password' });

interface VerifyArgs extends Where, ClusterArgs { files?: string[]; key?: string[]; checkpoint?: string[]; from?: number; archive?: string; 'witness-key'?: string[]; 'witness-quorum'?: number; 'witness-lag': number; json?: boolean }

/** A checkpoint file the user named: a signed note or JWS, bare or in a checkpoint.json. */
function readCheckpoint(file: string): string {
  return checkpointFile(readText(file, 'checkpoint'), file);
}

/** Witness verifier keys (`name+id+base64`, type 0x04), given inline or as files holding one. */
function readWitnessKeys(given: readonly string[]): Witness[] {
  return given.map((g) => {
    const text = g.includes('+') ? g : readText(g, 'witness key');
    const parsed = parseVerifierKey(text);
    if (typeof parsed === 'string') throw new UsageError(`--witness-key ${g}: ${parsed}`);
    if (parsed.type !== 0x04) throw new UsageError(`--witness-key ${g}: a witness key is a cosignature key (type 0x04), this one is type 0x0${parsed.type}`);
    return { name: parsed.name, key: parsed.key };
  });
}

const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify [files..]',
  describe: 'Verify a log (LMDB store or export files) offline with public key(s)',
  builder: (y) =>
    clusterOptions(where(y))
      .positional('files', { type: 'string', array: true, describe: 'Export files or directories (instead of --dir)' })
      .option('key', { type: 'string', array: true, describe: 'Trusted public key: PEM or JWKS file (repeatable)' })
      .option('checkpoint', { type: 'string', array: true, describe: 'A checkpoint you kept (any age, repeatable): the log must be consistent with it' })
      .option('from', { type: 'number', describe: 'The export must start at or before this record (its first segments may not be missing)' })
      .option('witness-key', { type: 'string', array: true, describe: "A witness's verifier key (name+id+base64, or a file holding it; repeatable): cosignatures are then required" })
      .option('witness-quorum', { type: 'number', describe: 'How many of the witnesses must cosign (default: all)' })
      .option('witness-lag', { type: 'number', default: 0, describe: 'How many newest checkpoints may still lack cosignatures' })
      .example('$0 audit verify --state .regate', 'verify the demo log with its public key')
      .example('$0 audit verify --cluster regate.yaml --key n1.pub.pem --key n2.pub.pem', "every node's log from the cluster store's archive, one line per node")
      .example('$0 audit verify ./export --key audit.pub.pem --checkpoint last.checkpoint.json', 'verify exported segments against a checkpoint you kept'),
  handler: async (a) => {
    const { keys, candidates } = await trustOf(a);
    if (a.cluster !== undefined) {
      const verdicts = await verifyArchive(await archiveTarget(a.cluster, a['password-file']), keys);
      const bad = verdicts.filter((v) => !v.ok);
      return verdict(a.json, describeVerdicts(verdicts), { nodes: verdicts }, bad.length > 0 ? `the archived audit log of ${bad.map((v) => v.node).join(', ')} is NOT intact` : undefined);
    }
    const checkpoints = (a.checkpoint ?? []).map(readCheckpoint);
    const witnesses = readWitnessKeys(a['witness-key'] ?? []);
    const quorum = a['witness-quorum'];
    if (quorum !== undefined && (quorum < 1 || quorum > witnesses.length)) throw new UsageError(`--witness-quorum must be between 1 and the number of --witness-key given (${witnesses.length})`);
    const run = async (source: { input: Parameters<typeof verifyLog>[0]; total: number }, fromGenesis: boolean) => {
      const bar = progress(source.total, 'verifying');
      try {
        return await verifyLog(source.input, { keys, candidateKeys: candidates, fromGenesis, checkpoints, witnesses, witnessLag: a['witness-lag'], onProgress: bar.update, ...(quorum !== undefined ? { quorum } : {}), ...(a.from !== undefined ? { fromRecord: a.from } : {}) });
      } finally {
        bar.done();
      }
    };
    if (a.files && a.files.length > 0 && (a.dir || (a.state && !a.stateFromConfig))) throw new UsageError('verify either export files or a store (--dir/--state), not both');
    if (a.archive !== undefined && a.files && a.files.length > 0) throw new UsageError('--archive goes with a store (--dir/--state), not export files');
    const result = a.files && a.files.length > 0
      ? await run(fileInput(a.files), false)
      : await withArchive(a, (store, archive) => run(archive ? archiveInput(store, archive) : storeInput(store), true));
    // The verdict either way: on a fault, what it is and how far the log checked out before it.
    if (!result.ok) return verdict(a.json, '', { fault: result.fault, ...result.summary }, `audit log is NOT intact: ${result.fault.message}`);
    report(a.json, describe(result.summary), { ...result.summary });
  },
};

interface ExportArgs extends Where, ClusterArgs { out: string; from?: number; to?: number; key?: string[]; json?: boolean }

const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'Write sealed segments as JSONL + checkpoint files, verifiable without LMDB',
  builder: (y) =>
    clusterOptions(where(y))
      .option('node', { type: 'string', describe: "With --cluster: the node id (or log origin) whose archived log to export" })
      .option('out', { type: 'string', demandOption: true, describe: 'Output directory' })
      .option('from', { type: 'number', describe: 'First record number wanted' })
      .option('to', { type: 'number', describe: 'Last record number wanted' })
      .option('key', { type: 'string', array: true, describe: 'Trusted public key the export is checked with as it is made (PEM or JWKS; default: the --state keys)' }),
  handler: async (a) => {
    if (a.cluster !== undefined) {
      if (a.node === undefined) throw new UsageError('--cluster needs --node: the node id (or log origin) whose archived log to export');
      const r = await exportArchive(await archiveTarget(a.cluster, a['password-file']), a.node, a.out);
      return report(a.json, `exported ${r.segments.length} archived segments of ${r.origin} to ${a.out}; verify them with \`regate audit verify ${a.out} --key ...\``, { out: a.out, origin: r.origin, segments: r.segments });
    }
    const keys = await allKeys(a);
    const r = await withReader(a, (reader) => exportSegments(reader, a.out, keys, { from: a.from, to: a.to }));
    if (r.segments.length === 0) throw new UsageError(`no sealed segment in ${logDir(a)} holds records ${a.from ?? 0}..${a.to ?? 'end'}`);
    const recorded = await recordExport(a, r);
    report(a.json, `exported segments ${r.segments[0]}..${r.segments[r.segments.length - 1]} (${r.records} records) to ${a.out}; ${recorded.text}`, {
      out: a.out, segments: r.segments, first_record: r.firstRecord, records: r.records, recorded_as: recorded.seq,
    });
  },
};

/**
 * Access to the audit log is itself audited (PCI DSS 10.2.1.3). Given --state (whose signing key
 * this can use) and no gateway holding the log, the export is appended as a log.exported record.
 */
async function recordExport(a: ExportArgs, r: ExportResult): Promise<{ seq: number | null; text: string }> {
  const not = (why: string) => ({ seq: null, text: `not recorded in the log${why}` });
  if (!a.state || !existsSync(join(a.state, 'audit.key.pem'))) return not(' (give --state to record exports)');
  const key = await loadOrCreateAuditKey(a.state);
  let log: AuditLog;
  try {
    log = await AuditLog.open({ dir: logDir(a), signingKey: key.privateKey, keyId: key.keyId });
  } catch (err) {
    if (err instanceof AuditWriteError) return not(`: ${err.message}`);
    throw err;
  }
  try {
    const first = r.firstRecord;
    const { seq } = await log.append({ type: 'log.exported', actor: process.env.USER ?? userInfo().username, first, last: first + r.records - 1, target: resolve(a.out) });
    return { seq, text: `recorded in the log as record ${seq}` };
  } catch (err) {
    if (err instanceof AuditWriteError) return not(`: ${err.message}`);
    throw err;
  } finally {
    await log.close();
  }
}

interface ProveArgs extends Where { seq?: number; consistency?: string[]; checkpoint?: string; key?: string[]; out?: string; json?: boolean }

/** OLD or NEW of `prove --consistency`: a checkpoint file, or a tree size whose checkpoint the log (archive included) holds. */
async function checkpointArg(reader: LogReader, arg: string): Promise<string> {
  if (/^\d+$/.test(arg)) {
    for await (const s of reader.segments(Math.max(0, Number(arg) - 1))) if (typeof s.checkpoint !== 'string' && s.end === Number(arg)) return s.text;
    throw new UsageError(`the audit log at ${reader.where} has no checkpoint of tree size ${arg}`);
  }
  return readCheckpoint(arg);
}

const proveCommand: CommandModule<object, ProveArgs> = {
  command: 'prove',
  describe: 'Print an inclusion proof for one record (--seq), or a consistency proof between two checkpoints (--consistency OLD NEW)',
  builder: (y) =>
    where(y)
      .option('seq', { type: 'number', describe: 'Record number' })
      .option('consistency', { type: 'string', array: true, describe: 'OLD NEW: two checkpoint files (or tree sizes of stored checkpoints)' })
      .option('checkpoint', { type: 'string', describe: 'With --seq: a checkpoint you kept; the proof then carries a consistency proof to it' })
      .option('key', { type: 'string', array: true, describe: 'Trusted public key the proof is checked with as it is made (default: the --state keys)' })
      .option('out', { type: 'string', describe: 'Write the proof here instead of stdout' }),
  handler: async (a) => {
    if ((a.seq === undefined) === (a.consistency === undefined)) throw new UsageError('name what to prove: --seq N (inclusion) or --consistency OLD NEW');
    if (a.consistency !== undefined && a.consistency.length !== 2) throw new UsageError('--consistency takes two checkpoints: OLD NEW');
    const keys = await allKeys(a);
    const kept = a.checkpoint ? readCheckpoint(a.checkpoint) : undefined;
    const proof = await withReader<InclusionProof | LegacyInclusionProof | ConsistencyProof>(a, async (reader) =>
      a.seq !== undefined ? proveInclusion(reader, a.seq, keys, kept) : proveConsistency(reader, await checkpointArg(reader, a.consistency![0]!), await checkpointArg(reader, a.consistency![1]!), keys),
    );
    const text = JSON.stringify(proof, null, 2) + '\n';
    const kind = a.seq !== undefined ? 'inclusion' : 'consistency';
    if (a.out) {
      writeFileSync(a.out, text);
      if (a.json) report(true, '', { kind, out: a.out });
    } else if (a.json) report(true, '', { kind, proof });
    else process.stdout.write(text);
  },
};

const verifyProofCommand: CommandModule<object, Where & { proof: string; key?: string[]; checkpoint?: string; json?: boolean }> = {
  command: 'verify-proof [proof]',
  describe: 'Check an inclusion or consistency proof (file, or - for stdin) against public key(s)',
  builder: (y) =>
    where(y)
      .positional('proof', { type: 'string', default: '-' })
      .option('key', { type: 'string', array: true, describe: 'Trusted public key: PEM or JWKS file (repeatable)' })
      .option('checkpoint', { type: 'string', describe: "A checkpoint you kept: the proof's tree must be consistent with it" }),
  handler: async (a) => {
    // Only the trusted keys: a proof is a claim to be judged, not the gateway's own output.
    const { keys } = await trustOf(a);
    const text = readText(a.proof, 'proof');
    let proof: InclusionProof | LegacyInclusionProof | ConsistencyProof;
    try {
      proof = JSON.parse(text) as typeof proof;
    } catch (err) {
      throw new UsageError(`the proof ${a.proof} is not JSON: ${(err as Error).message}`);
    }
    const kept = a.checkpoint ? readCheckpoint(a.checkpoint) : undefined;
    if ('old_checkpoint' in proof) {
      const r = await verifyConsistency(proof, keys);
      if (!r.ok) throw new VerificationFailed(r.message);
      await compareWithLog(a, keys, [r.old.note, r.new.note]);
      return report(a.json, `tree size ${r.new.size} of ${r.new.origin} extends tree size ${r.old.size}: consistent, both signed by a trusted key.`, {
        kind: 'consistency', origin: r.new.origin, old_size: r.old.size, new_size: r.new.size,
      });
    }
    const r = await verifyInclusion(proof, keys, kept);
    if (!r.ok) throw new VerificationFailed(r.message);
    if (proof.v === 2) await compareWithLog(a, keys, [proof.checkpoint]);
    report(a.json, `record ${r.record.seq} (${r.record.event.type}, ${r.record.ts}) is included in the tree of size ${r.treeSize}, signed by a trusted key${kept ? ', consistent with the checkpoint you kept' : ''}.`, {
      kind: 'inclusion', seq: r.record.seq, type: r.record.event.type, ts: r.record.ts, tree_size: r.treeSize, checkpoint_kept: kept !== undefined,
    });
  },
};

/** Given a log too (--dir/--state), the proof's checkpoints must be the log's own of the same size. */
async function compareWithLog(a: Where, keys: readonly TrustedKey[], checkpoints: readonly string[]): Promise<void> {
  if (!a.dir && !a.state) return;
  await withArchive(a, async (store, archive) => {
    const result = await verifyLog((archive ? archiveInput(store, archive) : storeInput(store)).input, { keys, fromGenesis: true, checkpoints });
    if (!result.ok) throw new VerificationFailed(`the proof does not match the log at ${store.dir}: ${result.fault.message}`);
  });
}

const keyCommand: CommandModule<object, Where & { key?: string[]; json?: boolean }> = {
  command: 'key',
  describe: "Print the log's origin and its checkpoints' verifier key (name+id+base64, for witnesses and note tooling)",
  builder: (y) => where(y).option('key', { type: 'string', array: true, describe: 'Public key(s) (default: the --state keys)' }),
  handler: async (a) => {
    const keys = await allKeys(a);
    const origin = await withStore(a, (store) => store.meta.get('origin'));
    if (origin === undefined) throw new UsageError(`the audit log at ${logDir(a)} has no origin yet (it has never been opened by this version)`);
    const verifierKeys = keys.map((k) => verifierKey(origin, k.key));
    report(a.json, `origin: ${origin}\n${verifierKeys.map((v) => `verifier key: ${v}\n`).join('')}`, { origin, verifier_keys: verifierKeys });
  },
};

/** A recorded body as replay shows it: what was kept (masked), and how much of the whole that is. */
function bodyBlock(side: string, body: BodyCapture | null): string {
  if (body === null) return `# ${side} body: none recorded\n`;
  const shown = body.truncated ? `first ${Buffer.byteLength(body.text)} of ${body.bytes} bytes` : `${body.bytes} bytes`;
  return `# ${side} body (masked, ${shown}, sha256 ${body.sha256}):\n${body.text}\n`;
}

const replayCommand: CommandModule<object, Where & { requestId: string; json?: boolean }> = {
  command: 'replay <requestId>',
  describe: 'Show one request as recorded (masked): decision, hold, approvers, grant, outcome, and the retry its approval let through',
  builder: (y) => where(y).positional('requestId', { type: 'string', demandOption: true, describe: 'The request id (x-request-id the gateway gave the client)' }),
  handler: (a) =>
    withReader(a, async (reader) => {
      const records = await findExchange(reader, a.requestId);
      if (records.length === 0) throw new UsageError(`no record of request ${a.requestId} in ${reader.where}${reader.prunedHint(0)}`);
      if (a.json) return report(true, '', { request_id: a.requestId, records: records.map((r) => ({ seq: r.seq, ts: r.ts, story: storyLine(r), event: r.event })) });
      for (const r of records) process.stdout.write(`# record ${r.seq}  ${r.ts}  ${r.event.type}\n${JSON.stringify(r.event, null, 2)}\n`);
      // The story: this request, its hold and approvers, the grant, and the requests linked to it.
      process.stdout.write(`# story of request ${a.requestId}:\n${records.map((r) => `#   ${r.seq}  ${storyLine(r)}\n`).join('')}`);
      const own = (r: AuditRecord) => 'request_id' in r.event && r.event.request_id === a.requestId;
      const decision = records.find((r) => r.event.type === 'request.decision' && own(r))?.event as RequestDecisionEvent | undefined;
      const outcome = records.find((r) => r.event.type === 'request.outcome' && own(r))?.event as RequestOutcomeEvent | undefined;
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
    withReader(a, async (reader) => {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        for await (const bytes of tailRecords(reader, { from: a.from, follow: a.follow, signal: stop.signal })) {
          if (!process.stdout.write(Buffer.concat([bytes, Buffer.from('\n')]))) await new Promise((r) => process.stdout.once('drain', r));
        }
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    }),
};

/**
 * Input the user named that cannot be read (no log there, no key file) is a usage error: exit 2,
 * not 1. The log's place is taken from --config (or REGATE_CONFIG, except for verify-proof, which
 * reads a log only when one is named) before the command runs.
 */
function readErrorsAreUsage<T>(cmd: CommandModule<object, T>, opts: { env: boolean } = { env: true }): CommandModule {
  return {
    ...cmd,
    handler: async (a) => {
      try {
        await applyConfig(a as LogLocation, opts.env);
        await cmd.handler(a as never);
      } catch (err) {
        throw err instanceof AuditReadError ? new UsageError(err.message, { cause: err }) : err;
      }
    },
  } as CommandModule;
}

/** `regate audit <subcommand>` */
export const auditCommand: CommandModule = {
  command: 'audit',
  describe: 'Verify, export, prove and read the signed audit log',
  builder: (y) =>
    y
      .command(readErrorsAreUsage(verifyCommand))
      .command(readErrorsAreUsage(exportCommand))
      .command(readErrorsAreUsage(proveCommand))
      .command(readErrorsAreUsage(verifyProofCommand, { env: false }))
      .command(readErrorsAreUsage(replayCommand))
      .command(readErrorsAreUsage(tailCommand))
      .command(readErrorsAreUsage(keyCommand))
      .demandCommand(1, 'Name an audit command: verify, export, prove, verify-proof, replay, tail or key.'),
  handler: () => undefined,
};
