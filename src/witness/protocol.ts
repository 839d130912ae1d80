/**
 * The C2SP tlog-witness `add-checkpoint` request body: `old <size>\n`, up to 63 base64 consistency
 * proof lines, an empty line, then the checkpoint note. Parsing is strict (one encoding per request).
 */
import { strictBase64 } from '../audit/index.js';

export interface AddCheckpoint {
  old: number;
  proof: Buffer[];
  checkpoint: string;
}

export const MAX_PROOF_LINES = 63;

/** Parses a request body; returns why it is malformed. */
export function parseAddCheckpoint(body: string): AddCheckpoint | string {
  const blank = body.indexOf('\n\n');
  if (blank < 0) return 'no empty line before the checkpoint';
  const head = body.slice(0, blank).split('\n');
  const m = /^old (0|[1-9][0-9]*)$/.exec(head[0] ?? '');
  if (!m || !Number.isSafeInteger(Number(m[1]))) return 'the first line is not "old <size>" (decimal, no leading zeros)';
  const lines = head.slice(1);
  if (lines.length > MAX_PROOF_LINES) return `more than ${MAX_PROOF_LINES} consistency proof lines`;
  const proof: Buffer[] = [];
  for (const line of lines) {
    const h = strictBase64(line);
    if (!h || h.length !== 32) return `"${line}" is not a base64 SHA-256 hash`;
    proof.push(h);
  }
  return { old: Number(m[1]), proof, checkpoint: body.slice(blank + 2) };
}

/** The request body for `add-checkpoint`. */
export function formatAddCheckpoint(req: AddCheckpoint): string {
  return `old ${req.old}\n${req.proof.map((h) => h.toString('base64') + '\n').join('')}\n${req.checkpoint}`;
}
