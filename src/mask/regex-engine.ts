/**
 * What a regular-expression engine offers the detectors, whichever RE2 build implements it: the
 * interface engine.ts selects and engine-native.ts / engine-wasm.ts implement (apart from them, so
 * the implementations do not import their selector).
 */
/** A match in UTF-16 offsets (what `String.prototype.slice` uses), whatever the engine. */
export interface Match {
  start: number;
  end: number;
  /** Names of the named groups that took part in the match, when the pattern has any. */
  groups?: string[];
}

export interface CompileOptions {
  ignoreCase?: boolean;
  /** Longest match the pattern can produce (UTF-16 units); engines that scan in windows rely on it. */
  maxLength: number;
}

export interface CompiledPattern {
  /** The leftmost match starting at or after `from`; the text before `from` is context only. */
  next(text: string, from: number): Match | null;
  /**
   * Texts of at least this many characters (from the search position) are searched faster by the
   * engine than a JavaScript prefilter (`Pass.firstCandidate`) can rule a match out, so callers ask
   * the engine directly. Undefined: the prefilter always pays.
   */
  readonly prefilterBelow?: number;
}

export interface RegexEngine {
  readonly name: EngineName;
  compile(source: string, options: CompileOptions): CompiledPattern;
}

export type EngineName = 'native' | 'wasm';
