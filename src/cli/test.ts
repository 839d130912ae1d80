import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { DEFAULT_CAPABILITIES, DEFAULT_ENTRYPOINT } from '../policy/index.js';
import { loadCases, regoSources, runCases, runOpa } from '../policy-build/index.js';
import { VerificationFailed } from './exit.js';
import { report } from './output.js';

interface Args {
  rego: string;
  cases?: string;
  coverage: number;
  entrypoint: string;
  capabilities: string;
  json?: boolean;
}

interface CoverageReport {
  coverage?: number;
  files?: Record<string, { not_covered?: { start: { row: number }; end: { row: number } }[] }>;
}

function uncovered(report: CoverageReport): string {
  return Object.entries(report.files ?? {})
    .flatMap(([file, f]) => (f.not_covered ?? []).map((r) => `${file}:${r.start.row}${r.end.row !== r.start.row ? `-${r.end.row}` : ''}`))
    .join(', ');
}

/** `regate test`: Rego unit tests with a coverage floor, then decision tables through opa eval and the Wasm. */
export const testCommand: CommandModule<object, Args> = {
  command: 'test',
  describe: 'Run the policy unit tests (coverage enforced) and check decision tables in the interpreter and the Wasm',
  builder: (y) =>
    y
      .option('rego', { type: 'string', default: 'rego', describe: 'Policy folder (*.rego, *_test.rego, data.json), relative to the working directory' })
      .option('cases', { type: 'string', describe: 'Decision-table folder (default: <rego>/cases)' })
      .option('coverage', { type: 'number', default: 90, describe: 'Minimum `opa test --coverage` percentage' })
      .option('entrypoint', { type: 'string', default: DEFAULT_ENTRYPOINT })
      .option('capabilities', { type: 'string', default: DEFAULT_CAPABILITIES, defaultDescription: "regate's wasm/capabilities.json", describe: 'Capabilities file for the Wasm compile' })
      .example('$0 test', 'what CI runs: opa test with coverage >= 90 %, then rego/cases/*.json through opa eval and the Wasm')
      .example('$0 test --rego my-policy --coverage 95', 'test another policy folder with a higher floor'),
  handler: async (args) => {
    const sources = [...(await regoSources(args.rego, { tests: true })), join(args.rego, 'data.json')];
    const unit = await runOpa(['test', ...sources], { check: false });
    if (unit.code !== 0) throw new VerificationFailed(`opa test failed:\n${(unit.stdout + unit.stderr).trim()}`);
    const unitSummary = unit.stdout.trim().split('\n').pop() ?? '';
    if (!args.json) process.stdout.write(`opa test: ${unitSummary}\n`);

    const cov = await runOpa(['test', '--coverage', '--format', 'json', ...sources], { check: false });
    let coverageReport: CoverageReport;
    try {
      coverageReport = JSON.parse(cov.stdout) as CoverageReport;
    } catch {
      throw new VerificationFailed(`opa test --coverage printed no coverage report: ${cov.stderr.trim()}`);
    }
    const pct = coverageReport.coverage ?? 0;
    if (pct < args.coverage) {
      throw new VerificationFailed(`policy test coverage is ${pct.toFixed(1)} %, below the required ${args.coverage} %; not covered: ${uncovered(coverageReport)}`);
    }
    if (!args.json) process.stdout.write(`coverage: ${pct.toFixed(1)} % (required ${args.coverage} %)\n`);

    const cases = await loadCases(args.cases ?? join(args.rego, 'cases'));
    const results = await runCases({ regoDir: args.rego, wasmOut: '', bundleOut: '', capabilities: args.capabilities, entrypoint: args.entrypoint }, cases);
    const failed = results.filter((r) => r.problems.length);
    for (const r of failed) {
      process.stderr.write(`FAIL ${r.case.file} "${r.case.name}"\n${r.problems.map((p) => `  ${p}`).join('\n')}\n`);
    }
    if (failed.length) throw new VerificationFailed(`${failed.length} of ${results.length} decision-table cases failed (see above)`);
    report(args.json, `decision tables: ${results.length} cases; opa eval and the Wasm module agree and match every expectation`, {
      unit_tests: unitSummary, coverage: pct, coverage_required: args.coverage, cases: results.length,
    });
  },
};
