/** The bytes of every file under a folder (0 when it does not exist): an archive folder's size. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
}
