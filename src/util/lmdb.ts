/**
 * Opening an LMDB environment in a folder: the one place the lmdb-js options every store needs
 * are set, so a fix reaches the audit log and the hold store alike (commit c1f9183 had to fix both).
 */
import { open, type RootDatabase, type RootDatabaseOptions } from 'lmdb';

/** Opens (creating unless read-only) the LMDB environment whose files live in folder `dir`. */
export function openEnvironment(dir: string, options: Omit<RootDatabaseOptions, 'path' | 'noSubdir'> = {}): RootDatabase {
  return open({
    ...options,
    path: dir,
    // lmdb-js takes a path with an extension (`audit.d`, `holds.d`, `logs-2026.11`) for a file, not a folder.
    noSubdir: false,
  });
}
