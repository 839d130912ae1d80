/**
 * Server-sent events, masked generically. In a JSON event, every string leaf is one piece of a
 * text stream named by where it stands: its JSON path with array positions read from the
 * element's `index` field when it has one (`choices[#0].delta.content`, `delta.tool_calls[#1]
 * .function.arguments`, a top-level `index` for Anthropic's `content_block_delta`) and dropped when
 * not (`choices[#0].logprobs.content[].token`, whose tokens spell one text). So `delta.content`,
 * `reasoning_content`, tool-call arguments, `refusal`, logprob tokens, `input_json_delta` and any
 * field never heard of are each masked across events, and a card number spread over tokens is seen
 * whole. Label fields (`id`, `type`, `model`, `role`, `finish_reason`, ...) are masked whole in
 * each event instead: they repeat, they do not spell text. Only the values a masker changes are
 * rewritten (json-source.ts). A logprob entry's `bytes` follow its masked token; its
 * `top_logprobs` alternatives lose their digits whenever the token they stand beside was changed.
 * Non-JSON `data:` payloads are one more text stream; other fields and comments are masked line by
 * line. Held-back text goes out, in one extra event per stream shaped like the last event that
 * carried it, before a choice's `finish_reason` event, before `*_stop` and `[DONE]` events, and at
 * the end of the body.
 */
import { addCount, type MaskCounts } from './pass.js';
import { applyEdits, parseJsonSource, type Edit, type JsonNode, type JsonObject } from './json-source.js';
import { JsonMasker, type JsonPathTo } from './json.js';
import { maskText, type MaskPlan } from './plan.js';
import { TextStreamMasker, type TextMasker } from './stream-text.js';

/** Fields that label an event rather than carry text: masked whole, never streamed. */
const LABELS = new Set(['id', 'object', 'type', 'model', 'role', 'finish_reason', 'stop_reason', 'system_fingerprint', 'service_tier', 'created', 'index', 'name', 'provider']);
/** Labels an extra event copies from the last event of its stream, so clients can place it. */
const SHAPE_LABELS = new Set(['id', 'object', 'type', 'model', 'created', 'index', 'system_fingerprint']);

interface FieldStream {
  masker: TextStreamMasker;
  /** The last event that carried this stream: its source, root and path, read only if text is held back at its end. */
  last: { source: string; root: JsonNode; steps: NonNullable<JsonPathTo>[] };
}

export class SseMasker implements TextMasker {
  private pending = '';
  private lines: string[] = [];
  private readonly fields = new Map<string, FieldStream>();
  /** Non-JSON `data:` payloads, one text across events. */
  private data: TextStreamMasker | undefined;
  private readonly json: JsonMasker;

