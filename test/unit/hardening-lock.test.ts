/**
 * Issue 7 §3: a holder whose event loop is blocked (its lock's mtime not refreshed for longer than any
 * stale time) must keep the lock while its process is alive; a dead holder is taken over at once.
 * From outside, a blocked holder is exactly this: a live PID in `lock.pid` and an old mtime on `lock`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { acquireLock, GUARD_STALE_MS, STALE_MS } from '../../src/core/lock.js';

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

  it('runs started together after a holder was killed: one holds the lock at a time, the others are refused', async () => {
    // Each child imports the built lock module, waits for a common instant, takes the lock, holds it
    // 300 ms and prints when. Before the guard, several judged the killed run's lock.pid "dead" and each
    // removed the lock another had just taken (3 trials in 10 had two holders at once).
    const lockModule = fileURLToPath(new URL('../../dist/core/lock.js', import.meta.url));
    const script = `
      const { acquireLock } = await import(${JSON.stringify(lockModule)});
      const [out, startAt] = process.argv.slice(1);
      await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
      try {
        const release = await acquireLock(out, () => {});
        const from = Date.now();
        await new Promise((r) => setTimeout(r, 300));
        const to = Date.now();
        await release();
        console.log('held', from, to);
      } catch (e) {
        console.log('refused', e.code);
      }`;
    for (let trial = 0; trial < 8; trial++) {
      const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      const pid = await new Promise<number>((resolve) =>
        dead.once('exit', () => resolve(dead.pid as number)),
      );
      await rm(join(out, '.recpull'), { recursive: true, force: true });
      await mkdir(join(out, '.recpull'));
      await plantLock(pid, 0);
      if (trial % 2 === 1) {
        // and a guard left by a run killed while holding it: every child finds it stale at once
        const guard = join(out, '.recpull', 'lock.guard');
        await writeFile(guard, '');
        const old = new Date(Date.now() - GUARD_STALE_MS - 60_000);
        await utimes(guard, old, old);
      }
      const startAt = Date.now() + 600;
      const lines = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<string>((resolve) => {
              const c = spawn(process.execPath, ['--input-type=module', '-e', script, out, String(startAt)]);
              let text = '';
              c.stdout.on('data', (d: Buffer) => (text += d.toString()));
              c.on('close', () => resolve(text.trim()));
            }),
        ),
      );
      // one holder at a time: a child that started late may take the lock after the first let it go
      const held = lines
        .filter((l) => l.startsWith('held '))
        .map((l) => l.split(' ').slice(1).map(Number) as [number, number])
        .sort((a, b) => a[0] - b[0]);
      expect(held.length, `trial ${trial}: ${lines.join(' | ')}`).toBeGreaterThanOrEqual(1);
      for (let i = 1; i < held.length; i++)
        expect(held[i]?.[0], `trial ${trial}: ${lines.join(' | ')}`).toBeGreaterThanOrEqual(
          held[i - 1]?.[1] ?? 0,
        );
      expect(lines.filter((l) => !l.startsWith('held ') && l !== 'refused E_LOCKED')).toEqual([]);
      expect(await readdir(join(out, '.recpull'))).not.toContain('lock.guard');
    }
  }, 60_000);

  it('a run waiting for another run’s guard stops when its signal fires, with the signal’s reason', async () => {
    await writeFile(join(out, '.recpull', 'lock.guard'), ''); // fresh: another run is taking the lock
    const stop = new AbortController();
    const reason = new Error('interrupted by SIGTERM');
    setTimeout(() => stop.abort(reason), 100);
    const from = Date.now();
    await expect(acquireLock(out, () => {}, stop.signal)).rejects.toBe(reason);
    expect(Date.now() - from).toBeLessThan(5000); // not the 15 s wait
  });

  it('a guard left by a run killed while taking the lock is removed once it is old', async () => {
    const guard = join(out, '.recpull', 'lock.guard');
    await mkdir(guard);
    const t = new Date(Date.now() - GUARD_STALE_MS - 60_000);
    await utimes(guard, t, t);
    const release = await acquireLock(out, () => {});
    expect(await readdir(join(out, '.recpull'))).not.toContain('lock.guard');
    await release();
  });
});
