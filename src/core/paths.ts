/**
 * Claims output paths so that two recordings never write to one file: a path already owned by another
 * key (in this run or in the manifest) or present on disk without an owner gets a `-2`, `-3`… suffix.
 * Paths are compared case-insensitively, since the output folder may live on a case-insensitive disk.
 */
import { lstat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { RecpullError } from './errors.js';
import { withSuffix } from './template.js';

/** Hands out relative output paths, one owner (recording key) each. */
export class PathAllocator {
  /** lower-cased relative path → key that owns it */
  private readonly owners = new Map<string, string>();

  /** `owned`: relative path → key, from the manifest's done records. */
  constructor(
    private readonly out: string,
    owned: Iterable<[string, string]> = [],
  ) {
    for (const [path, key] of owned) this.owners.set(path.toLowerCase(), key);
  }

  /**
   * Returns a relative path for `key`, `wanted` itself when free or already owned by `key` (a re-download
   * with `--force` replaces its own file), else the first free suffixed variant. The claim is recorded
   * synchronously, before the disk is checked, so concurrent workers never get the same path.
   */
  async claim(wanted: string, key: string): Promise<string> {
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? wanted : withSuffix(wanted, n);
      const id = candidate.toLowerCase();
      const owner = this.owners.get(id);
      if (owner === key) return candidate;
      if (owner !== undefined) continue;
      this.owners.set(id, key);
      if (!(await exists(join(this.out, candidate)))) return candidate;
      this.owners.set(id, `\u0000disk:${candidate}`); // someone else's file: never overwrite it
    }
  }

  /** Gives a claimed path back (the item failed before writing anything). */
  release(path: string, key: string): void {
    const id = path.toLowerCase();
    if (this.owners.get(id) === key) this.owners.delete(id);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a relative output path, refusing anything that would land outside `out`. Throws E_IO. */
export function insideOut(out: string, rel: string): string {
  const root = resolve(out);
  const abs = resolve(root, rel);
  const back = relative(root, abs);
  if (back === '' || back.startsWith(`..${sep}`) || back === '..' || resolve(back) === back) {
    throw new RecpullError('E_IO', `refusing to write outside the output folder: ${rel}`);
  }
  return abs;
}
