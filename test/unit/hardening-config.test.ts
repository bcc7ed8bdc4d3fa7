/**
 * Issue 7 §4: config abuse. Validation must be linear in the number of profiles (yaml's own `uniqueKeys`
 * check compares each key with every earlier key of its map), and files that are too big or not regular
 * files are refused before a byte is read.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** Key comparisons yaml made through a `uniqueKeys` comparator (counted when recpull enables the check). */
const counter = vi.hoisted(() => ({ comparisons: 0 }));

vi.mock('yaml', async (importOriginal) => {
  const yaml = await importOriginal<typeof import('yaml')>();
  const parseDocument = ((source: string, options?: Record<string, unknown>) => {
    if (options?.uniqueKeys === true) {
      // the same semantics as yaml's default comparator, counted
      options = {
        ...options,
        uniqueKeys: (a: unknown, b: unknown) => {
          counter.comparisons++;
          return (
            a === b || (yaml.isScalar(a) && yaml.isScalar(b) && (a as { value: unknown }).value === b.value)
          );
        },
      };
    }
    return yaml.parseDocument(source, options);
  }) as typeof yaml.parseDocument;
  return { ...yaml, parseDocument };
});

const { loadConfig, MAX_CONFIG_BYTES } = await import('../../src/config/load.js');
const { RecpullError } = await import('../../src/core/errors.js');

let tmp: string;
const savedEnv = { ...process.env };

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'recpull-hcfg-'));
  process.env.HOME = path.join(tmp, 'home');
  process.env.XDG_CONFIG_HOME = path.join(tmp, 'home', '.config');
  await mkdir(process.env.HOME, { recursive: true });
  counter.comparisons = 0;
});

afterEach(async () => {
  Object.assign(process.env, savedEnv);
  await rm(tmp, { recursive: true, force: true });
});

async function configError(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RecpullError);
    expect((err as InstanceType<typeof RecpullError>).code).toBe('E_CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected an E_CONFIG error');
}

function profiles(n: number): string {
  let s = 'timplus:\n';
  for (let i = 0; i < n; i++) s += `  p${i}:\n    url: http://x\n    username: a\n    password: b\n`;
  return s;
}

describe('config size and shape (issue 7 §4)', () => {
  it('validates many profiles with work linear in their number (no pairwise key comparison)', async () => {
    const file = path.join(tmp, 'many.yaml');
    const n = 2000;
    await writeFile(file, profiles(n), { mode: 0o600 });
    const loaded = await loadConfig({ configPath: file });
    expect(Object.keys((loaded.raw as { timplus: object }).timplus)).toHaveLength(n);
    // yaml's uniqueKeys compares every key with all earlier keys of its map: n²/2 ≈ 2,000,000 here
    expect(counter.comparisons).toBeLessThan(10 * n);
  });

  it('still refuses a duplicate key, naming its line and column', async () => {
    const file = path.join(tmp, 'dup.yaml');
    await writeFile(
      file,
      'timplus:\n  a:\n    url: http://x\n    username: u\n  b:\n    url: http://y\n  a:\n    url: z\n',
      { mode: 0o600 },
    );
    const msg = await configError(() => loadConfig({ configPath: file }));
    expect(msg).toContain(file);
    expect(msg).toMatch(/line 7, column 3/);
    expect(msg).toMatch(/unique|duplicate/i);
  });

  it('refuses a config file over the size limit before reading it', async () => {
    const file = path.join(tmp, 'big.yaml');
    await writeFile(file, `${profiles(1)}# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`, { mode: 0o600 });
    const msg = await configError(() => loadConfig({ configPath: file }));
    expect(msg).toContain(file);
    expect(msg).toMatch(/too (big|large)/);
    expect(MAX_CONFIG_BYTES).toBe(1024 * 1024);
  });

  it('refuses /dev/zero, a folder and a FIFO as --config, without reading them', async () => {
    expect(await configError(() => loadConfig({ configPath: '/dev/zero' }))).toMatch(
      /\/dev\/zero.*not a regular file/,
    );
    const folder = path.join(tmp, 'folder.yaml');
    await mkdir(folder);
    expect(await configError(() => loadConfig({ configPath: folder }))).toMatch(/not a regular file/);
    const fifo = path.join(tmp, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    // reading a FIFO with no writer would block forever: the refusal must come from stat alone
    expect(await configError(() => loadConfig({ configPath: fifo }))).toMatch(/not a regular file/);
  });

  it('refuses a found config that is a symlink to /dev/zero or a FIFO', async () => {
    const dir = path.join(tmp, 'home', 'proj');
    await mkdir(dir, { recursive: true });
    await symlink('/dev/zero', path.join(dir, '.recpullrc.yaml'));
    expect(await configError(() => loadConfig({ cwd: dir }))).toMatch(/not a regular file/);
    await rm(path.join(dir, '.recpullrc.yaml'));
    execFileSync('mkfifo', [path.join(dir, '.recpullrc')]);
    expect(await configError(() => loadConfig({ cwd: dir }))).toMatch(/\.recpullrc.*not a regular file/);
    await rm(path.join(dir, '.recpullrc'));
    // a normal file found by searching still loads
    await writeFile(path.join(dir, '.recpullrc.yaml'), profiles(1));
    await chmod(path.join(dir, '.recpullrc.yaml'), 0o600);
    expect((await loadConfig({ cwd: dir })).filepath).toBe(path.join(dir, '.recpullrc.yaml'));
  });
});
