/**
 * The conformance suite: the same promises checked against every registered vendor (src/vendors/index.ts)
 * and its emulator (`startEmulator`), plus the toy vendor of test/fixtures/toy-vendor (registered by one
 * line in its own cli.mjs). The CLI runs as a subprocess, as users and cron run it.
 *
 * 1. A batch completes byte-identical, with bodies cut mid-way retried.
 * 2. A re-run skips everything and asks the emulator for no recording.
 * 3. Ctrl-C and SIGTERM mid-run exit 130 and 143, close the source, and leave nothing half-written.
 * 4. A wrong credential exits 3 naming the profile, with no secret in any output.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dayAnchor } from '../../src/sandbox/catalogue.js';
import type { RunningEmulator } from '../../src/vendors/definition.js';
import { VENDORS, type VendorEntry } from '../../src/vendors/index.js';
import {
  events,
  manifestLines,
  runCli,
  startCli,
  startedWithoutOutcome,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers/cli.js';

const TOY_CLI = fileURLToPath(new URL('../fixtures/toy-vendor/cli.mjs', import.meta.url));
const { TOY } = (await import(TOY_CLI)) as { TOY: VendorEntry };

const CASES: { entry: VendorEntry; bin?: string }[] = [
  ...VENDORS.map((entry) => ({ entry })),
  { entry: TOY, bin: TOY_CLI },
];

const running: RunningEmulator[] = [];
afterAll(async () => {
  await Promise.all(running.map((e) => e.close()));
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every file below `out` but recpull's state folder, relative. */
async function filesBelow(out: string): Promise<string[]> {
  const entries = await readdir(out, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && !join(e.parentPath, e.name).includes(`${out}/.recpull`))
    .map((e) => join(e.parentPath, e.name).slice(out.length + 1));
}

/** The secret values of a profile (with `${ENV:-default}` read as its default). */
function secretsOf(profile: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys
    .map((k) => profile[k])
    .filter((v): v is string => typeof v === 'string')
    .map((v) => /^\$\{[A-Z_]+:-(.*)\}$/.exec(v)?.[1] ?? v);
}

/** What is on disk agrees with the manifest: no `.part`, every file listed as done with its hash. */
async function expectNothingHalfWritten(out: string): Promise<void> {
  const files = await filesBelow(out);
  expect(files.filter((f) => f.endsWith('.part'))).toEqual([]);
  const done = (await manifestLines(out)).filter((l) => l.status === 'done');
  const listed = new Map(done.flatMap((l) => l.files.map((f) => [f.path, f.sha256] as const)));
  for (const f of files) {
    expect(listed.has(f), `${f} is in the manifest`).toBe(true);
    expect(sha256(await readFile(join(out, f))), `${f} is whole`).toBe(listed.get(f));
  }
}

