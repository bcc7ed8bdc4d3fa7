/**
 * Issue 7 §3: a holder whose event loop is blocked (its lock's mtime not refreshed for longer than any
 * stale time) must keep the lock while its process is alive; a dead holder is taken over at once.
 * From outside, a blocked holder is exactly this: a live PID in `lock.pid` and an old mtime on `lock`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, STALE_MS } from '../../src/core/lock.js';

let out: string;
let child: ChildProcess | undefined;

beforeEach(async () => {
  out = await mkdtemp(join(tmpdir(), 'recpull-hlock-'));
  await mkdir(join(out, '.recpull'));
});

afterEach(async () => {
  if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  await rm(out, { recursive: true, force: true });
});

/** Plants the lock of a holder `pid` whose last refresh was `ageMs` ago. */
async function plantLock(pid: number, ageMs: number): Promise<void> {
  const lock = join(out, '.recpull', 'lock');
  await mkdir(lock);
  await writeFile(join(out, '.recpull', 'lock.pid'), JSON.stringify({ pid, host: hostname() }));
  const t = new Date(Date.now() - ageMs);
  await utimes(lock, t, t);
}

describe('lock staleness (issue 7 §3)', () => {
  it('a live holder on this host keeps the lock however long its event loop is blocked', async () => {
    // a live process standing for a recpull run stuck in a synchronous step for an hour
    child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((resolve) => child?.once('spawn', resolve));
    await plantLock(child.pid as number, Math.max(STALE_MS, 3_600_000) + 60_000);
    const err = await acquireLock(out, () => {}).then(
      async (release) => {
        await release();
        return undefined;
      },
      (e: unknown) => e as { code?: string },
    );
    expect(err?.code).toBe('E_LOCKED');
  });

  it('a dead holder is taken over at once, even with a fresh mtime', async () => {
    child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const pid = await new Promise<number>((resolve) =>
      child?.once('exit', () => resolve(child?.pid as number)),
    );
    await plantLock(pid, 0);
    const release = await acquireLock(out, () => {});
    await release();
  });

  it('stale time is long enough to outlast any pause of a live holder (it only matters for other hosts)', () => {
    expect(STALE_MS).toBeGreaterThanOrEqual(10 * 60_000);
  });
});
