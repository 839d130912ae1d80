/**
 * `re2-wasm` behind the engine interface, with its three defects neutralised:
 * - each call copies the whole input into the Wasm heap and matches from there, so a match loop
 *   over a long string is quadratic: we only ever hand it a bounded window (grown while it finds
 *   nothing, shrunk around matches), accepting a match only when the window provably contains all
 *   of it (the pattern's declared maximum length plus one character of lookahead);
 * - it reports positions in code points: we convert them to UTF-16 offsets within the window;
 * - compiled patterns are never freed in its fixed heap: callers compile once and keep the pattern
 *   (the mask plan cache does that).
 */
import type { CompiledPattern, CompileOptions, Match, RegexEngine } from './regex-engine.js';

interface WasmMatch {
  index: number;
  match: string;
  groups: (string | undefined)[];
}
interface WasmRE2 {
  wrapper: { match(input: string, startCp: number, captureGroups: boolean): WasmMatch };
  groupNames: Record<number, string>;
}
type WasmCtor = new (source: string, flags: string) => WasmRE2;

const MIN_WINDOW = 512;
const MAX_WINDOW = 1 << 20;

export function wasmEngine(RE2: WasmCtor): RegexEngine {
  return {
    name: 'wasm',
    compile(source: string, options: CompileOptions): CompiledPattern {
      // `(?i)` rather than the `i` flag: the same source then means the same thing to both engines.
      const re = new RE2(options.ignoreCase ? `(?i)${source}` : source, 'u');
      const named = Object.entries(re.groupNames).map(([num, name]) => [Number(num), name] as const);
      const reach = options.maxLength + 1;
      const minWindow = Math.max(MIN_WINDOW, 2 * reach);
      let window = minWindow;
      return {
        next(text: string, from: number): Match | null {
          let pos = from;
          for (;;) {
            // One character (two units if astral) of context before `pos`, so `\b` sees it.
            const ctx = pos === 0 ? 0 : isLowSurrogate(text, pos - 1) && pos >= 2 ? pos - 2 : pos - 1;
            let end = Math.min(text.length, pos + window);
            if (end < text.length && isHighSurrogate(text, end - 1)) end++;
            const slice = text.slice(ctx, end);
            const m = re.wrapper.match(slice, pos === ctx ? 0 : 1, named.length > 0);
            const atEnd = end === text.length;
            if (m.index >= 0) {
              const start = ctx + utf16Offset(slice, m.index);
              if (atEnd || start + reach <= end) {
                window = Math.min(MAX_WINDOW, Math.max(minWindow, 4 * (start - pos + m.match.length)));
                const match: Match = { start, end: start + m.match.length };
                if (named.length > 0) match.groups = named.filter(([num]) => m.groups[num - 1] !== undefined).map(([, name]) => name);
                return match;
              }
            }
            if (atEnd) return null;
            // Nothing certain in this window: every start before `end - reach` is decided.
            pos = Math.max(pos + 1, end - reach);
            if (isLowSurrogate(text, pos)) pos--;
            window = Math.min(MAX_WINDOW, window * 2);
          }
        },
      };
    },
  };
}

function isHighSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}

/** The UTF-16 offset of code point number `cp` in `s`. */
function utf16Offset(s: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp; n++) i += isHighSurrogate(s, i) ? 2 : 1;
  return i;
}
