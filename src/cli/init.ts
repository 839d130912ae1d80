/**
 * `regate init [dir]`: a policy repository for a security team, starting from the PCI policy
 * regate ships. It copies the Rego, its data, decision tables and an example input, the committed
 * module and bundle built from them (so `regate build --check` passes before the first edit), and
 * writes a CI workflow and a README saying how to change, test, build, sign and ship the policy.
 * Existing files are never overwritten without --force.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { DEFAULT_BUNDLE, DEFAULT_CAPABILITIES, DEFAULT_REGO_DIR } from '../policy/index.js';
import { OPA_VERSION } from '../policy-build/index.js';
import { VERSION } from '../util/index.js';
import { UsageError } from './exit.js';
import { report } from './output.js';

interface Args { dir: string; force: boolean; json?: boolean }

const WORKFLOW = `# The policy's CI: unit tests with a coverage floor, the decision tables through both the
# interpreter and the compiled Wasm, and a check that the committed module and bundle match rego/.
name: policy
on: [push, pull_request]
jobs:
  policy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      # regate toolchain installs the pinned OPA (${OPA_VERSION}) with go install.
      - uses: actions/setup-go@v5
        with:
          go-version: stable
      - run: npm install --no-save regate@${VERSION}
      - run: npx regate toolchain
      - run: npx regate test
      - run: npx regate build --check
`;

const README = `# Gateway policy

The policy the regate gateway enforces in front of our inference APIs: who may call which model
route, what card data is masked in requests and responses, and which requests wait for a human
approval. It started from regate's PCI policy (regate ${VERSION}).

| path | what |
|---|---|
| \`rego/regate.rego\` | the policy: \`data.regate.decision\` for each request |
| \`rego/data.json\` | the data it reads (groups, routes, custom card detectors) |
| \`rego/regate_test.rego\` | unit tests (\`regate test\` requires 90 % coverage) |
| \`rego/cases/*.json\` | decision tables: an input and the decision it must get, run through \`opa eval\` and the compiled Wasm |
| \`rego/examples/score.json\` | an input to try by hand |
| \`wasm/pci.wasm\`, \`bundles/pci.tar.gz\` | the compiled module and the bundle the gateway loads (committed; CI checks they match \`rego/\`) |

## Change the policy

\`\`\`sh
npm install --no-save regate@${VERSION}
npx regate toolchain                                  # the pinned OPA ${OPA_VERSION}, once per machine
npx regate test                                       # unit tests, coverage, decision tables
npx regate policy eval --input rego/examples/score.json   # one decision by hand
npx regate build                                      # rebuild wasm/ and bundles/, then commit them
\`\`\`

Add a decision-table case for every behaviour you change: the table is what reviewers read.

## Sign and ship

The gateway loads only bundles signed with a key it trusts (\`policy.public_key_file\` or
\`policy.keys\` in its config). Sign in the release job, never on a laptop:

\`\`\`sh
npx regate build --signing-key "$BUNDLE_SIGNING_KEY" --key-id prod --scope write --out dist/pci.tar.gz
npx regate bundle verify dist/pci.tar.gz --key keys/prod.pub.pem --key-id prod --scope write
\`\`\`

Publish \`dist/pci.tar.gz\` where the gateways poll it (\`policy.bundle\`: a file or an https URL).
A bundle that fails verification is refused and the last good one keeps serving.
`;

/** The files init writes: target path → where its bytes come from (a regate file or text). */
function templateFiles(regoFiles: string[]): Map<string, { from: string } | { text: string }> {
  const files = new Map<string, { from: string } | { text: string }>();
  for (const f of regoFiles) files.set(join('rego', f), { from: join(DEFAULT_REGO_DIR, f) });
  files.set(join('wasm', 'pci.wasm'), { from: join(dirname(DEFAULT_CAPABILITIES), 'pci.wasm') });
  files.set(join('bundles', 'pci.tar.gz'), { from: DEFAULT_BUNDLE });
  files.set(join('.github', 'workflows', 'policy.yml'), { text: WORKFLOW });
  files.set('README.md', { text: README });
  return files;
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = join(prefix, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

export const initCommand: CommandModule<object, Args> = {
  command: 'init [dir]',
  describe: 'Start a policy repository from the PCI policy: rego/, decision tables, CI workflow, README',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', default: '.', describe: 'Where to write it' })
      .option('force', { type: 'boolean', default: false, describe: 'Overwrite files that exist' })
      .example('$0 init payments-policy && cd payments-policy && regate test', 'a new policy repository, tested')
      .epilogue('Existing files are listed and left alone unless --force is given.'),
  handler: async (args) => {
    const root = resolve(args.dir);
    const files = templateFiles(await listFiles(DEFAULT_REGO_DIR));
    const clash = [...files.keys()].filter((f) => existsSync(join(root, f)));
    if (clash.length && !args.force) throw new UsageError(`${root} already has ${clash.join(', ')}; nothing was written (--force overwrites them)`);
    for (const [path, source] of files) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      if ('from' in source) await copyFile(source.from, join(root, path));
      else await writeFile(join(root, path), source.text);
    }
    const written = [...files.keys()];
    report(args.json, `wrote ${written.length} files to ${relative(process.cwd(), root) || '.'}: ${written.join(', ')}\nnext: regate toolchain && regate test`, { dir: root, files: written });
  },
};
