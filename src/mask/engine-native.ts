/**
 * The native `re2` addon behind the engine interface. It already reports UTF-16 offsets and caches
 * the UTF-8 copy of the last string it saw, so a lastIndex-driven exec loop stays linear.
 */
import type { CompiledPattern, CompileOptions, Match, RegexEngine } from './regex-engine.js';

interface NativeRE2 {
  lastIndex: number;
  exec(text: string): (RegExpExecArray & { groups?: Record<string, string | undefined> }) | null;
}
type NativeCtor = new (source: string, flags: string) => NativeRE2;

/**
 * Native RE2 costs about 0.7 µs a call on a new string (its UTF-8 copy) plus 2 ns a character; the
 * JavaScript prefilter about 4 ns a character: it pays below a few hundred characters
 * (`npm run bench:mask`, the `new N-char string` rows).
 */
const PREFILTER_BELOW = 512;

export function nativeEngine(RE2: NativeCtor): RegexEngine {
  return {
    name: 'native',
    compile(source: string, options: CompileOptions): CompiledPattern {
      const re = new RE2(source, options.ignoreCase ? 'gui' : 'gu');
      return {
        prefilterBelow: PREFILTER_BELOW,
        next(text: string, from: number): Match | null {
          re.lastIndex = from;
          const m = re.exec(text);
          if (!m) return null;
          const match: Match = { start: m.index, end: m.index + m[0].length };
          if (m.groups) match.groups = Object.keys(m.groups).filter((name) => m.groups![name] !== undefined);
          return match;
        },
      };
    },
  };
}
