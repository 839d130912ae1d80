/**
 * A mask plan: the policy's mask rules compiled into RE2 passes and JSON-path automata, once per
 * distinct rule set (the plan is asked for on every request; compiling is the expensive part, and
 * re2-wasm never frees a compiled pattern, so the cache is what keeps its heap bounded).
 */
import type { MaskFormat, MaskRule } from '../contract/index.js';
import { selectEngine, type EngineName } from './engine.js';
import { MaskRuleError } from './errors.js';
import { BUILTIN_DETECTORS, builtinPass, customPass, type BuiltinDetector, type CustomDetector, type Formats } from './detectors.js';
import { parseJsonPath, type JsonPath } from './json-path.js';
import { panPass } from './pan-pass.js';
import { maskWhole, type MaskCounts, type Pass } from './pass.js';

export interface PathRule {
  path: JsonPath;
  format: MaskFormat;
}

export interface MaskPlan {
  readonly engine: EngineName;
  /** Applied in order: track/cvv/expiry, then pan, then the custom detectors' pass. */
  readonly passes: readonly Pass[];
  readonly paths: readonly PathRule[];
  /** Active built-in detectors and their formats (JSON keys give cvv/expiry their context too). */
  readonly formats: Formats;
  /** True when the plan masks nothing: maskers then pass bodies through untouched. */
  readonly empty: boolean;
}

export interface PlanOptions {
  engine?: EngineName;
}

const FORMATS: readonly MaskFormat[] = ['full', 'last4', 'first6last4'];
const CACHE_LIMIT = 256;
const cache = new Map<string, MaskPlan>();
const validatorIds = new WeakMap<object, number>();
let nextValidatorId = 1;

export function compileMaskPlan(rules: MaskRule[], custom: CustomDetector[] = [], options: PlanOptions = {}): MaskPlan {
  const engine = selectEngine(options.engine);
  const key = JSON.stringify([engine.name, rules, custom.map((d) => [d.name, d.pattern, d.maxLength, validatorKey(d.validate)])]);
  const hit = cache.get(key);
  if (hit) return hit;
  const formats: Formats = {};
  const customFormats: Record<string, MaskFormat> = {};
  const paths: PathRule[] = [];
  for (const [i, rule] of rules.entries()) {
    const where = `mask rule ${i} (${JSON.stringify(rule)})`;
    const format = rule.format ?? 'full';
    if (!FORMATS.includes(format)) throw new MaskRuleError(`${where}: format must be one of ${FORMATS.join(', ')}`);
    if ((rule.detector === undefined) === (rule.path === undefined)) throw new MaskRuleError(`${where}: set exactly one of "detector" and "path"`);
    if (rule.path !== undefined) {
      paths.push({ path: parseJsonPath(rule.path), format });
    } else if ((BUILTIN_DETECTORS as readonly string[]).includes(rule.detector!)) {
      formats[rule.detector as BuiltinDetector] = format;
    } else if (custom.some((d) => d.name === rule.detector)) {
      customFormats[rule.detector!] = format;
    } else {
      throw new MaskRuleError(`${where}: unknown detector ${JSON.stringify(rule.detector)} (built-in: ${BUILTIN_DETECTORS.join(', ')}; custom: ${custom.map((d) => d.name).join(', ') || 'none'})`);
    }
  }
  // `pan_any` finds every PAN `pan` does and more: with both named, `pan_any` decides, in its format.
  const panMode = formats.pan_any !== undefined ? 'pan_any' : formats.pan !== undefined ? 'pan' : undefined;
  const pan = panMode ? panPass(engine, panMode, formats[panMode]!) : null;
  const passes = [builtinPass(engine, formats), pan, customPass(engine, custom, customFormats)].filter((p): p is Pass => p !== null);
  const plan: MaskPlan = { engine: engine.name, passes, paths, formats, empty: passes.length === 0 && paths.length === 0 };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, plan);
  return plan;
}

function validatorKey(v: CustomDetector['validate']): string | number | null {
  if (v === undefined || v === 'luhn') return v ?? null;
  let id = validatorIds.get(v);
  if (id === undefined) {
    id = nextValidatorId++;
    validatorIds.set(v, id);
  }
  return id;
}

/** Runs every pass of the plan over a whole text. */
export function maskText(plan: MaskPlan, text: string): { text: string; counts: MaskCounts } {
  const counts: MaskCounts = {};
  let out = text;
  for (const pass of plan.passes) out = maskWhole(pass, out, counts);
  return { text: out, counts };
}
