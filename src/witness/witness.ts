/**
 * The witness's decision on one add-checkpoint request (C2SP tlog-witness): cosign a checkpoint only
 * if a trusted key of its origin signed it and a consistency proof from the latest checkpoint it
 * cosigned verifies; refuse a rollback (a smaller tree than cosigned) or a fork (another root for a
 * size, or a proof that fails) and write an alarm record first. Check and update are one step
 * (requests are taken one at a time), so two racing submissions cannot roll the state back.
 */
import type { KeyObject } from 'node:crypto';
import { checkConsistency, cosignatureLine, parseNote, parseNoteCheckpoint, verifyAnyCheckpoint, type TrustedKey } from '../audit/index.js';
import { parseAddCheckpoint } from './protocol.js';
import type { WitnessStore } from './store.js';

export interface WitnessAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface WitnessOptions {
  name: string;
  key: KeyObject;
  /** Origin → the log keys trusted for it. */
  logs: ReadonlyMap<string, readonly TrustedKey[]>;
  store: WitnessStore;
  now?: () => number;
}

const text = (status: number, body: string): WitnessAnswer => ({ status, contentType: 'text/plain; charset=utf-8', body: body.endsWith('\n') ? body : body + '\n' });

export class Witness {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: WitnessOptions) {}

  get name(): string {
    return this.opts.name;
  }

  /** Answers one add-checkpoint request body; requests are decided one after another. */
  add(body: string): Promise<WitnessAnswer> {
    const answer = this.queue.then(() => this.decide(body));
    this.queue = answer.catch(() => undefined);
    return answer;
  }

  private async decide(body: string): Promise<WitnessAnswer> {
    const req = parseAddCheckpoint(body);
    if (typeof req === 'string') return text(400, `malformed add-checkpoint request: ${req}`);
    const cp = parseNoteCheckpoint(req.checkpoint);
    if (typeof cp === 'string') return text(400, `the checkpoint is not a tlog-checkpoint: ${cp}`);
    const keys = this.opts.logs.get(cp.origin);
    if (!keys) return text(404, `unknown log origin ${cp.origin}`);
    if (typeof (await verifyAnyCheckpoint(req.checkpoint, keys)) === 'string') return text(403, `no signature on the checkpoint verifies with a key trusted for ${cp.origin}`);
    if (req.old > cp.size) return text(400, `old size ${req.old} is larger than the checkpoint's size ${cp.size}`);
    const latest = this.opts.store.latest(cp.origin);
    const size = latest?.size ?? 0;
    const alarm = (kind: 'rollback' | 'fork' | 'inconsistent', detail: string) =>
      this.opts.store.alarm({ at: new Date(this.now()).toISOString(), origin: cp.origin, kind, cosigned_size: size, size: cp.size, detail, checkpoint: req.checkpoint });
    if (cp.size < size) {
      alarm('rollback', `a checkpoint of tree size ${cp.size} was submitted, smaller than tree size ${size} already cosigned`);
      return { status: 409, contentType: 'text/x.tlog.size', body: `${size}\n` };
    }
    if (req.old !== size) return { status: 409, contentType: 'text/x.tlog.size', body: `${size}\n` };
    if (latest && cp.size === size && latest.root !== cp.root.toString('base64')) {
      alarm('fork', `a checkpoint of tree size ${size} with root ${cp.root.toString('base64')} was submitted; root ${latest.root} was cosigned for that size`);
      return { status: 409, contentType: 'text/x.tlog.size', body: `${size}\n` };
    }
    const why = checkConsistency(req.old, cp.size, latest ? Buffer.from(latest.root, 'base64') : null, cp.root, req.proof);
    if (why !== null) {
      alarm('inconsistent', `the consistency proof from tree size ${req.old} to ${cp.size} does not verify: ${why}`);
      return text(422, `the consistency proof does not verify: ${why}`);
    }
    const line = cosignatureLine(cp.text, this.opts.name, this.opts.key, Math.floor(this.now() / 1000));
    // Persisted before the cosignature leaves: a crash after this point cannot forget it.
    this.opts.store.record(cp.origin, { size: cp.size, root: cp.root.toString('base64'), note: cp.note + line });
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: line };
  }

  /** The latest checkpoint cosigned for `origin`, cosignature included, or null. */
  latest(origin: string): string | null {
    return this.opts.store.latest(origin)?.note ?? null;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

/** Whether a cosignature response body is note signature lines (what a client adds to its checkpoint). */
export function signatureLines(body: string): string[] | null {
  const lines = body.split('\n').filter((l) => l !== '');
  if (lines.length === 0 || !body.endsWith('\n')) return null;
  const probe = parseNote(`x\n\n${lines.join('\n')}\n`);
  return typeof probe === 'string' ? null : lines;
}
