/**
 * Runs a compiled policy module in-process. The WebAssembly.Module is compiled once per bundle;
 * `@open-policy-agent/opa-wasm` instantiates it (and supplies the host builtins), and each
 * evaluation then calls the module's ABI 1.2 `opa_eval` directly: the input's JSON is encoded
 * straight into Wasm memory and the result decoded in place, which is what keeps an evaluation in
 * the microseconds. Every failure is a typed error; no path returns a decision that was not
 * validated against the contract.
 *
 * Most requests get one of a few decisions (the same text, byte for byte, from the module), so a
 * validated decision is kept by its text: the same text again skips `JSON.parse` and the contract
 * check (which proved exactly that text) and returns the same frozen object. A frozen decision
 * cannot be changed by one request for the next.
 */
import { createRequire } from 'node:module';
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { BundleError, PolicyDecisionError, PolicyEvalError } from './errors.js';
import { validateDecision } from './decision.js';
import type { CustomDetectorSpec } from './detectors.js';
import { HOST_BUILTINS } from './host.js';
import type { Decision, PolicyInput } from '../contract/index.js';

// The SDK's ESM entry only re-exports `loadPolicy`; its CommonJS entry has the synchronous loader.
const opa = createRequire(import.meta.url)('@open-policy-agent/opa-wasm') as typeof import('@open-policy-agent/opa-wasm');

export interface PolicyEngine {
  /** The bundle's revision (its manifest `revision`, else a digest of module and data). */
  readonly revision: string;
  readonly entrypoint: string;
  /** Masking detectors the bundle's data declares (`data.custom_detectors`), for rules that name them. */
  readonly customDetectors: readonly CustomDetectorSpec[];
  /** Evaluates the policy for one request; throws PolicyEvalError / PolicyDecisionError, never allows on error. */
  evaluate(input: PolicyInput): Decision;
  /** The same, for input already serialised as JSON (a string or UTF-8 bytes). */
  evaluateJson(json: string | Uint8Array): Decision;
}

export interface EngineOptions {
  module: WebAssembly.Module;
  data: unknown;
  revision: string;
  entrypoint: string;
  customDetectors?: CustomDetectorSpec[];
  /** Upper bound on Wasm memory, in 64 KiB pages (default 2048 = 128 MiB). */
  maxMemoryPages?: number;
}

interface OpaExports {
  opa_eval(reserved: number, entrypoint: number, data: number, input: number, inputLen: number, heapPtr: number, format: number): number;
  opa_json_dump(addr: number): number;
  builtins(): number;
}

const PAGE = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Distinct decision texts kept per engine, and the longest kept (longer ones are decided afresh). */
const MEMO_ENTRIES = 256;
const MEMO_TEXT_MAX = 4096;

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

/** Reads a NUL-terminated JSON string the module wrote at `addr`. */
function readJson(mem: WebAssembly.Memory, addr: number): unknown {
  const bytes = new Uint8Array(mem.buffer);
  const end = bytes.indexOf(0, addr);
  return JSON.parse(decoder.decode(bytes.subarray(addr, end === -1 ? bytes.length : end)));
}

/** The builtins a module imports from its host (everything it does not implement natively). */
export function importedBuiltins(exports: WebAssembly.Exports, mem: WebAssembly.Memory): string[] {
  const e = exports as unknown as OpaExports;
  return Object.keys(readJson(mem, e.opa_json_dump(e.builtins())) as Record<string, number>);
}

