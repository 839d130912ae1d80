/**
 * The JSON-path subset mask rules use: `$`, `.name`, `['name']`, `[n]`, `[*]`, `.*` and recursive
 * descent `..name` / `..*`. A path compiles to a small automaton stepped one key at a time, so the
 * same matcher serves a parsed JSON tree and a streaming JSON tokenizer.
 */
import { MaskRuleError } from './errors.js';

type Key = string | number | '*';
interface Segment {
  descend: boolean;
  key: Key;
}

export interface JsonPath {
  readonly source: string;
  readonly segments: readonly Segment[];
}

const NAME = /^[A-Za-z_$][\w$-]*/;

export function parseJsonPath(source: string): JsonPath {
  if (!source.startsWith('$')) throw new MaskRuleError(`mask path ${JSON.stringify(source)} must start with "$"`);
  const segments: Segment[] = [];
  let i = 1;
  const fail = (why: string) => new MaskRuleError(`mask path ${JSON.stringify(source)}: ${why} at offset ${i}`);
  while (i < source.length) {
    let descend = false;
    if (source.startsWith('..', i)) {
      descend = true;
      i += 2;
    } else if (source[i] === '.') {
      i += 1;
    } else if (source[i] !== '[') {
      throw fail('expected "." or "["');
    }
    if (source[i] === '*') {
      segments.push({ descend, key: '*' });
      i += 1;
    } else if (source[i] === '[') {
      const close = source.indexOf(']', i);
      if (close < 0) throw fail('unclosed "["');
      const inner = source.slice(i + 1, close);
      let key: Key;
      if (inner === '*') key = '*';
      else if (/^\d+$/.test(inner)) key = Number(inner);
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) key = inner.slice(1, -1);
      else throw fail(`bad selector [${inner}]`);
      segments.push({ descend, key });
      i = close + 1;
    } else {
      const name = NAME.exec(source.slice(i));
      if (!name) throw fail('expected a name');
      segments.push({ descend, key: name[0] });
      i += name[0].length;
    }
  }
  return { source, segments };
}

/** Automaton states: how many segments have been matched, one entry per live alternative. */
export type PathState = readonly number[];
export const START: PathState = [0];

/** The states after stepping into child `key` (an object key or array index). */
export function step(path: JsonPath, state: PathState, key: string | number): PathState {
  const next: number[] = [];
  const add = (n: number) => {
    if (!next.includes(n)) next.push(n);
  };
  for (const i of state) {
    const seg = path.segments[i];
    if (!seg) continue;
    if (seg.descend) add(i);
    if (seg.key === '*' || seg.key === key) add(i + 1);
  }
  return next;
}

export function matched(path: JsonPath, state: PathState): boolean {
  return state.includes(path.segments.length);
}
