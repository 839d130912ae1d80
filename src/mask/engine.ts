/**
 * One small interface over the two RE2 builds, so detectors never know which one runs: native `re2`
 * (default, fastest) and `re2-wasm` (fallback where the addon cannot load). Both give linear-time
 * matching whatever pattern security writes; JavaScript's RegExp would let one bad custom pattern
 * stall the gateway (ReDoS). `REGATE_RE2=wasm|native` or an explicit choice selects the engine.
 */
import { createRequire } from 'node:module';
import { MaskEngineError } from './errors.js';
import { nativeEngine } from './engine-native.js';
import { wasmEngine } from './engine-wasm.js';
import type { EngineName, RegexEngine } from './regex-engine.js';

export type { CompiledPattern, CompileOptions, EngineName, Match, RegexEngine } from './regex-engine.js';

const require = createRequire(import.meta.url);
let nativeLoadError: unknown;

function loadNative(): RegexEngine | null {
  try {
    return nativeEngine(require('re2'));
  } catch (err) {
    nativeLoadError = err;
    return null;
  }
}

const engines = new Map<EngineName, RegexEngine>();

/**
 * The engine to use: `choice`, else `REGATE_RE2`, else native with wasm as the fallback when the
 * addon cannot load. Asking explicitly for native when it cannot load is an error, not a fallback.
 */
export function selectEngine(choice: EngineName | undefined = envChoice()): RegexEngine {
  const name = choice ?? (engines.has('native') || loadAndCacheNative() ? 'native' : 'wasm');
  const cached = engines.get(name);
  if (cached) return cached;
  if (name === 'native') {
    if (!loadAndCacheNative()) {
      throw new MaskEngineError(`native re2 addon cannot load (set REGATE_RE2=wasm to use re2-wasm)`, { cause: nativeLoadError });
    }
    return engines.get('native')!;
  }
  const wasm = wasmEngine(require('re2-wasm').RE2);
  engines.set('wasm', wasm);
  return wasm;
}

function loadAndCacheNative(): boolean {
  if (engines.has('native')) return true;
  const native = loadNative();
  if (native) engines.set('native', native);
  return native !== null;
}

function envChoice(): EngineName | undefined {
  const v = process.env.REGATE_RE2;
  if (v === undefined || v === '') return undefined;
  if (v === 'native' || v === 'wasm') return v;
  throw new MaskEngineError(`REGATE_RE2 must be "native" or "wasm", not ${JSON.stringify(v)}`);
}
