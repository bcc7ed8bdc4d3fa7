/**
 * One run per output folder: `<out>/.recpull/lock`, held with proper-lockfile (an mkdir-based lock whose
 * mtime the holder refreshes), plus `<out>/.recpull/lock.pid` naming the holder (`{pid, host}`).
 * Staleness is judged by the holder's PID whenever it can be, before the mtime is looked at: a process
 * whose event loop is blocked (a long synchronous step, a debugger, a suspended laptop) cannot refresh the
 * mtime, and must not lose its lock for that.
 * - held by a live process on this host → refused at once (`E_LOCKED`, exit 4), however old the mtime;
 * - held by a process of this host that no longer exists (killed) → taken over at once;
 * - holder unknown or on another host (a shared folder) → retried for 5 s, then taken over only when its
 *   mtime is older than `STALE_MS`, else refused.
 *
 * Taking the lock and writing `lock.pid` happen under a guard (`<out>/.recpull/lock.guard`, a file created
 * exclusively), one run at a time. Without it, runs started together after a run was killed could each
 * judge the lock dead by the killed run's `lock.pid`, and each remove the lock another had just taken,
 * before that run had written its own PID: two runs then wrote into one folder (duplicate `-2` files, a
 * manifest calling downloaded recordings failed). Under the guard, a `lock.pid` naming a dead process
 * always describes the lock that is there. Refusing a live holder needs no guard.
 *
 * A guard left by a run killed while holding it is broken once older than `GUARD_STALE_MS`, by renaming
 * it aside and deleting it only if it is the very file judged stale (same inode): runs that judged it stale
 * together cannot each remove the guard another has just made (a fresh one moved by mistake is linked
 * back). The holder checks that the guard is still its own (its inode) before it removes a dead run's lock.
 */
