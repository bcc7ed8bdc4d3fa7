/**
 * One run per output folder: `<out>/.recpull/lock`, held with proper-lockfile (an mkdir-based lock whose
 * mtime the holder refreshes), plus `<out>/.recpull/lock.pid` naming the holder (`{pid, host}`):
 * - held by a live process on this host → refused at once (`E_LOCKED`, exit 4);
 * - held by a process that no longer exists (killed) → taken over at once;
 * - holder unknown or on another host (a shared folder) → wait up to `STALE_MS` + 1 s for it to go stale.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { RecpullError } from './errors.js';
import { stateDir } from './manifest.js';

/** A lock not refreshed for this long (ms) belongs to a dead run. proper-lockfile refreshes it every STALE_MS/4. */
export const STALE_MS = 4000;

type Retries = { retries: number; factor: number; minTimeout: number; maxTimeout: number };

/**
 * Takes the lock of `out` (its state folder must exist). Throws `E_LOCKED` when another live run holds it,
 * `E_IO` when the folder cannot be locked. Returns an idempotent release function.
 */
export async function acquireLock(
  out: string,
  onCompromised: (err: Error) => void,
): Promise<() => Promise<void>> {
  const dir = stateDir(out);
  const lockPath = join(dir, 'lock');
  const pidPath = join(dir, 'lock.pid');
  const take = (retries: Retries | 0) =>
    lockfile.lock(dir, {
      lockfilePath: lockPath,
      stale: STALE_MS,
      update: STALE_MS / 4,
      realpath: false,
      retries,
      onCompromised,
    });
  const locked = () =>
    new RecpullError(
      'E_LOCKED',
      `another recpull run is using ${out} (lock ${lockPath}); wait for it to finish, or use another --out`,
    );
  let release: () => Promise<void>;
  try {
    try {
      release = await take(0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      const holder = await readHolder(pidPath);
      if (holder && holder.host === hostname() && holder.pid !== process.pid) {
        if (isAlive(holder.pid)) throw locked();
        await rm(lockPath, { recursive: true, force: true }); // its run was killed: take over
        release = await take(0);
      } else {
        release = await take({ retries: 5, factor: 1, minTimeout: 1000, maxTimeout: 1000 });
      }
    }
  } catch (err) {
    if (err instanceof RecpullError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') throw locked();
    throw new RecpullError('E_IO', `cannot lock ${out}: ${(err as Error).message}`, { cause: err });
  }
  await writeFile(pidPath, JSON.stringify({ pid: process.pid, host: hostname() })).catch(() => {});
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await rm(pidPath, { force: true }).catch(() => {});
    await release().catch(() => {});
  };
}

async function readHolder(pidPath: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const v = JSON.parse(await readFile(pidPath, 'utf8')) as { pid?: unknown; host?: unknown };
    return typeof v.pid === 'number' && typeof v.host === 'string' ? { pid: v.pid, host: v.host } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
