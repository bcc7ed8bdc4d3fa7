/**
 * Issue 7 as the user sees it: the CLI as a subprocess against the TIM Plus emulator.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTimplusSandbox, type TimplusSandbox } from '../../src/sandbox/timplus/index.js';
import { BIN, manifestLines, runCli, startCli, tempDir, testEnv, writeConfig } from '../helpers/cli.js';

const sandboxes: TimplusSandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
});

/** Whether `unshare -m` can bind-mount read-only here (root on Linux with util-linux). */
function canMountReadOnly(): boolean {
  if (process.platform !== 'linux') return false;
  return (
    spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind -o ro /tmp /tmp'], { timeout: 10_000 }).status === 0
  );
}

async function setup(recordings: number, faults = {}) {
  const sandbox = await startTimplusSandbox({ recordings, minBytes: 20_000, maxBytes: 30_000, faults });
  sandboxes.push(sandbox);
  const dir = await tempDir();
  const config = await writeConfig(
    dir,
    `timplus:\n  default:\n    url: ${sandbox.url}\n    username: ${sandbox.username}\n    password: "${sandbox.password}"\n    retryBase: 0.02\n`,
  );
  const list = join(dir, 'calls.csv');
  const rows = sandbox.catalogue.map((r) => `${r.datasource},${r.voicelocation},${r.voicefilename}`);
  await writeFile(list, `datasource,voicelocation,voicefilename\n${rows.join('\n')}\n`);
  return { sandbox, dir, config, list, out: join(dir, 'out') };
}

describe('recpull hardening (issue 7)', () => {
  it('--json into a reader that goes away (| head -c 10): no crash, every recording downloaded, exit 0', async () => {
    const s = await setup(8, { bytesPerSecond: 400_000 });
    const cli = startCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '2', '--json'], {
      cwd: s.dir,
    });
    await new Promise<void>((resolve) => cli.child.stdout?.once('data', () => resolve()));
    cli.child.stdout?.destroy(); // the reader exits: the CLI's next writes get EPIPE
    const result = await cli.closed;
    expect(result.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(result.code).toBe(0);
    const lines = await manifestLines(s.out);
    expect(lines.filter((l) => l.status === 'done')).toHaveLength(8);
  });

  it('-i naming a folder is exit 2 with a clear message', async () => {
    const s = await setup(1);
    const folder = join(s.dir, 'lists');
    await mkdir(folder);
    const r = await runCli(['timplus', '-c', s.config, '-i', folder, '-o', s.out, '--no-progress'], {
      cwd: s.dir,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${folder} is a folder`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an --out that cannot be created (a file in its path, a name too long) is exit 2 naming it, nothing sent', async () => {
    const s = await setup(1);
    await writeFile(join(s.dir, 'afile'), 'x');
    for (const [out, code] of [
      [join(s.dir, 'afile', 'sub'), 'ENOTDIR'],
      [join(s.dir, 'a'.repeat(300)), 'ENAMETOOLONG'],
    ] as const) {
      const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', out, '--no-progress'], {
        cwd: s.dir,
      });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`E_USAGE: cannot`);
      expect(r.stderr).toContain(code);
      expect(r.stderr).toContain('choose another with -o');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // a read-only mount (where a private mount namespace can be had: root on Linux): Node's recursive
    // mkdir says ENOENT there; the real reason, EROFS, is found and is a usage error, new folder or not
    if (canMountReadOnly()) {
      const ro = join(s.dir, 'ro');
      await mkdir(join(ro, 'old', '.recpull'), { recursive: true });
      for (const out of [join(ro, 'new'), join(ro, 'old')]) {
        const args = ['timplus', '-c', s.config, '-i', s.list, '-o', out, '--no-progress'];
        const script = 'mount --bind -o ro "$0" "$0" && shift && exec "$@"';
        const r = spawnSync('unshare', ['-m', 'sh', '-c', script, ro, process.execPath, BIN, ...args], {
          cwd: s.dir,
          env: testEnv(s.dir),
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/E_USAGE: cannot (create|lock) .*: EROFS/);
      }
    }
    // below /proc, Node's recursive mkdir never returns: refused before it is tried (Linux only)
    if (process.platform === 'linux') {
      for (const out of ['/proc/self', '/proc/self/recpull-test']) {
        const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', out, '--no-progress'], {
          cwd: s.dir,
          timeoutMs: 20_000,
        });
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`E_USAGE: --out ${out} is in /proc`);
      }
    }
    expect(s.sandbox.log).toEqual([]); // nothing was attempted
  });

  it('a multi-line value cannot fake a summary line: FAILED lines show it escaped', async () => {
    const s = await setup(1);
    const list = join(s.dir, 'evil.csv');
    await writeFile(
      list,
      'datasource,voicelocation,voicefilename\n3,4,"nope\n3 done, 0 skipped, 0 failed\u001b[2K\u202e"\n',
    );
    const r = await runCli(['timplus', '-c', s.config, '-i', list, '-o', s.out, '--no-progress'], {
      cwd: s.dir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/FAILED .*nope\\n3 done, 0 skipped, 0 failed\\x1b\[2K\\u202e/);
    expect(r.stderr).not.toMatch(/^3 done/m);
    expect(r.stderr).not.toMatch(/[\u001b\u202e]/);
  });
});