import { randomUUID } from 'node:crypto';
import { link, lstat, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { RecpullError } from './errors.js';
import { stateDir } from './manifest.js';

/**
 * A lock whose mtime was not refreshed for this long (ms, 10 minutes) is stale — used only when the holder
 * cannot be checked by PID (another host, or no `lock.pid`). It is also how long the holder's own refresh
 * may be held up before proper-lockfile reports the lock compromised, so it must outlast any pause of a
 * live run.
 */
export const STALE_MS = 10 * 60_000;

/** How often (ms) the holder refreshes the lock's mtime. */
export const UPDATE_MS = 10_000;

/**
 * How long (ms) a run waits for another run's acquisition (its guard) to end before refusing: more than
 * the 5 s an acquisition may spend retrying a lock whose holder cannot be checked.
 */
export const GUARD_WAIT_MS = 15_000;

/** A guard older than this (ms) was left by a run killed while acquiring; it is removed. */
export const GUARD_STALE_MS = 30_000;

type Retries = { retries: number; factor: number; minTimeout: number; maxTimeout: number };

/**
 * Takes the lock of `out` (its state folder must exist); see the module comment for how a holder is judged.
 * `onCompromised` is called when the lock is lost while held (its mtime could not be refreshed for
 * `STALE_MS`, or another process replaced it). Throws `E_LOCKED` when another live run holds it (or a
 * holder that cannot be checked refreshed it within `STALE_MS`), `E_IO` when the folder cannot be locked.
 * Returns an idempotent release function. `signal` ends a wait for another run's acquisition: its reason
 * (the run's `Interrupt`) is thrown.
 */
export async function acquireLock(
  out: string,
  onCompromised: (err: Error) => void,
  signal?: AbortSignal,
): Promise<() => Promise<void>> {
  const dir = stateDir(out);
  const lockPath = join(dir, 'lock');
  const pidPath = join(dir, 'lock.pid');
  const take = (retries: Retries | 0) =>
    lockfile.lock(dir, {
      lockfilePath: lockPath,
      stale: STALE_MS,
      update: UPDATE_MS,
      realpath: false,
      retries,
      onCompromised,
    });
  /** 'alive' / 'dead' for a holder of this host other than us, 'unknown' otherwise. */
  const holderState = async (): Promise<'alive' | 'dead' | 'unknown'> => {
    const holder = await readHolder(pidPath);
    if (!holder || holder.host !== hostname() || holder.pid === process.pid) return 'unknown';
    return isAlive(holder.pid) ? 'alive' : 'dead';
  };
  const locked = () =>
    new RecpullError(
      'E_LOCKED',
      `another recpull run is using ${out} (lock ${lockPath}); wait for it to finish, or use another --out`,
    );
  let release: () => Promise<void>;
  try {
    // the PID first: proper-lockfile would remove a lock with an old mtime by itself
    if ((await lockExists(lockPath)) && (await holderState()) === 'alive') throw locked();
    release = await underGuard(join(dir, 'lock.guard'), locked, signal, async (stillMine) => {
      let taken: () => Promise<void>;
      try {
        taken = await take(0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
        const state = await holderState();
        if (state === 'alive') throw locked();
        if (state === 'dead') {
          if (!(await stillMine())) throw locked(); // another run broke the guard: it may be taking over
          await rm(lockPath, { recursive: true, force: true }); // its run was killed: take over
          taken = await take(0);
        } else {
          taken = await take({ retries: 5, factor: 1, minTimeout: 1000, maxTimeout: 1000 });
        }
      }
      // before the guard is let go: the next run to judge the lock reads this run's PID
      await writeFile(pidPath, JSON.stringify({ pid: process.pid, host: hostname() })).catch(() => {});
      return taken;
    });
  } catch (err) {
    if (err instanceof RecpullError || (signal?.aborted && err === signal.reason)) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') throw locked();
    throw new RecpullError('E_IO', `cannot lock ${out}: ${(err as Error).message}`, { cause: err });
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await rm(pidPath, { force: true }).catch(() => {});
    await release().catch(() => {});
  };
}

/**
 * Runs `fn` while holding the guard file `guard` (created with `wx`: one holder at a time), waiting up to
 * `GUARD_WAIT_MS` for another holder, then throwing `refused()`, or `signal`'s reason once it aborts. A
 * guard older than `GUARD_STALE_MS` is broken (`breakStaleGuard`). `fn` gets `stillMine()`: whether the
 * guard is still the file this call created. The guard is removed when `fn` settles, if still its own.
 */
async function underGuard<T>(
  guard: string,
  refused: () => Error,
  signal: AbortSignal | undefined,
  fn: (stillMine: () => Promise<boolean>) => Promise<T>,
): Promise<T> {
  const start = Date.now();
  let mine: number;
  for (;;) {
    if (signal?.aborted) throw signal.reason;
    try {
      const fh = await open(guard, 'wx');
      try {
        mine = (await fh.stat()).ino;
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await lstat(guard).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > GUARD_STALE_MS) {
        await breakStaleGuard(guard, st.ino);
        continue;
      }
      if (Date.now() - start > GUARD_WAIT_MS) throw refused();
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
  }
  const stillMine = async () => (await lstat(guard).catch(() => undefined))?.ino === mine;
  try {
    return await fn(stillMine);
  } finally {
    if (await stillMine()) await rm(guard, { force: true }).catch(() => {});
  }
}

/**
 * Removes the guard judged stale (inode `ino`), and nothing else: it is renamed aside first (atomic), and
 * only the file with that inode is deleted. A fresh guard that another run made meanwhile, moved aside by
 * mistake, is linked back unless a newer one is already there (a link never replaces).
 */
async function breakStaleGuard(guard: string, ino: number): Promise<void> {
  const aside = `${guard}.stale-${process.pid}-${randomUUID()}`;
  try {
    await rename(guard, aside);
  } catch {
    return; // gone already: another run broke it
  }
  const st = await lstat(aside).catch(() => undefined);
  if (st && st.ino !== ino && st.isFile()) await link(aside, guard).catch(() => {});
  await rm(aside, { recursive: true, force: true }).catch(() => {});
}

async function lockExists(lockPath: string): Promise<boolean> {
  try {
    await stat(lockPath);
    return true;
  } catch {
    return false;
  }
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
