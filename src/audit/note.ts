/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (type 0x01), and C2SP
 * tlog-cosignature/v1 (type 0x04, a timestamped Ed25519 signature over the note): the byte format
 * that standard transparency tooling (golang.org/x/mod/sumdb/note, witnesses) reads. A note is its
 * text (lines ending in U+000A), an empty line, then signature lines `— <name> <base64>`.
 */
import { createPublicKey, hash, sign, verify, type KeyObject } from 'node:crypto';

/** The em dash (U+2014) and space that open a signature line. */
const SIG_PREFIX = '\u2014 ';
const ED25519 = 0x01;
const COSIGNATURE_V1 = 0x04;

export interface NoteSignature {
  name: string;
  /** The 4-byte key id, as a number (big-endian). */
  keyId: number;
  /** The base64-decoded signature bytes after the key id. */
  bytes: Buffer;
  /** The line as written (without its newline). */
  line: string;
}

export interface Note {
  text: string;
  signatures: NoteSignature[];
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new TypeError(`a note key must be Ed25519, not ${pub.asymmetricKeyType}`);
  return Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url');
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** Key id of a key of signature `type` under `name`: SHA-256(name || 0x0A || type || key)[:4]. */
export function noteKeyId(name: string, type: number, key: KeyObject): number {
  return hash('sha256', Buffer.concat([Buffer.from(name + '\n', 'utf8'), Buffer.from([type]), rawPublicKey(key)]), 'buffer').readUInt32BE(0);
}

/** The verifier key string `<name>+<hex key id>+<base64(type || key)>` (what note.NewVerifier reads). */
export function verifierKey(name: string, key: KeyObject, type = ED25519): string {
  return `${name}+${noteKeyId(name, type, key).toString(16).padStart(8, '0')}+${Buffer.concat([Buffer.from([type]), rawPublicKey(key)]).toString('base64')}`;
}

/** Parses a verifier key string; returns why it is not one. */
export function parseVerifierKey(vkey: string): { name: string; type: number; key: KeyObject } | string {
  // The base64 key may itself hold '+': the name and the key id hold none.
  const m = /^([^+]+)\+([^+]+)\+(.+)$/s.exec(vkey.trim());
  if (!m || !validName(m[1]!)) return `"${vkey.trim()}" is not a verifier key (name+keyid+base64key)`;
  const [, name, id, b64] = m as unknown as [string, string, string, string];
  const bytes = strictBase64(b64);
  if (!bytes || bytes.length !== 33 || ![ED25519, COSIGNATURE_V1].includes(bytes[0]!)) return `the verifier key for ${name} is not an Ed25519 key (type 0x01 or 0x04, 32 bytes)`;
  const key = publicKeyFromRaw(bytes.subarray(1));
  if (!/^[0-9a-f]{8}$/.test(id) || noteKeyId(name, bytes[0]!, key).toString(16).padStart(8, '0') !== id) return `the verifier key for ${name} has a key id that does not match its key`;
  return { name, type: bytes[0]!, key };
}

/** A key name: non-empty, no whitespace, no '+'. */
export function validName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

/** Base64 (RFC 4648 §4, padded) decoded only when it re-encodes to the same text: one encoding per value. */
export function strictBase64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

/** Signs `text` (which must end in a newline) as `name`: one signature line, with its newline. */
export function signatureLine(text: string, name: string, key: KeyObject): string {
  const sig = sign(null, Buffer.from(text, 'utf8'), key);
  const id = Buffer.alloc(4);
  id.writeUInt32BE(noteKeyId(name, ED25519, key));
  return `${SIG_PREFIX}${name} ${Buffer.concat([id, sig]).toString('base64')}\n`;
}

/** Splits a note into its text and signature lines; returns why it is not a note. */
export function parseNote(note: string): Note | string {
  if (!note.endsWith('\n')) return 'it does not end in a newline';
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return 'it has no empty line before its signatures';
  const text = note.slice(0, split + 1);
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) return 'its text holds a control character';
  const signatures: NoteSignature[] = [];
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    const bytes = m ? strictBase64(m[2]!) : null;
    if (!m || !validName(m[1]!) || !bytes || bytes.length < 5) return `"${line}" is not a signature line (— name base64)`;
    signatures.push({ name: m[1]!, keyId: bytes.readUInt32BE(0), bytes: bytes.subarray(4), line });
  }
  if (signatures.length === 0) return 'it has no signature';
  return { text, signatures };
}

/** Whether `key` signed the note's text as `name` (an Ed25519 note signature). */
export function hasSignature(note: Note, name: string, key: KeyObject): boolean | null {
  const id = noteKeyId(name, ED25519, key);
  const mine = note.signatures.filter((s) => s.name === name && s.keyId === id);
  if (mine.length === 0) return null;
  return mine.some((s) => s.bytes.length === 64 && verify(null, Buffer.from(note.text, 'utf8'), key, s.bytes));
}

const cosignedMessage = (text: string, time: number): Buffer => Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');

/** A cosignature/v1 line by witness `name` over the note text, at POSIX time `time` (seconds). */
export function cosignatureLine(text: string, name: string, key: KeyObject, time: number): string {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(noteKeyId(name, COSIGNATURE_V1, key), 0);
  head.writeBigUInt64BE(BigInt(time), 4);
  return `${SIG_PREFIX}${name} ${Buffer.concat([head, sign(null, cosignedMessage(text, time), key)]).toString('base64')}\n`;
}

/**
 * The witness's cosignature on the note: its time when valid, `false` when a line under its name
 * and key id does not verify (a cosignature over other text: evidence of a rewrite), null when absent.
 */
export function cosignature(note: Note, name: string, key: KeyObject): number | false | null {
  const id = noteKeyId(name, COSIGNATURE_V1, key);
  const mine = note.signatures.filter((s) => s.name === name && s.keyId === id);
  if (mine.length === 0) return null;
  for (const s of mine) {
    if (s.bytes.length !== 72) continue;
    const time = s.bytes.readBigUInt64BE(0);
    if (time >= 2n ** 63n) continue;
    if (verify(null, cosignedMessage(note.text, Number(time)), key, s.bytes.subarray(8))) return Number(time);
  }
  return false;
}
