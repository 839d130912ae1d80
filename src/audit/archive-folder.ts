/**
 * The folder archive (`audit.archive.dir`, meant to be on another volume than the live log): one
 * gzip file per segment, `<dir>/<segment / 1000>/segment-<segment>-<sealed at>.seg.gz`, holding a
 * header line (JSON: segment, first, size, checkpoint, base) and then the records, one a line
 * (docs/audit-format.md §10; `zcat` reads it). A file is written under a temporary name, fsync'd,
 * renamed into place and its folder fsync'd, so a reader sees a whole segment or none, and a crash
 * loses nothing the archiver believed stored. Folders of a thousand keep listings small.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { joinRecords, type ArchiveEntry, type ArchivedSegment, type AuditArchive } from './archive.js';
import { AuditArchiveError } from './errors.js';

const PER_FOLDER = 1000;
const FILE = /^segment-(\d+)-(\d{8}T\d{6}\.\d{3}Z)\.seg\.gz$/;
const FOLDER = /^\d+$/;

interface Header {
  v: 1;
  segment: number;
  first: number;
  size: number;
  checkpoint: string;
  base: { checkpoint: string; frontier: string[] } | null;
  sealed_at: string;
}

/** `2026-12-01T07:35:55.123Z` ⇄ `20261201T073555.123Z` (file names without ':'). */
const stamp = (iso: string): string => iso.replace(/[-:]/g, '');
const unstamp = (s: string): string => `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 11)}:${s.slice(11, 13)}:${s.slice(13)}`;

export class FolderArchive implements AuditArchive {
  readonly where: string;
  /** The last folder listed: segment → file name (a streaming reader asks for its segments in turn). */
  private cached: { folder: number; files: Map<number, string> } | null = null;

  constructor(readonly dir: string) {
    this.where = dir;
  }

  async put(s: ArchivedSegment): Promise<void> {
    const folder = this.folderOf(s.segment);
    const name = `segment-${String(s.segment).padStart(6, '0')}-${stamp(s.sealedAt)}.seg.gz`;
    const header: Header = {
      v: 1, segment: s.segment, first: s.first, size: s.size, checkpoint: s.checkpoint,
      base: s.base && { checkpoint: s.base.checkpoint, frontier: s.base.frontier.map((h) => h.toString('hex')) },
      sealed_at: s.sealedAt,
    };
    const bytes = gzipSync(joinRecords(s.records, Buffer.from(JSON.stringify(header) + '\n')));
    const tmp = join(folder, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const created = this.ensureFolder(folder);
      const fd = openSync(tmp, 'w', 0o640);
      try {
        writeSync(fd, bytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, join(folder, name));
      // A segment stored again (cosignatures added) takes the same name; a name left by another writer goes.
      for (const old of this.filesOf(s.segment)) if (old !== name) rmSync(join(folder, old), { force: true });
      syncDir(folder);
      if (created) syncDir(this.dir);
    } catch (err) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // the folder itself is what failed; there is no temporary file to remove
      }
      throw new AuditArchiveError(`cannot archive segment ${s.segment} to ${folder}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.cached = null;
    }
  }

  async get(segment: number): Promise<ArchivedSegment | null> {
    const name = this.nameOf(segment);
    if (name === undefined) return null;
    const file = join(this.folderOf(segment), name);
    let text: Buffer;
    try {
      text = gunzipSync(readFileSync(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new AuditArchiveError(`cannot read archived segment ${segment} (${file}): ${(err as Error).message}`, { cause: err });
    }
    return parseSegment(text, segment, file);
  }

  async *list(from = 0): AsyncIterable<ArchiveEntry> {
    let folders: number[];
    try {
      folders = readdirSync(this.dir).filter((f) => FOLDER.test(f)).map(Number).filter((f) => f >= Math.floor(from / PER_FOLDER)).sort((a, b) => a - b);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new AuditArchiveError(`cannot list the audit archive ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
    for (const folder of folders) {
      const files = this.listFolder(folder);
      for (const [segment, name] of [...files].sort(([a], [b]) => a - b)) {
        if (segment < from) continue;
        let bytes = 0;
        try {
          bytes = statSync(join(this.folderOf(segment), name)).size;
        } catch {
          continue; // deleted since the listing
        }
        yield { segment, sealedAt: unstamp(FILE.exec(name)![2]!), bytes };
      }
    }
  }

  async delete(segment: number): Promise<void> {
    const folder = this.folderOf(segment);
    try {
      for (const name of this.filesOf(segment)) rmSync(join(folder, name), { force: true });
      syncDir(folder);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new AuditArchiveError(`cannot delete archived segment ${segment} from ${folder}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.cached = null;
    }
  }

  async close(): Promise<void> {
    this.cached = null;
  }

  private folderOf(segment: number): string {
    return join(this.dir, String(Math.floor(segment / PER_FOLDER)).padStart(6, '0'));
  }

  private ensureFolder(folder: string): boolean {
    return mkdirSync(folder, { recursive: true }) !== undefined;
  }

  private listFolder(folder: number): Map<number, string> {
    if (this.cached?.folder === folder) return this.cached.files;
    const files = new Map<number, string>();
    let names: string[] = [];
    try {
      names = readdirSync(join(this.dir, String(folder).padStart(6, '0')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new AuditArchiveError(`cannot list the audit archive ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
    for (const name of names) {
      const m = FILE.exec(name);
      if (m) files.set(Number(m[1]), name);
    }
    this.cached = { folder, files };
    return files;
  }

  private nameOf(segment: number): string | undefined {
    return this.listFolder(Math.floor(segment / PER_FOLDER)).get(segment);
  }

  private filesOf(segment: number): string[] {
    let names: string[];
    try {
      names = readdirSync(this.folderOf(segment));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => Number(FILE.exec(n)?.[1] ?? -1) === segment);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function parseSegment(bytes: Buffer, segment: number, file: string): ArchivedSegment {
  const bad = (why: string): never => {
    throw new AuditArchiveError(`archived segment ${segment} (${file}) is not an archive file: ${why}`);
  };
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) bad('it has no header line');
  let h: Header;
  try {
    h = JSON.parse(bytes.subarray(0, nl).toString('utf8')) as Header;
  } catch {
    return bad('its header line is not JSON');
  }
  const ints = [h?.segment, h?.first, h?.size].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  const base = h?.base === null || (typeof h?.base?.checkpoint === 'string' && Array.isArray(h.base.frontier) && h.base.frontier.every((x) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x)));
  if (h?.v !== 1 || !ints || typeof h.checkpoint !== 'string' || typeof h.sealed_at !== 'string' || !base) bad('its header line lacks v, segment, first, size, checkpoint, base or sealed_at');
  if (h.segment !== segment) bad(`its header says segment ${h.segment}`);
  const records: Buffer[] = [];
  for (let start = nl + 1; start < bytes.length; ) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    records.push(bytes.subarray(start, end));
    start = end + 1;
  }
  return {
    segment, first: h.first, size: h.size, checkpoint: h.checkpoint, sealedAt: h.sealed_at, records,
    base: h.base && { checkpoint: h.base.checkpoint, frontier: h.base.frontier.map((x) => Buffer.from(x, 'hex')) },
  };
}