  constructor(private readonly plan: MaskPlan, private readonly counts: MaskCounts) {
    this.json = new JsonMasker(plan, counts);
  }

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
    return out + this.flush(() => true);
  }

  /** Masks and re-emits the event collected in `lines`. */
  private event(): string {
    const lines = this.lines;
    this.lines = [];
    const dataLines: string[] = [];
    const other: string[] = [];
    let otherMasked = false;
    for (const l of lines) {
      if (l.startsWith('data:')) dataLines.push(l.slice(l.startsWith('data: ') ? 6 : 5));
      else {
        const masked = this.alone(l);
        other.push(masked);
        if (masked !== l) otherMasked = true;
      }
    }
    const emit = (payload: string | null) => [...other, ...(payload === null ? [] : payload.split('\n').map((p) => `data: ${p}`))].join('\n') + '\n\n';
    if (dataLines.length === 0) return emit(null);
    const data = dataLines.join('\n');
    if (data.trim() === '[DONE]') return this.flush(() => true) + emit(data);
    // An object is a JSON event; anything else (a bare `5` included) is a piece of the data text.
    const root = /^[ \t\n\r]*\{/.test(data) ? parseJsonSource(data) : undefined;
    if (!root) {
      this.data ??= new TextStreamMasker(this.plan, this.counts);
      return emit(this.data.push(this.alone(data)));
    }
    const before = this.finishing(data, root);
    const edits: Edit[] = [];
    const alternatives: { node: JsonNode & { kind: 'string' }; parent: JsonNode; entry: JsonNode }[] = [];
    const changedEntries = new Set<JsonNode>();
    this.json.document(data, root, edits, (node, path) => {
      const key = path?.key;
      if (typeof key === 'string' && LABELS.has(key)) return this.json.short(node.value);
      const parent = path?.parent;
      if (key === 'token' && typeof parent?.key === 'number' && parent.parent?.key === 'top_logprobs') {
        alternatives.push({ node, parent: parent.node, entry: parent.parent.parent!.node });
        return undefined;
      }
      const released = this.stream(data, root, path).masker.push(this.alone(node.value));
      if (released === node.value) return undefined;
      if (key === 'token' && parent) {
        changedEntries.add(parent.node);
        const bytes = entryOf(parent.node, 'bytes');
        if (bytes?.kind === 'array') edits.push({ start: bytes.start, end: bytes.end, text: utf8Array(released) });
      }
      return released;
    });
    for (const { node, parent, entry } of alternatives) {
      const alt = maskText(this.plan, node.value);
      for (const [k, n] of Object.entries(alt.counts)) addCount(this.counts, k, n);
      // Beside a token that was masked or held back, an alternative could spell its digits.
      const text = changedEntries.has(entry) ? alt.text.replace(/\p{Nd}/gu, '*') : alt.text;
      if (text === node.value) continue;
      edits.push({ start: node.start, end: node.end, text: JSON.stringify(text) });
      const bytes = entryOf(parent, 'bytes');
      if (bytes?.kind === 'array') edits.push({ start: bytes.start, end: bytes.end, text: utf8Array(text) });
    }
    // As it came only when nothing in it changed: its `event:`, `id:` and comment lines included.
    return before + (edits.length === 0 && !otherMasked ? lines.join('\n') + '\n\n' : emit(applyEdits(data, edits)));
  }

  /**
   * Text of one event masked on its own: a non-data line (field or comment), and each piece of a
   * stream before it joins the stream. An event is read whole by many clients (a card record per
   * event, not a token of a text), and in the stream's text a card number complete in one event can
   * touch the digits of the next (`4111111111111111` then `5500000000000004` read as one 32-digit
   * run, which is no card number): so what the piece holds by itself goes masked, and the stream
   * then masks what spans events.
   */
  private alone(text: string): string {
    const r = maskText(this.plan, text);
    for (const [k, n] of Object.entries(r.counts)) addCount(this.counts, k, n);
    return r.text;
  }

  /**
   * The held-back text this event must follow: a choice with a `finish_reason` closes its streams,
   * a `*_stop` event closes every stream.
   */
  private finishing(source: string, root: JsonNode): string {
    if (root.kind !== 'object') return '';
    const type = entryOf(root, 'type');
    if (type?.kind === 'string' && type.value.endsWith('_stop')) return this.flush(() => true);
    const choices = entryOf(root, 'choices');
    if (choices?.kind !== 'array') return '';
    let out = '';
    for (const choice of choices.items) {
      if (choice.kind !== 'object') continue;
      const finish = entryOf(choice, 'finish_reason');
      if (!finish || source.slice(finish.start, finish.end) === 'null') continue;
      const prefix = `.choices${positionKey(source, choice)}`;
      out += this.flush((key) => key.startsWith(prefix + '.') || key === prefix);
    }
    return out;
  }

  /** The stream a string leaf belongs to, its shape updated from this event. */
  private stream(source: string, root: JsonNode, path: JsonPathTo): FieldStream {
    const steps: NonNullable<JsonPathTo>[] = [];
    for (let p = path; p; p = p.parent) steps.unshift(p);
    const index = root.kind === 'object' ? entryOf(root, 'index') : undefined;
    let key = index ? `#${rawOf(source, index)}` : '';
    for (const step of steps) key += typeof step.key === 'number' ? positionKey(source, step.node) : `.${step.key}`;
    const last = { source, root, steps };
    let s = this.fields.get(key);
    if (!s) this.fields.set(key, (s = { masker: new TextStreamMasker(this.plan, this.counts), last }));
    s.last = last;
    return s;
  }

  /** Extra events carrying the held-back text of the streams `which` selects, which then close. */
  private flush(which: (key: string) => boolean): string {
    let out = '';
    for (const [key, s] of this.fields) {
      if (!which(key)) continue;
      this.fields.delete(key);
      const rest = s.masker.end();
      if (rest !== '') out += `data: ${rebuild(s, rest)}\n\n`;
    }
    if (this.data && which('')) {
      const rest = this.data.end();
      this.data = undefined;
      if (rest !== '') out += rest.split('\n').map((p) => `data: ${p}`).join('\n') + '\n\n';
    }
    return out;
  }
}

/**
 * The JSON of an extra event: the held-back text where the stream's last event had its leaf, in
 * objects carrying that event's labels (and a logprob entry's `bytes`), arrays of one element.
 */
function rebuild(s: FieldStream, rest: string): string {
  const { source, root, steps } = s.last;
  let inner = JSON.stringify(rest);
  for (let i = steps.length - 1; i >= 0; i--) {
    const key = steps[i]!.key;
    if (typeof key === 'number') {
      inner = `[${inner}]`;
      continue;
    }
    const container = i === 0 ? root : steps[i - 1]!.node;
    const labels = container.kind === 'object' ? labelsOf(source, container) : '';
    const bytes = i === steps.length - 1 && key === 'token' && entryOf(container, 'bytes') ? `,"bytes":${utf8Array(rest)}` : '';
    inner = `{${labels}${labels ? ',' : ''}${JSON.stringify(key)}:${inner}${bytes}}`;
  }
  return inner;
}

function entryOf(node: JsonNode, key: string): JsonNode | undefined {
  if (node.kind !== 'object') return undefined;
  for (let i = node.entries.length - 1; i >= 0; i--) if (node.entries[i]!.key.value === key) return node.entries[i]!.value;
  return undefined;
}

function rawOf(source: string, node: JsonNode): string {
  return source.slice(node.start, node.end);
}

/** An array element's place in a stream key: its `index` field when it has one, else any position. */
function positionKey(source: string, element: JsonNode): string {
  const index = entryOf(element, 'index');
  return index && index.kind === 'number' ? `[#${rawOf(source, index)}]` : '[]';
}

/** An object's shape labels as JSON members (source text kept). */
function labelsOf(source: string, obj: JsonObject): string {
  const parts: string[] = [];
  for (const { key, value } of obj.entries) {
    if (SHAPE_LABELS.has(key.value) && value.kind !== 'object' && value.kind !== 'array') parts.push(`${JSON.stringify(key.value)}:${rawOf(source, value)}`);
  }
  return parts.join(',');
}

function utf8Array(text: string): string {
  return JSON.stringify([...Buffer.from(text, 'utf8')]);
}
