/**
 * Crash recovery of bundle folders (src/core/bundle.ts): what the `.part` journal's bundle entries say to
 * undo at the next run's start. Kept apart from the bundle writer so the journal does not import it.
 */
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { resolveInsideOut } from './paths.js';

/**
 * Undoes what a crash left of the bundle folder `rel` (journalled by {@link writeBundle}); `done` says whether
 * the manifest has a `done` line for its key. A folder swap cut between its renames (`<folder>` missing,
 * `<folder>.old-<pid>` there) is put back when the key is done; a folder whose key is not done was renamed
 * into place just before the crash and is deleted (it is downloaded again under the same name); other
 * `.old-<pid>` folders are deleted. Never follows a symlink below `out`. Returns how many folders it removed.
 */
export async function recoverBundle(out: string, rel: string, done: boolean): Promise<number> {
  let abs: string;
  try {
    abs = await resolveInsideOut(out, rel);
  } catch {
    return 0;
  }
  const parent = dirname(abs);
  const prefix = `${basename(abs)}.old-`;
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return 0;
  }
  const olds = names
    .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
    .map((n) => join(parent, n));
  let removed = 0;
  const there = await lstat(abs).then(
    (st) => st.isDirectory(),
    () => undefined,
  );
  if (there === undefined && done && olds.length > 0) {
    await rename(olds.shift() as string, abs).catch(() => {});
  } else if (there === true && !done) {
    await rm(abs, { recursive: true, force: true });
    removed++;
  }
  for (const o of olds) {
    await rm(o, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
