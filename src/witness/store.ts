/**
 * The witness's own store, a folder: `state.json` (per origin, the latest checkpoint it cosigned:
 * tree size, root, note), replaced atomically (write, fsync, rename, fsync the folder) before any
 * cosignature leaves, and `alarms.jsonl`, one line per refused rollback or fork, fsync'd before the
 * refusal is answered. `witness.key.pem` is its Ed25519 key (created once, mode 0600).
 */
import { generateKeyPairSync, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { WitnessStoreError } from './errors.js';

export interface Cosigned {
  size: number;
  /** base64, as in the checkpoint. */
  root: string;
  /** The checkpoint as submitted, with the witness's cosignature appended. */
  note: string;
}

export interface Alarm {
  at: string;
  origin: string;
  kind: 'rollback' | 'fork' | 'inconsistent';
  /** The size the witness had cosigned, and the submitted checkpoint's. */
  cosigned_size: number;
  size: number;
  detail: string;
  checkpoint: string;
}

export class WitnessStore {
  private state: Record<string, Cosigned>;

  constructor(readonly dir: string) {
    try {
      mkdirSync(dir, { recursive: true });
      this.state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Record<string, Cosigned>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new WitnessStoreError(`cannot read the witness state ${join(dir, 'state.json')}: ${(err as Error).message}`, { cause: err });
      this.state = {};
    }
  }

  latest(origin: string): Cosigned | null {
    return this.state[origin] ?? null;
  }

  /** Makes `c` the latest for `origin`, durably, before the caller answers. */
  record(origin: string, c: Cosigned): void {
    const next = { ...this.state, [origin]: c };
    const file = join(this.dir, 'state.json');
    const tmp = `${file}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n');
      syncFile(tmp);
      renameSync(tmp, file);
      syncFile(this.dir);
    } catch (err) {
      throw new WitnessStoreError(`cannot write the witness state ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.state = next;
  }

  alarm(a: Alarm): void {
    const file = join(this.dir, 'alarms.jsonl');
    try {
      appendFileSync(file, JSON.stringify(a) + '\n');
      syncFile(file);
    } catch (err) {
      throw new WitnessStoreError(`cannot write the witness alarm log ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  alarms(): Alarm[] {
    try {
      return readFileSync(join(this.dir, 'alarms.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alarm);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new WitnessStoreError(`cannot read the witness alarm log: ${(err as Error).message}`, { cause: err });
    }
  }
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `<dir>/witness.key.pem`, created with a fresh Ed25519 key when missing. */
export function loadOrCreateWitnessKey(dir: string): KeyObject {
  const file = join(dir, 'witness.key.pem');
  mkdirSync(dir, { recursive: true });
  try {
    return createPrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new WitnessStoreError(`cannot read the witness key ${file}: ${(err as Error).message}`, { cause: err });
  }
  const key = generateKeyPairSync('ed25519').privateKey;
  try {
    writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return createPrivateKey(readFileSync(file, 'utf8'));
    throw new WitnessStoreError(`cannot write the witness key ${file}: ${(err as Error).message}`, { cause: err });
  }
}
