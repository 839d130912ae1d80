/**
 * SSE masking for OpenAI-compatible `chat.completion.chunk` streams. Text a model streams is read
 * across events per choice and field (`delta.content`, `delta.reasoning_content`, tool-call
 * arguments...), so a card number spread over several tokens is still caught; each event is
 * re-emitted with the part of its text that is final, so every event stays valid SSE carrying
 * valid JSON. Held-back text goes out with the choice's `finish_reason` event, or, at `[DONE]` or
 * the end of the stream, in one extra chunk event. Events that are not chunks are masked whole.
 */
import { addCount, type MaskCounts } from './pass.js';
import { maskText, type MaskPlan } from './plan.js';
import { TextStreamMasker, type TextMasker } from './stream-text.js';

type Json = Record<string, unknown>;

export class SseMasker implements TextMasker {
  private pending = '';
  private lines: string[] = [];
  private readonly streams = new Map<string, { masker: TextStreamMasker; choice: number; field: string; tool?: number }>();
  private envelope: Json | undefined;

  constructor(private readonly plan: MaskPlan, private readonly counts: MaskCounts) {}

  push(text: string): string {
    this.pending += text;
    let out = '';
    let i = 0;
    const eol = /\r\n|\r|\n/g;
    for (;;) {
      eol.lastIndex = i;
      const nl = eol.exec(this.pending);
      if (!nl) break;
      const at = nl.index;
      // A lone `\r` at the end may be the first half of `\r\n`: wait for the next byte.
      if (this.pending[at] === '\r' && at + 1 === this.pending.length) break;
      const line = this.pending.slice(i, at);
      i = at + (this.pending.startsWith('\r\n', at) ? 2 : 1);
      if (line === '') out += this.event();
      else this.lines.push(line);
    }
    this.pending = this.pending.slice(i);
    return out;
  }

  end(): string {
    let out = '';
    if (this.pending !== '') this.lines.push(this.pending);
    this.pending = '';
    if (this.lines.length > 0) out += this.event();
    return out + this.flushAll();
  }

  /** Masks and re-emits the event collected in `lines`. */
  private event(): string {
    const lines = this.lines;
    this.lines = [];
    const dataLines = lines.filter((l) => l.startsWith('data:'));
    if (dataLines.length === 0) return lines.join('\n') + '\n\n';
    const data = dataLines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n');
    const other = lines.filter((l) => !l.startsWith('data:'));
    const emit = (payload: string) => [...other, ...payload.split('\n').map((p) => `data: ${p}`)].join('\n') + '\n\n';
    if (data.trim() === '[DONE]') return this.flushAll() + lines.join('\n') + '\n\n';
    const chunk = parseChunk(data);
    if (!chunk) {
      const r = maskText(this.plan, data);
      for (const [k, n] of Object.entries(r.counts)) addCount(this.counts, k, n);
      return r.text === data ? lines.join('\n') + '\n\n' : emit(r.text);
    }
    const { choices, ...envelope } = chunk;
    this.envelope = envelope;
    let changed = false;
    for (const choice of choices as Json[]) {
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const delta = choice.delta as Json | undefined;
      if (!delta || typeof delta !== 'object') continue;
      const finished = choice.finish_reason !== null && choice.finish_reason !== undefined;
      for (const [field, value] of Object.entries(delta)) {
        if (typeof value !== 'string' || field === 'role') continue;
        const masked = this.stream(index, field).push(value);
        if (masked !== value) {
          delta[field] = masked;
          changed = true;
        }
      }
      for (const call of Array.isArray(delta.tool_calls) ? (delta.tool_calls as Json[]) : []) {
        const fn = call.function as Json | undefined;
        if (!fn || typeof fn.arguments !== 'string') continue;
        const masked = this.stream(index, 'arguments', Number(call.index ?? 0)).push(fn.arguments);
        if (masked !== fn.arguments) {
          fn.arguments = masked;
          changed = true;
        }
      }
      if (finished) changed = this.flushChoice(index, delta) || changed;
    }
    return changed ? emit(JSON.stringify(chunk)) : lines.join('\n') + '\n\n';
  }

  private stream(choice: number, field: string, tool?: number): TextStreamMasker {
    const key = `${choice}\u0000${field}\u0000${tool ?? ''}`;
    let s = this.streams.get(key);
    if (!s) {
      s = { masker: new TextStreamMasker(this.plan, this.counts), choice, field, ...(tool === undefined ? {} : { tool }) };
      this.streams.set(key, s);
    }
    return s.masker;
  }

  /** Appends a choice's held-back text to its delta; true when anything was added. */
  private flushChoice(choice: number, delta: Json): boolean {
    let changed = false;
    for (const [key, s] of this.streams) {
      if (s.choice !== choice) continue;
      this.streams.delete(key);
      const rest = s.masker.end();
      if (rest === '') continue;
      changed = true;
      if (s.tool === undefined) {
        delta[s.field] = (typeof delta[s.field] === 'string' ? delta[s.field] : '') + rest;
      } else {
        const calls = Array.isArray(delta.tool_calls) ? (delta.tool_calls as Json[]) : (delta.tool_calls = []);
        let call = calls.find((c) => Number(c.index ?? 0) === s.tool);
        if (!call) calls.push((call = { index: s.tool, function: { arguments: '' } }));
        const fn = (call.function ??= { arguments: '' }) as Json;
        fn.arguments = (typeof fn.arguments === 'string' ? fn.arguments : '') + rest;
      }
    }
    return changed;
  }

  /** One extra chunk event carrying every choice's held-back text, or nothing. */
  private flushAll(): string {
    const byChoice = new Map<number, Json>();
    for (const s of [...this.streams.values()]) {
      if (!byChoice.has(s.choice)) byChoice.set(s.choice, {});
      this.flushChoice(s.choice, byChoice.get(s.choice)!);
    }
    const choices = [...byChoice].filter(([, d]) => Object.keys(d).length > 0).map(([index, delta]) => ({ index, delta, finish_reason: null }));
    if (choices.length === 0) return '';
    return `data: ${JSON.stringify({ ...this.envelope, choices })}\n\n`;
  }
}

function parseChunk(data: string): (Json & { choices: unknown[] }) | undefined {
  try {
    const v = JSON.parse(data) as unknown;
    if (v && typeof v === 'object' && Array.isArray((v as Json).choices)) return v as Json & { choices: unknown[] };
  } catch {
    // Not JSON: masked as plain text by the caller.
  }
  return undefined;
}
