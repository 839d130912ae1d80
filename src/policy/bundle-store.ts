/**
 * Bundles kept by revision. The gateway saves every bundle it loads into its state folder
 * (`<state_dir>/bundle-revisions/<revision>.tar.gz`), so that a decision recorded in the audit log can later
 * be re-evaluated with the very bundle that made it (`regate policy diff`): the log names the
 * revision, the store has its bytes. Any folder of bundles can serve as a store; a bundle is found
 * by its file name first and otherwise by reading every bundle in the folder for its revision.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError } from './errors.js';
import type { PolicyEngine } from './evaluator.js';
import { loadBundle, type LoadOptions } from './load.js';

/** The gateway's bundle store: this folder of its state folder. */
export const BUNDLE_REVISIONS = 'bundle-revisions';

/** The file a revision is stored under: the revision with anything but `A-Za-z0-9_.-` replaced by `-`. */
export function bundleFileName(revision: string): string {
  return `${revision.replace(/[^A-Za-z0-9_.-]/g, '-')}.tar.gz`;
}

/**
 * Saves `bytes` as the bundle of `revision` in `dir` (created if missing); a revision already
 * there is left as it is (same revision, same module and data). The file appears whole or not at
 * all (written aside, then renamed). Returns its path.
 */
export async function saveBundle(dir: string, revision: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, bundleFileName(revision));
  if (await stat(path).then(() => true, () => false)) return path;
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${randomUUID()}.tmp`);
  await writeFile(tmp, bytes);
  await rename(tmp, path);
  return path;
}

/** No bundle in the store has the revision asked for. */
export class BundleNotFound extends BundleError {
  static override readonly code: string = 'ERR_BUNDLE_NOT_FOUND';
}

/** Finds (and compiles once) the bundle of a revision among the bundles in some folders. */
export class BundleStore {
  readonly #engines = new Map<string, Promise<PolicyEngine>>();
  #index: Promise<Map<string, string>> | null = null;

  constructor(
    readonly dirs: readonly string[],
    private readonly opts: LoadOptions = {},
  ) {}

  /** The engine of `revision`; rejects with BundleNotFound naming the folders searched and what they hold. */
  engine(revision: string): Promise<PolicyEngine> {
    let e = this.#engines.get(revision);
    if (!e) {
      e = this.#find(revision);
      this.#engines.set(revision, e);
    }
    return e;
  }

  async #find(revision: string): Promise<PolicyEngine> {
    for (const dir of this.dirs) {
      const named = join(dir, bundleFileName(revision));
      if (!(await stat(named).then(() => true, () => false))) continue;
      const engine = await loadBundle(named, this.opts);
      if (engine.revision === revision) return engine;
    }
    const index = await (this.#index ??= this.#scan());
    const path = index.get(revision);
    if (path) return loadBundle(path, this.opts);
    const held = [...index.keys()];
    throw new BundleNotFound(
      `no bundle of revision ${revision} in ${this.dirs.length ? this.dirs.join(', ') : '(no bundle folder)'}` +
        (held.length ? ` (it holds ${held.join(', ')})` : ' (it holds no bundle)'),
    );
  }

  /** Revision → path of every readable bundle in the folders; unreadable files are passed over. */
  async #scan(): Promise<Map<string, string>> {
    const index = new Map<string, string>();
    for (const dir of this.dirs) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names.filter((n) => n.endsWith('.tar.gz')).sort()) {
        const path = join(dir, name);
        const engine = await loadBundle(path, this.opts).catch(() => null);
        if (engine && !index.has(engine.revision)) index.set(engine.revision, path);
      }
    }
    return index;
  }
}