export function createEngine(opts: EngineOptions): PolicyEngine {
  const maximum = opts.maxMemoryPages ?? 2048;
  let policy: LoadedPolicy;
  try {
    policy = opa.loadPolicySync(opts.module, { initial: 5, maximum });
  } catch (err) {
    throw new BundleError(`policy.wasm cannot be instantiated: ${message(err)}`, { cause: err, file: 'policy.wasm' });
  }
  if (!(Number(policy.minorVersion) >= 2)) {
    throw new BundleError(`policy.wasm uses OPA Wasm ABI 1.${policy.minorVersion}; regate needs 1.2 or later`, { file: 'policy.wasm' });
  }
  const instance = (policy.wasmInstance as WebAssembly.Instance).exports;
  const exports = instance as unknown as OpaExports;
  const mem = policy.mem;
  const unsupported = importedBuiltins(instance, mem).filter((b) => !HOST_BUILTINS.includes(b));
  if (unsupported.length) {
    throw new BundleError(`policy.wasm calls builtin ${unsupported.join(', ')}, which neither the module nor regate's host implements`, { file: 'policy.wasm' });
  }
  const entrypointId = (policy.entrypoints as Record<string, number>)[opts.entrypoint];
  if (entrypointId === undefined) {
    throw new BundleError(`policy.wasm has no entrypoint ${opts.entrypoint}`, { file: 'policy.wasm' });
  }
  try {
    policy.setData(opts.data as object);
  } catch (err) {
    throw new BundleError(`data.json cannot be loaded into the module: ${message(err)}`, { cause: err, file: 'data.json' });
  }
  const base: number = policy.dataHeapPtr;
  const dataAddr = policy.dataAddr;
  const memo = new Map<string, Decision>();
  /** A view of the Wasm memory, made again only when the memory grew (growing detaches the old buffer). */
  let view = new Uint8Array(mem.buffer);
  const memory = (): Uint8Array => (view.buffer === mem.buffer ? view : (view = new Uint8Array(mem.buffer)));

  /** Makes room for `bytes` of input above the data heap. */
  function reserve(bytes: number): Uint8Array {
    const need = base + bytes + PAGE - mem.buffer.byteLength;
    if (need > 0) {
      try {
        mem.grow(Math.ceil(need / PAGE));
      } catch (err) {
        throw new PolicyEvalError(`policy input of ${bytes} bytes does not fit the ${maximum}-page Wasm memory limit`, { cause: err });
      }
    }
    return memory();
  }

  /** The decision in a result-set text: the one kept for this text, or parsed, checked, frozen and kept. */
  function decisionOf(text: string): Decision {
    const known = memo.get(text);
    if (known !== undefined) return known;
    let resultSet: unknown;
    try {
      resultSet = JSON.parse(text);
    } catch (err) {
      throw new PolicyEvalError(`policy evaluation of ${opts.entrypoint} returned malformed JSON: ${message(err)}`, { cause: err });
    }
    if (!Array.isArray(resultSet) || resultSet.length === 0) {
      throw new PolicyDecisionError(`policy entrypoint ${opts.entrypoint} is undefined for this input (no decision)`);
    }
    if (resultSet.length > 1) throw new PolicyDecisionError(`policy entrypoint ${opts.entrypoint} produced ${resultSet.length} results, expected one`);
    const decision = deepFreeze(validateDecision((resultSet[0] as { result?: unknown }).result));
    if (text.length <= MEMO_TEXT_MAX) {
      if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
      memo.set(text, decision);
    }
    return decision;
  }

  function run(json: string | Uint8Array): Decision {
    let len: number;
    if (typeof json === 'string') {
      len = encoder.encodeInto(json, reserve(json.length * 3).subarray(base)).written;
    } else {
      reserve(json.byteLength).set(json, base);
      len = json.byteLength;
    }
    let text: string;
    try {
      const addr = exports.opa_eval(0, entrypointId!, dataAddr, base, len, base + len, 0);
      const bytes = memory();
      const end = bytes.indexOf(0, addr);
      text = decoder.decode(bytes.subarray(addr, end === -1 ? bytes.length : end));
    } catch (err) {
      throw new PolicyEvalError(`policy evaluation of ${opts.entrypoint} failed: ${message(err)}`, { cause: err });
    }
    return decisionOf(text);
  }

  return {
    revision: opts.revision,
    entrypoint: opts.entrypoint,
    customDetectors: opts.customDetectors ?? [],
    evaluate(input: PolicyInput): Decision {
      let json: string | undefined;
      try {
        json = JSON.stringify(input);
      } catch (err) {
        throw new PolicyEvalError(`policy input cannot be serialised to JSON: ${message(err)}`, { cause: err });
      }
      if (typeof json !== 'string') throw new PolicyEvalError('policy input is not a JSON value');
      return run(json);
    },
    evaluateJson: run,
  };
}
