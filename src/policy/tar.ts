/**
 * A small ustar reader and writer for OPA bundles (gzipped tarballs), so regate needs no tar
 * dependency. Reading is defensive: bundles may come over the network, so sizes and counts are
 * capped before anything is allocated, and every header is checksummed. Only what bundles use is
 * supported: regular files, directories (skipped), PAX and GNU long-name headers.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { BundleError, BundleTooLarge } from './errors.js';

export interface TarLimits {
  /** Largest gzip input accepted (bytes). */
  maxCompressedBytes: number;
  /** Largest unpacked tar stream (bytes). */
  maxUncompressedBytes: number;
  /** Largest single file (bytes). */
  maxFileBytes: number;
  maxFiles: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  maxCompressedBytes: 32 * 2 ** 20,
  maxUncompressedBytes: 128 * 2 ** 20,
  maxFileBytes: 64 * 2 ** 20,
  maxFiles: 1000,
};

export interface TarEntry {
  /** Path inside the archive, without a leading `/` or `./`. */
  name: string;
  bytes: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function field(block: Uint8Array, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return decoder.decode(nul === -1 ? raw : raw.subarray(0, nul));
}

function octal(block: Uint8Array, offset: number, length: number, what: string): number {
  const text = field(block, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new BundleError(`tar header has a malformed ${what} field (${JSON.stringify(text)})`);
  return parseInt(text, 8);
}

function checksumOf(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** Strips `/` and `./` prefixes and rejects paths that climb out of the archive. */
function normalise(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new BundleError(`tar entry ${JSON.stringify(name)} climbs out of the bundle`);
  return parts.join('/');
}

function parsePax(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const text = decoder.decode(bytes);
  let i = 0;
  while (i < text.length) {
    const space = text.indexOf(' ', i);
    const len = parseInt(text.slice(i, space), 10);
    if (space === -1 || !Number.isFinite(len) || len <= 0) throw new BundleError('tar PAX header is malformed');
    const record = text.slice(space + 1, i + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Gunzips and unpacks a bundle archive, within limits. */
export function readTarGz(gz: Uint8Array, limits: TarLimits = DEFAULT_TAR_LIMITS): TarEntry[] {
  if (gz.byteLength > limits.maxCompressedBytes) {
    throw new BundleTooLarge(`bundle is ${gz.byteLength} bytes, over the ${limits.maxCompressedBytes}-byte limit`);
  }
  let tar: Buffer;
  try {
    tar = gunzipSync(gz, { maxOutputLength: limits.maxUncompressedBytes });
  } catch (err) {
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BundleTooLarge(`bundle unpacks to more than ${limits.maxUncompressedBytes} bytes`, { cause: err });
    }
    throw new BundleError(`bundle is not a gzip file: ${(err as Error).message}`, { cause: err });
  }
  return readTar(tar, limits);
}

export function readTar(tar: Uint8Array, limits: TarLimits): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= tar.byteLength) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return entries;
    if (octal(header, 148, 8, 'checksum') !== checksumOf(header)) {
      throw new BundleError(`tar header at byte ${offset} fails its checksum (not a tar archive, or corrupt)`);
    }
    const size = octal(header, 124, 12, 'size');
    const type = String.fromCharCode(header[156]!);
    const prefix = field(header, 257, 6).startsWith('ustar') ? field(header, 345, 155) : '';
    const rawName = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    if (size > limits.maxFileBytes) {
      throw new BundleTooLarge(`bundle file ${rawName} is ${size} bytes, over the ${limits.maxFileBytes}-byte limit`, { file: normalise(rawName) });
    }
    const start = offset + BLOCK;
    if (start + size > tar.byteLength) throw new BundleError(`bundle file ${rawName} is truncated`);
    const body = tar.subarray(start, start + size);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      longName = parsePax(body).path ?? longName;
      continue;
    }
    if (type === 'L') {
      longName = field(body, 0, body.byteLength);
      continue;
    }
    longName = undefined;
    if (type === 'g' || type === '5') continue;
    if (type !== '0' && type !== '\0') {
      throw new BundleError(`bundle entry ${rawName} has tar type ${JSON.stringify(type)}; only regular files are allowed`);
    }
    const name = normalise(rawName);
    if (entries.some((e) => e.name === name)) throw new BundleError(`bundle contains ${name} twice`, { file: name });
    entries.push({ name, bytes: body });
    if (entries.length > limits.maxFiles) throw new BundleTooLarge(`bundle has more than ${limits.maxFiles} files`);
  }
  throw new BundleError('tar archive ends without its end-of-archive marker (truncated)');
}

function putString(block: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = new TextEncoder().encode(value);
  if (bytes.byteLength > length) throw new BundleError(`tar field value ${JSON.stringify(value)} is too long`);
  block.set(bytes, offset);
}

function putOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  putString(block, offset, length, value.toString(8).padStart(length - 1, '0'));
}

/**
 * Packs files into a gzipped ustar archive with OPA's conventions (absolute names, mode 0644,
 * mtime 0, no owner), so the same files always give the same bytes.
 */
export function writeTarGz(entries: TarEntry[]): Buffer {
  const blocks: Uint8Array[] = [];
  for (const { name, bytes } of entries) {
    const header = new Uint8Array(BLOCK);
    putString(header, 0, 100, `/${normalise(name)}`);
    putOctal(header, 100, 8, 0o644);
    putOctal(header, 108, 8, 0);
    putOctal(header, 116, 8, 0);
    putOctal(header, 124, 12, bytes.byteLength);
    putOctal(header, 136, 12, 0);
    header[156] = '0'.charCodeAt(0);
    putString(header, 257, 6, 'ustar');
    putString(header, 263, 2, '00');
    putString(header, 148, 8, `${checksumOf(header).toString(8).padStart(6, '0')}\0 `);
    blocks.push(header, bytes);
    const pad = (BLOCK - (bytes.byteLength % BLOCK)) % BLOCK;
    if (pad) blocks.push(new Uint8Array(pad));
  }
  blocks.push(new Uint8Array(BLOCK * 2));
  return gzipSync(Buffer.concat(blocks), { level: 9 });
}
