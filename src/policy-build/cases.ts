/**
 * Decision tables (`rego/cases/*.json`): each case is an input and the decision fields it must
 * produce. Every case runs through both OPA's interpreter (`opa eval`, one process for all cases)
 * and the compiled Wasm module in regate's own evaluator, so a difference between the two (a
 * builtin behaving differently in Wasm, a host builtin diverging) is caught before it ships.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicyInput } from '../contract/index.js';
import { createEngine, DEFAULT_ENTRYPOINT } from '../policy/index.js';
import { RegateError } from '../util/index.js';
import { compilePolicy, regoSources, type BuildPaths } from './build.js';
import { runOpa } from './opa.js';

export class DecisionTableError extends RegateError {
  static override readonly code: string = 'ERR_DECISION_TABLE';
}

export interface DecisionCase {
  file: string;
  name: string;
  input: unknown;
  /** The decision fields this case pins down; fields not listed are not compared. */
  expect: Record<string, unknown>;
}

export interface CaseResult {
  case: DecisionCase;
  /** Empty when the interpreter and Wasm agree and match the expectation. */
  problems: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function loadCases(dir: string): Promise<DecisionCase[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  const cases: DecisionCase[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new DecisionTableError(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    const list = isObject(doc) ? doc.cases : undefined;
    if (!Array.isArray(list)) throw new DecisionTableError(`${file} has no "cases" list`);
    list.forEach((c: unknown, i) => {
      if (!isObject(c) || typeof c.name !== 'string' || !('input' in c) || !isObject(c.expect)) {
        throw new DecisionTableError(`${file} case #${i} needs "name" (string), "input" and "expect" (object)`);
      }
      cases.push({ file, name: c.name, input: c.input, expect: c.expect });
    });
  }
  return cases;
}

/** Where two JSON values differ, as `path: expected X, got Y` lines. */
export function differences(expected: unknown, actual: unknown, path = '$'): string[] {
  if (isObject(expected) && isObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    return keys.flatMap((k) => differences(expected[k], actual[k], `${path}.${k}`));
  }
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length === actual.length) {
    return expected.flatMap((e, i) => differences(e, actual[i], `${path}[${i}]`));
  }
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
  return JSON.stringify(expected) === JSON.stringify(actual) ? [] : [`${path}: expected ${show(expected)}, got ${show(actual)}`];
}

/** Evaluates every case's input with `opa eval` in one run; undefined where the rule is undefined. */
async function interpret(paths: BuildPaths, cases: DecisionCase[]): Promise<unknown[]> {
  const rule = `data.${(paths.entrypoint ?? DEFAULT_ENTRYPOINT).replaceAll('/', '.')}`;
  const files = [...(await regoSources(paths.regoDir)), join(paths.regoDir, 'data.json')];
  const query = `x := {i: d | some i, c in input; d := ${rule} with input as c}`;
  const { stdout } = await runOpa(['eval', '--format', 'json', '--stdin-input', ...files.flatMap((f) => ['-d', f]), query], {
    input: JSON.stringify(cases.map((c) => c.input)),
  });
  const out = JSON.parse(stdout) as { result?: { bindings?: { x?: Record<string, unknown> } }[] };
  const byIndex = out.result?.[0]?.bindings?.x ?? {};
  return cases.map((_, i) => byIndex[String(i)]);
}

/** Runs all cases through the interpreter and a freshly compiled Wasm module. */
export async function runCases(paths: BuildPaths, cases: DecisionCase[]): Promise<CaseResult[]> {
  const [interpreted, compiled] = await Promise.all([interpret(paths, cases), compilePolicy(paths)]);
  const engine = createEngine({
    module: await WebAssembly.compile(compiled.wasm),
    data: JSON.parse(new TextDecoder().decode(compiled.data)),
    revision: compiled.revision,
    entrypoint: paths.entrypoint ?? DEFAULT_ENTRYPOINT,
  });
  return cases.map((c, i) => {
    const problems: string[] = [];
    const viaOpa = interpreted[i];
    let viaWasm: unknown;
    try {
      viaWasm = engine.evaluate(c.input as PolicyInput);
    } catch (err) {
      problems.push(`Wasm evaluation failed: ${(err as Error).message}`);
    }
    if (viaOpa === undefined) problems.push('opa eval: the decision is undefined for this input');
    else if (viaWasm !== undefined) problems.push(...differences(viaOpa, viaWasm).map((d) => `interpreter vs Wasm: ${d}`));
    const observed = (viaWasm ?? viaOpa) as Record<string, unknown> | undefined;
    if (observed !== undefined) {
      for (const key of Object.keys(c.expect)) problems.push(...differences(c.expect[key], observed[key], `$.${key}`).map((d) => `expectation: ${d}`));
    }
    return { case: c, problems };
  });
}
