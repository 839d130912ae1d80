/**
 * Generates the build's capabilities file from the pinned compiler. OPA's Wasm runtime implements
 * some builtins natively and imports the rest from its host; regate's host only provides
 * HOST_BUILTINS. So the file lists the native builtins plus those, found by asking the compiler
 * itself: every builtin it knows is compiled once into a probe module, and whatever that module
 * still imports is not native. A policy calling anything outside the file then fails at build
 * time, naming the builtin.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_BUILTINS, importedBuiltins, readTarGz } from '../policy/index.js';
import { runOpa } from './opa.js';

interface BuiltinDecl {
  name: string;
  infix?: string;
  deprecated?: boolean;
  decl: { args?: unknown[]; result?: unknown; variadic?: unknown };
}

interface Capabilities {
  builtins: BuiltinDecl[];
  [key: string]: unknown;
}

/** Language operators (`==`, `+`, `in`, ...) compile to native code and are always available. */
function isOperator(b: BuiltinDecl): boolean {
  return Boolean(b.infix) || b.name === 'internal.member_2' || b.name === 'internal.member_3';
}

/** Builtins worth probing: callable by name with a fixed arity, not deprecated, not internal. */
function probeable(b: BuiltinDecl): boolean {
  return !isOperator(b) && !b.deprecated && !b.name.startsWith('internal.') && !b.decl.variadic;
}

function probeModule(builtins: BuiltinDecl[]): string {
  const rules = builtins.map((b, i) => {
    const args = (b.decl.args ?? []).map((_, j) => `input.a${j}`).join(', ');
    return b.decl.result === undefined ? `r${i} if ${b.name}(${args})` : `r${i} := ${b.name}(${args})`;
  });
  return `package probe\n\n${rules.join('\n')}\n`;
}

async function nativeBuiltins(candidates: BuiltinDecl[]): Promise<Set<string>> {
  const dir = await mkdtemp(join(tmpdir(), 'regate-caps-'));
  try {
    await writeFile(join(dir, 'probe.rego'), probeModule(candidates));
    await runOpa(['build', '-t', 'wasm', '-e', 'probe', '-o', join(dir, 'probe.tar.gz'), join(dir, 'probe.rego')]);
    const entry = readTarGz(await readFile(join(dir, 'probe.tar.gz'))).find((e) => e.name === 'policy.wasm');
    if (!entry) throw new Error('opa build produced no policy.wasm for the capabilities probe');
    const module = new WebAssembly.Module(entry.bytes);
    const memory = new WebAssembly.Memory({ initial: 16 });
    const refuse = () => {
      throw new Error('the capabilities probe never evaluates');
    };
    const env: Record<string, unknown> = { memory, opa_abort: refuse, opa_println: refuse };
    for (let n = 0; n <= 4; n++) env[`opa_builtin${n}`] = refuse;
    const instance = new WebAssembly.Instance(module, { env });
    const imported = new Set(importedBuiltins(instance.exports, memory));
    return new Set(candidates.map((b) => b.name).filter((n) => !imported.has(n)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The capabilities document for `opa build --capabilities`, as pretty JSON text. */
export async function generateCapabilities(): Promise<string> {
  const current = JSON.parse((await runOpa(['capabilities', '--current'])).stdout) as Capabilities;
  const native = await nativeBuiltins(current.builtins.filter(probeable));
  const keep = current.builtins.filter((b) => isOperator(b) || native.has(b.name) || HOST_BUILTINS.includes(b.name));
  return `${JSON.stringify({ ...current, builtins: keep }, null, 2)}\n`;
}