describe.each(CASES)('conformance: $entry.name', ({ entry, bin }) => {
  const cli = (args: string[], cwd: string) =>
    runCli([entry.name, ...args], { cwd, timeoutMs: 90_000, ...(bin ? { bin } : {}) });

  async function setup(opts: {
    recordings: number;
    resetRate?: number;
    bytesPerSecond?: number;
    wrong?: boolean;
  }) {
    const def = await entry.load();
    const dir = await tempDir();
    const emulator = await def.startEmulator({
      recordings: opts.recordings,
      minBytes: 20_000,
      maxBytes: 60_000,
      resetRate: opts.resetRate ?? 0,
      ...(opts.bytesPerSecond ? { bytesPerSecond: opts.bytesPerSecond } : {}),
      dir,
      seed: 11,
    });
    running.push(emulator);
    const profile = { ...(opts.wrong ? emulator.wrongProfile : emulator.profile), retryBase: 0.02 };
    const config = await writeConfig(dir, stringify({ [entry.name]: { default: profile } }));
    return { def, dir, emulator, config, out: join(dir, 'out') };
  }

  it('a batch completes byte-identical (bodies cut mid-way retried); a re-run asks for nothing', async () => {
    const s = await setup({ recordings: 10, resetRate: 0.4 });
    const r = await cli(['-c', s.config, ...s.emulator.args, '-o', s.out, '--json'], s.dir);
    expect(r.code, r.stderr).toBe(0);
    const evs = events(r.stdout);
    expect(evs.at(-1)).toMatchObject({ type: 'run-end', counts: { done: 10, failed: 0 } });
    expect(evs.filter((e) => e.type === 'item-retry').length).toBeGreaterThan(0);
    const done = (await manifestLines(s.out)).filter((l) => l.status === 'done');
    expect(done).toHaveLength(10);
    for (const line of done) {
      const expected = s.emulator.contentFor(line.key);
      expect(expected, line.key).toBeDefined();
      const bytes = await readFile(join(s.out, line.files[0]!.path));
      expect(bytes.equals(expected as Buffer), `${line.key} byte-identical`).toBe(true);
      expect(line.files[0]!.sha256).toBe(sha256(bytes));
    }
    if (s.emulator.openSessions) expect(s.emulator.openSessions()).toBe(0);

    const before = s.emulator.fetchRequests();
    const again = await cli(['-c', s.config, ...s.emulator.args, '-o', s.out, '--json'], s.dir);
    expect(again.code, again.stderr).toBe(0);
    expect(events(again.stdout).at(-1)).toMatchObject({ counts: { done: 0, skipped: 10, failed: 0 } });
    expect(s.emulator.fetchRequests()).toBe(before);
  });

  it('a second start of its emulator serves the same catalogue: a run over it skips everything (a second demo)', async () => {
    // both starts on one UTC day (emulators date their catalogues from it: sandbox/catalogue.ts dayAnchor)
    for (let attempt = 0; ; attempt++) {
      const day = dayAnchor();
      const first = await setup({ recordings: 6 });
      const r = await cli(['-c', first.config, ...first.emulator.args, '-o', first.out, '--json'], first.dir);
      expect(r.code, r.stderr).toBe(0);
      const second = await setup({ recordings: 6 });
      if (dayAnchor() !== day && attempt === 0) continue; // midnight passed between the two starts
      const again = await cli(
        ['-c', second.config, ...second.emulator.args, '-o', first.out, '--json'],
        second.dir,
      );
      expect(again.code, again.stderr).toBe(0);
      expect(events(again.stdout).at(-1)).toMatchObject({ counts: { done: 0, skipped: 6, failed: 0 } });
      expect(second.emulator.fetchRequests()).toBe(0);
      return;
    }
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} mid-run exits ${code}, closes the source and leaves nothing half-written`, async () => {
      const s = await setup({ recordings: 6, bytesPerSecond: 40_000 });
      const run = startCli(
        [entry.name, '-c', s.config, ...s.emulator.args, '-o', s.out, '--json', '-j', '2'],
        {
          cwd: s.dir,
          ...(bin ? { bin } : {}),
        },
      );
      await waitFor(() => run.stdout().includes('"item-progress"'), 'a download under way', 30_000);
      run.child.kill(signal);
      const r = await run.closed;
      expect(r.code, r.stderr).toBe(code);
      const evs = events(r.stdout);
      expect(evs.at(-1)).toMatchObject({ type: 'run-end', exitCode: code, interrupted: true });
      // the downloads under way are counted nowhere: the notice just before run-end says how many
      const open = startedWithoutOutcome(evs);
      expect(open).toBeGreaterThan(0);
      expect(evs.at(-2)).toMatchObject({
        type: 'notice',
        level: 'warn',
        message: expect.stringMatching(new RegExp(`^${open} recording\\(s\\) were started and left undone`)),
      });
      await expectNothingHalfWritten(s.out);
      if (s.emulator.openSessions) expect(s.emulator.openSessions(), 'the session was closed').toBe(0);
      // The next run finishes the job.
      const rest = await cli(['-c', s.config, ...s.emulator.args, '-o', s.out, '--json'], s.dir);
      expect(rest.code, rest.stderr).toBe(0);
      await expectNothingHalfWritten(s.out);
    });
  }

  it('a wrong credential exits 3 naming the profile, and no secret reaches any output', async () => {
    const s = await setup({ recordings: 3, wrong: true });
    const r = await cli(['-c', s.config, ...s.emulator.args, '-o', s.out, '--json', '-j', '4'], s.dir);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/\bdefault\b/);
    const manifest = await readFile(join(s.out, '.recpull', 'manifest.jsonl'), 'utf8').catch(() => '');
    const secrets = [
      ...secretsOf(s.emulator.profile, [...s.def.secretKeys, ...(s.def.optionalSecretKeys ?? [])]),
      ...secretsOf(s.emulator.wrongProfile, [...s.def.secretKeys, ...(s.def.optionalSecretKeys ?? [])]),
    ];
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      for (const [name, text] of Object.entries({ stdout: r.stdout, stderr: r.stderr, manifest })) {
        expect(text.includes(secret), `${name} holds a secret`).toBe(false);
      }
    }
  });
});

describe('the toy vendor: close runs on the ways out a cron job meets', () => {
  it('an uncaught error stops the run cleanly: exit 1, the source closed, run-end emitted', async () => {
    const def = await TOY.load();
    const dir = await tempDir();
    const emulator = await def.startEmulator({
      recordings: 3,
      minBytes: 2000,
      maxBytes: 4000,
      resetRate: 0,
      dir,
    });
    running.push(emulator);
    const config = await writeConfig(dir, stringify({ toy: { default: emulator.profile } }));
    const list = join(dir, 'boom.csv');
    await writeFile(list, 'id\nr1\nboom\nr2\n');
    const r = await runCli(['toy', '-c', config, '-i', list, '-o', join(dir, 'out'), '--json', '-j', '1'], {
      cwd: dir,
      bin: TOY_CLI,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('internal error');
    expect(events(r.stdout).at(-1)).toMatchObject({ type: 'run-end', exitCode: 1 });
    expect(emulator.openSessions?.(), 'close signed the session out').toBe(0);
  });
});
