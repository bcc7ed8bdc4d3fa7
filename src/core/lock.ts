/**
 * One run per output folder: `<out>/.recpull/lock`, held with proper-lockfile (an mkdir-based lock whose
 * mtime the holder refreshes; a lock left by a killed run goes stale after `STALE_MS` and is taken over).
 */

import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { RecpullError } from './errors.js';
import { stateDir } from './manifest.js';

/** A lock not refreshed for this long (ms) belongs to a dead run. proper-lockfile refreshes at half of it. */
export const STALE_MS = 4000;

/**
 * Takes the lock of `out` (its state folder must exist). Waits up to about `STALE_MS` + 1 s for a lock
 * left by a killed run to go stale. Throws `E_LOCKED` when another live run holds it.
 * Returns a release function (idempotent).
 */
export async function acquireLock(
  out: string,
  onCompromised: (err: Error) => void,
): Promise<() => Promise<void>> {
  const dir = stateDir(out);
  try {
    const release = await lockfile.lock(dir, {
      lockfilePath: join(dir, 'lock'),
      stale: STALE_MS,
      update: STALE_MS / 4,
      realpath: false,
      retries: { retries: 5, factor: 1, minTimeout: 1000, maxTimeout: 1000 },
      onCompromised,
    });
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await release().catch(() => {});
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new RecpullError(
        'E_LOCKED',
        `another recpull run is using ${out} (lock ${join(dir, 'lock')}); wait for it to finish, or use another --out`,
      );
    }
    throw new RecpullError('E_IO', `cannot lock ${out}: ${(err as Error).message}`, { cause: err });
  }
}
