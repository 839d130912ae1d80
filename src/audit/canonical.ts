/**
 * Canonical JSON (RFC 8785 JCS, restricted to what records hold): the one byte form of a record,
 * so its hash is reproducible by an auditor's own code. docs/audit-format.md §1 is the spec.
 * Hand-rolled rather than JSON.stringify with a sorted replacer: this runs once per request.
 */
import { AuditFormatError } from './errors.js';

/**
 * Serialises `value` canonically: sorted keys (UTF-16 order), no whitespace, integers only. With
 * `scrub`, every string, keys included, passes through it on the way out: the audit writer's
 * defence in depth costs no second walk and no copy of the record. String values under a key in
 * `keep` are written as they are. `scrub` must be a function of its string alone (the same string,
 * the same answer): what it does to a shape's member names is remembered (see `shapeOf`).
 */
export function canonicalJson(value: unknown, scrub?: (s: string) => string, keep?: ReadonlySet<string>): string {
  return write(value, scrub, keep, true);
}

/** The same text with every object's names sorted and scrubbed afresh: the reference the shape cache is tested against. */
export function canonicalJsonUncached(value: unknown, scrub?: (s: string) => string, keep?: ReadonlySet<string>): string {
  return write(value, scrub, keep, false);
}

function write(value: unknown, scrub: Scrub | undefined, keep: ReadonlySet<string> | undefined, cached: boolean): string {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes exactly as JCS does (a lone surrogate too, as a \u escape).
      return JSON.stringify(scrub ? scrub(value) : value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new AuditFormatError(`canonical JSON holds only safe integers, got ${value}`);
      return value === 0 ? '0' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + write(value[i] ?? null, scrub, keep, cached);
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      const names = Object.keys(obj);
      const shape = cached ? shapeOf(names) : undefined;
      if (shape !== undefined) return writeShaped(obj, shape, scrub, keep);
      const keys = names.sort();
      if (scrub && keys.some((k) => scrub(k) !== k)) return write(renamed(obj, scrub), scrub, keep, cached);
      let out = '{';
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        out += (out.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + write(v, typeof v === 'string' && keep?.has(k) ? undefined : scrub, keep, cached);
      }
      return out + '}';
    }
    default:
      throw new AuditFormatError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

type Scrub = (s: string) => string;

/**
 * The member names of one object shape (its names in `Object.keys` order), worked out once: their
 * sorted order and `"name":` texts, and, for the scrub and keep set last seen (the audit log has
 * one of each), whether every name scrubs to itself and which names keep their string values.
 * Records come in a few fixed shapes (a decision, an outcome, their bodies and decisions), so the
 * sort, the quoting and the scrub of each name, once per object per record, happen once per shape.
 */
interface Shape {
  readonly sorted: readonly string[];
  readonly quoted: readonly string[];
  scrub: Scrub | undefined;
  keep: ReadonlySet<string> | undefined;
  clean: boolean;
  kept: boolean[];
}

/** A trie of name sequences: the shape is found by walking an object's names, one map lookup each. */
interface ShapeNode {
  next: Map<string, ShapeNode> | undefined;
  shape: Shape | undefined;
}

const shapes: ShapeNode = { next: undefined, shape: undefined };
/**
 * Bounds on what is remembered: names are short in every record shape, and an object with a long
 * or a never-seen name once the trie is full takes the uncached path (same text, sorted afresh).
 */
const SHAPE_NODES_MAX = 4096;
const SHAPE_NAME_MAX = 64;
let shapeNodes = 0;

function shapeOf(names: string[]): Shape | undefined {
  let node = shapes;
  for (const name of names) {
    let next = node.next?.get(name);
    if (next === undefined) {
      if (shapeNodes >= SHAPE_NODES_MAX || name.length > SHAPE_NAME_MAX) return undefined;
      next = { next: undefined, shape: undefined };
      (node.next ??= new Map()).set(name, next);
      shapeNodes++;
    }
    node = next;
  }
  if (node.shape === undefined) {
    const sorted = names.slice().sort();
    node.shape = { sorted, quoted: sorted.map((k) => JSON.stringify(k) + ':'), scrub: undefined, keep: undefined, clean: true, kept: [] };
  }
  return node.shape;
}

function writeShaped(obj: Record<string, unknown>, shape: Shape, scrub: Scrub | undefined, keep: ReadonlySet<string> | undefined): string {
  const { sorted, quoted } = shape;
  if (scrub && (shape.scrub !== scrub || shape.keep !== keep)) {
    shape.clean = sorted.every((k) => scrub(k) === k);
    shape.kept = sorted.map((k) => keep?.has(k) === true);
    shape.scrub = scrub;
    shape.keep = keep;
  }
  if (scrub && !shape.clean) return write(renamed(obj, scrub), scrub, keep, true);
  let out = '{';
  for (let i = 0; i < sorted.length; i++) {
    const v = obj[sorted[i]!];
    if (v === undefined) continue;
    out += (out.length === 1 ? '' : ',') + quoted[i] + write(v, scrub && typeof v === 'string' && shape.kept[i] ? undefined : scrub, keep, true);
  }
  return out + '}';
}

/**
 * The object with its keys scrubbed (rare: a key holding card data), so they sort as written. Keys
 * that scrub to the same name keep the last value, as JSON.parse would.
 */
function renamed(obj: Record<string, unknown>, scrub: (s: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(obj)) out[scrub(k)] = obj[k];
  return out;
}

/** The canonical bytes of `value`. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
