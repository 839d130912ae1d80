/**
 * `regate policy diff`: what a candidate policy would have done to recorded traffic. Reads the
 * decisions of an audit log (the LMDB store, or export files), decides each again with the baseline
 * (the bundle of the revision recorded with it, found in a bundle store, or one named bundle) and
 * the candidate (a bundle, or a rego folder compiled here with the pinned opa), and prints what
 * changed. `--fail-on` turns chosen kinds of change into exit 1, for CI.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CommandModule } from 'yargs';
import { fileInput, openStore, storeInput } from '../audit/index.js';
import { BUNDLE_REVISIONS, BundleStore, CHANGE_KINDS, DEFAULT_CAPABILITIES, loadBundle, writeTarGz, type ChangeKind, type PolicyEngine } from '../policy/index.js';
import { bundleEntries, compilePolicy } from '../policy-build/index.js';
import { diffRecorded, formatReport, logRecords, type DecisionFilter } from '../policy-diff/index.js';
import { UsageError } from './exit.js';
import { verdict } from './output.js';
import { progress } from './progress.js';

interface DiffArgs {
  candidate: string;
  baseline?: string;
  bundles?: string[];
  audit?: string;
  export?: string;
  since?: string;
  route?: string;
  subject?: string;
  json?: boolean;
  'fail-on'?: string;
  capabilities: string;
}

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch (err) {
    throw new UsageError(`cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
};

/** A bundle file, or a rego folder compiled with the pinned opa against the capabilities file. */
async function candidateEngine(path: string, capabilities: string): Promise<PolicyEngine> {
  if (!isDir(path)) return loadBundle(path);
  const compiled = await compilePolicy({ regoDir: path, capabilities, wasmOut: '', bundleOut: '' });
  return loadBundle(writeTarGz(await bundleEntries(compiled)));
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (`90m`, `24h`, `7d`) or an ISO 8601 time. */
export function sinceMs(value: string, now = Date.now()): number {
  const d = /^(\d+)([smhd])$/.exec(value);
  if (d) return now - Number(d[1]) * UNITS[d[2]!]!;
  const t = /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new UsageError(`--since ${value} is neither a duration (30m, 24h, 7d) nor an ISO 8601 time (2026-11-30T12:00:00Z)`);
  return t;
}

/** `--fail-on allow-to-deny,deny-to-allow`: kinds as the report names them, with - or _, or `any`. */
export function failKinds(value: string): ChangeKind[] {
  const out = new Set<ChangeKind>();
  for (const raw of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const name = raw.replaceAll('-', '_');
    if (name === 'any') CHANGE_KINDS.forEach((k) => out.add(k));
    else if ((CHANGE_KINDS as readonly string[]).includes(name)) out.add(name as ChangeKind);
    else throw new UsageError(`--fail-on ${raw} is not a kind of change; the kinds are any, ${CHANGE_KINDS.map((k) => k.replaceAll('_', '-')).join(', ')}`);
  }
  if (out.size === 0) throw new UsageError('--fail-on names no kind of change');
  return [...out];
}

export const diffCommand: CommandModule<object, DiffArgs> = {
  command: 'diff',
  describe: 'What a candidate policy would have done to recorded traffic: decide every recorded input again and list what changes',
  builder: (y) =>
    y
      .option('candidate', { type: 'string', demandOption: true, requiresArg: true, describe: 'The candidate: a bundle (.tar.gz) or a rego folder (compiled with the pinned opa)' })
      .option('baseline', { type: 'string', requiresArg: true, describe: 'Compare against this bundle instead of the revision recorded with each decision' })
      .option('bundles', { type: 'string', array: true, requiresArg: true, describe: 'Bundle store(s) to find recorded revisions in (default: bundle-revisions/ beside the audit log, or in the export folder)' })
      .option('audit', { type: 'string', requiresArg: true, describe: 'The audit log directory (LMDB), e.g. .regate/audit' })
      .option('export', { type: 'string', requiresArg: true, describe: 'A folder of exported segments (regate audit export)' })
      .option('since', { type: 'string', requiresArg: true, describe: 'Only decisions recorded since: a duration (24h, 7d) or an ISO time' })
      .option('route', { type: 'string', requiresArg: true, describe: 'Only decisions on this route' })
      .option('subject', { type: 'string', requiresArg: true, describe: 'Only decisions about this subject' })
      .option('fail-on', { type: 'string', requiresArg: true, describe: 'Exit 1 when a change of these kinds occurs (allow-to-deny,deny-to-allow,mask-change,…, or any)' })
      .option('capabilities', { type: 'string', default: DEFAULT_CAPABILITIES, describe: 'Capabilities file a rego candidate is compiled against' })
      .example('$0 policy diff --candidate rego/ --audit .regate/audit --since 24h', "yesterday's traffic against the rego in this checkout")
      .example('$0 policy diff --candidate new.tar.gz --export ./export --fail-on allow-to-deny,deny-to-allow --json', 'CI: fail when access changes'),
  handler: async (a) => {
    if ((a.audit === undefined) === (a.export === undefined)) throw new UsageError('name the recorded traffic with exactly one of --audit DIR (the LMDB log) or --export DIR (exported segments)');
    const fail = a['fail-on'] !== undefined ? failKinds(a['fail-on']) : [];
    const filter: DecisionFilter = { sinceMs: a.since !== undefined ? sinceMs(a.since) : undefined, route: a.route, subject: a.subject };
    const candidate = await candidateEngine(a.candidate, a.capabilities);
    const fixed = a.baseline !== undefined ? await loadBundle(a.baseline) : null;
    const store = new BundleStore(a.bundles ?? [a.audit !== undefined ? join(dirname(a.audit), BUNDLE_REVISIONS) : join(a.export!, BUNDLE_REVISIONS)]);
    const baseline = async (revision: string) => {
      if (fixed) return fixed;
      return store.engine(revision).catch((err: Error) => {
        throw new UsageError(`the decisions name policy revision ${revision} as their baseline, and ${err.message}; name the bundle store with --bundles DIR, or compare against one bundle with --baseline BUNDLE`, { cause: err });
      });
    };
    const run = async (source: ReturnType<typeof storeInput>) => {
      const bar = progress(source.total, 'comparing');
      try {
        return await diffRecorded(logRecords(source.input), { candidate, baseline, filter, onProgress: bar.update });
      } finally {
        bar.done();
      }
    };
    let report;
    if (a.audit !== undefined) {
      isDir(a.audit);
      const log = openStore(a.audit, { readOnly: true });
      try {
        report = await run(storeInput(log));
      } finally {
        await log.env.close();
      }
    } else report = await run(fileInput([a.export!]));
    const label = fixed ? `baseline ${fixed.revision} (--baseline ${a.baseline})` : `the baseline recorded with each decision (${report.summary.baseline_revisions.join(', ') || 'none'})`;
    const hits = fail.filter((k) => report.summary[k] > 0);
    const failure = hits.length ? `the candidate changes decisions of the kinds --fail-on names: ${hits.map((k) => `${report.summary[k]} ${k.replaceAll('_', '-')}`).join(', ')}` : null;
    verdict(a.json, formatReport(report, label), { ...report }, failure ?? undefined);
  },
};
