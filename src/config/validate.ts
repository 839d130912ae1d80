/**
 * A small typed validator for configuration trees. Each checker takes a value and the dotted path
 * it was found at, and either returns the typed value or throws a ConfigValueError naming that path
 * and what was expected, so a bad config file is reported as `routes[2].upstream: expected ...`.
 * The result type of a checker is inferred, so the config's TypeScript type is its schema.
 */
import { RegateError } from '../util/index.js';

/** A value in the config tree that does not have the expected shape. */
export class ConfigValueError extends RegateError {
  static override readonly code: string = 'ERR_CONFIG_VALUE';
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`${path || '(top level)'}: expected ${expected}, got ${describe(got)}`);
  }
}

/** A key the schema does not know, with the nearest known key when it looks like a typo of one. */
export class UnknownKeyError extends ConfigValueError {
  static override readonly code: string = 'ERR_CONFIG_UNKNOWN_KEY';
  constructor(path: string, known: readonly string[]) {
    super(path, '', undefined);
    const key = path.slice(path.lastIndexOf('.') + 1);
    const near = nearest(key, known);
    this.message = `${path}: unknown key${near ? `; did you mean "${near}"?` : ''} (known keys here: ${known.join(', ')})`;
  }
}

/** Levenshtein distance, stopping early once it exceeds `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    if (Math.min(...row) > max) return max + 1;
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known key `key` most likely misspells: within a third of its length in edits (at least one),
 * or differing only in letter case, `-`/`_` or word order around them (`publicKeyFile`, `key-file`).
 */
export function nearest(key: string, known: readonly string[]): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => squash(k) === squash(key));
  if (same) return same;
  const max = Math.max(1, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestD = max + 1;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k, max);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

export type Checker<T> = (value: unknown, path: string) => T;
export type Infer<C> = C extends Checker<infer T> ? T : never;

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the key is missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return `${typeof v} ${String(v)}`;
}

export function str(opts: { nonEmpty?: boolean; pattern?: RegExp; expected?: string } = {}): Checker<string> {
  const expected = opts.expected ?? (opts.nonEmpty ? 'a non-empty string' : 'a string');
  return (v, path) => {
    if (typeof v !== 'string' || (opts.nonEmpty && v.length === 0) || (opts.pattern && !opts.pattern.test(v))) {
      throw new ConfigValueError(path, expected, v);
    }
    return v;
  };
}

export function int(opts: { min?: number; max?: number; unit?: string } = {}): Checker<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const range = opts.min !== undefined && opts.max !== undefined ? ` from ${min} to ${max}` : opts.min !== undefined ? ` >= ${min}` : '';
  const expected = `an integer${range}${opts.unit ? ` (${opts.unit})` : ''}`;
  return (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigValueError(path, expected, v);
    return v;
  };
}

export function bool(): Checker<boolean> {
  return (v, path) => {
    if (typeof v !== 'boolean') throw new ConfigValueError(path, 'true or false', v);
    return v;
  };
}

export function oneOf<const T extends string>(choices: readonly T[]): Checker<T> {
  const expected = `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`;
  return (v, path) => {
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) throw new ConfigValueError(path, expected, v);
    return v as T;
  };
}

export function list<T>(item: Checker<T>, opts: { nonEmpty?: boolean } = {}): Checker<T[]> {
  return (v, path) => {
    if (!Array.isArray(v) || (opts.nonEmpty && v.length === 0)) {
      throw new ConfigValueError(path, opts.nonEmpty ? 'a non-empty list' : 'a list', v);
    }
    return v.map((x, i) => item(x, `${path}[${i}]`));
  };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** A mapping from arbitrary names to values of one shape (e.g. `upstreams`). */
export function dict<T>(value: Checker<T>, opts: { keyPattern?: RegExp; nonEmpty?: boolean } = {}): Checker<Record<string, T>> {
  return (v, path) => {
    if (!isMapping(v) || (opts.nonEmpty && Object.keys(v).length === 0)) {
      throw new ConfigValueError(path, opts.nonEmpty ? 'a non-empty mapping' : 'a mapping', v);
    }
    const out: Record<string, T> = Object.create(null);
    for (const [k, x] of Object.entries(v)) {
      if (opts.keyPattern && !opts.keyPattern.test(k)) {
        throw new ConfigValueError(child(path, k), `a name matching ${opts.keyPattern}`, k);
      }
      out[k] = value(x, child(path, k));
    }
    return out;
  };
}

/** Marks a key as optional: a missing or null value gives `fallback`. */
export interface Optional<T> extends Checker<T> {
  readonly optional: true;
}
export function optional<T>(c: Checker<T>): Optional<T | undefined>;
export function optional<T>(c: Checker<T>, fallback: T): Optional<T>;
export function optional<T>(c: Checker<T>, fallback?: T): Optional<T | undefined> {
  const f = ((v: unknown, path: string) => (v === undefined || v === null ? fallback : c(v, path))) as Optional<T | undefined>;
  (f as { optional: boolean }).optional = true;
  return f;
}

type Shape = Record<string, Checker<unknown>>;
/** Keys whose checker may yield undefined are optional properties. */
type MaybeKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type ObjOf<S extends Shape> = { [K in Exclude<keyof S, MaybeKeys<S>>]: Infer<S[K]> } & { [K in MaybeKeys<S>]?: Infer<S[K]> } extends infer O
  ? { [K in keyof O]: O[K] }
  : never;

/**
 * While set, mappings record a bad key's error here and go on with their other keys, so one pass
 * finds every problem (`regate serve --check`); a mapping with a bad key skips its cross-key checks.
 */
let collecting: ConfigValueError[] | undefined;

/** Runs `fn` collecting every ConfigValueError the mappings meet; returns them (empty: the tree is valid). */
export function collectProblems(fn: () => void): ConfigValueError[] {
  const outer = collecting;
  const found: ConfigValueError[] = [];
  collecting = found;
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ConfigValueError)) throw err;
    found.push(err);
  } finally {
    collecting = outer;
  }
  return found;
}

/** Calls `f`; a ConfigValueError is recorded when collecting (returning false), thrown otherwise. */
function attempt(f: () => void): boolean {
  if (!collecting) {
    f();
    return true;
  }
  try {
    f();
    return true;
  } catch (err) {
    if (!(err instanceof ConfigValueError)) throw err;
    collecting.push(err);
    return false;
  }
}

/** A mapping with known keys; unknown keys are errors (they are usually typos). */
export function obj<S extends Shape>(shape: S, opts: { check?: (o: ObjOf<S>, path: string) => void } = {}): Checker<ObjOf<S>> {
  const known = Object.keys(shape);
  return (v, path) => {
    const input = v === undefined || v === null ? {} : v;
    if (!isMapping(input)) throw new ConfigValueError(path, 'a mapping', v);
    let ok = true;
    for (const k of Object.keys(input)) {
      if (!known.includes(k)) ok = attempt(() => { throw new UnknownKeyError(child(path, k), known); }) && ok;
    }
    const out = {} as Record<string, unknown>;
    for (const k of known) ok = attempt(() => void (out[k] = shape[k]!(input[k], child(path, k)))) && ok;
    if (ok) attempt(() => opts.check?.(out as ObjOf<S>, path));
    return out as ObjOf<S>;
  };
}
