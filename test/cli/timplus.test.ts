/**
 * `recpull timplus` end to end: the CLI as a subprocess against the TIM Plus emulator (issue 2's tests 1–12).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startTimplusSandbox,
  type TimplusRecording,
  type TimplusSandbox,
  type TimplusSandboxOptions,
} from '../../src/sandbox/timplus/index.js';
import {
  BIN,
  events,
  manifestLines,
  runCli,
  startCli,
  startedWithoutOutcome,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers/cli.js';

const sandboxes: TimplusSandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
});

interface Setup {
  sandbox: TimplusSandbox;
  dir: string;
  out: string;
  config: string;
  list: string;
}

async function setup(opts: TimplusSandboxOptions = {}, password?: string): Promise<Setup> {
  const sandbox = await startTimplusSandbox({ recordings: 50, ...opts });
  sandboxes.push(sandbox);
  const dir = await tempDir();
  const config = await writeConfig(
    dir,
    `timplus:\n  default:\n    url: ${sandbox.url}\n    username: ${sandbox.username}\n    password: "${password ?? sandbox.password}"\n    retryBase: 0.02\n`,
  );
  const list = join(dir, 'calls.csv');
  await writeFile(list, csv(sandbox.catalogue));
  return { sandbox, dir, out: join(dir, 'out'), config, list };
}

function csv(recs: TimplusRecording[]): string {
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return `datasource,voicelocation,voicefilename\n${recs.map((r) => [r.datasource, r.voicelocation, r.voicefilename].map(quote).join(',')).join('\n')}\n`;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every file below `dir` (relative paths), the state folder excluded. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((p) => !p.startsWith(`.recpull${sep}`));
}

/** Checks every recording of the catalogue is in the manifest as done, with identical bytes on disk. */
async function expectAllIdentical(s: Setup, recs = s.sandbox.catalogue): Promise<void> {
  const lines = await manifestLines(s.out);
  const last = new Map(lines.map((l) => [l.key, l]));
  for (const rec of recs) {
    const line = last.get(`timplus:${rec.datasource}:${rec.voicelocation}:${rec.voicefilename}`);
    expect(line?.status, rec.voicefilename).toBe('done');
    const file = line?.files[0];
    const bytes = await readFile(join(s.out, file?.path as string));
    const expected = s.sandbox.contentOf(rec);
    expect(bytes.length).toBe(expected.length);
    expect(sha(bytes)).toBe(sha(expected));
    expect(file?.sha256).toBe(sha(expected));
  }
}

const downloads = (s: TimplusSandbox) =>
  s.log.filter((e) => e.server === 'timplus-echo' || e.path === '/voice.wav').length;

describe('recpull timplus against the sandbox', () => {
  it('a 10 MiB recording: the sink asks V8 for a young collection at every 4 MiB written (two in its GC trace)', async () => {
    const MiB = 1024 * 1024;
    const s = await setup({ recordings: 1, minBytes: 10 * MiB, maxBytes: 10 * MiB });
    // the launcher as it is, with V8's GC trace turned on first (collections asked for are "testing")
    const traced = join(s.dir, 'traced.mjs');
    await writeFile(
      traced,
      `import { setFlagsFromString } from 'node:v8';\nsetFlagsFromString('--trace-gc');\nawait import(${JSON.stringify(pathToFileURL(BIN).href)});\n`,
    );
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--no-progress'], {
      bin: traced,
    });
    expect(r.code, r.stderr).toBe(0);
    await expectAllIdentical(s);
    // a request that meets V8's incremental marking under way finishes that full collection instead
    // ("Mark-Compact … testing; Incremental marking forced finalization"): still one request
    const asked = r.stdout.split('\n').filter((l) => /(Scavenge|Mark-Compact).*testing/.test(l));
    expect(asked).toHaveLength(2); // at 4 and 8 MiB
  });

  it('1+2: downloads 50 recordings with -j 8, then skips all 50 without touching the download endpoints', async () => {
    const s = await setup();
    const first = await runCli(
      ['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '8', '--no-progress'],
      { cwd: s.dir },
    );
    expect(first.stderr).toContain('50 done');
    expect(first.code).toBe(0);
    expect((await manifestLines(s.out)).filter((l) => l.status === 'done')).toHaveLength(50);
    await expectAllIdentical(s);
    expect(s.sandbox.log.some((e) => e.server === 'timplus-echo' && e.auth)).toBe(false); // no credentials to Echo
    // The scheme is learned once (one 401 for the run, not one per worker), then answered pre-emptively.
    const tokenRequests = s.sandbox.log.filter((e) => e.path === '/voice.wav');
    expect(tokenRequests.filter((e) => e.status === 401)).toHaveLength(1);
    expect(tokenRequests).toHaveLength(51);

    const before = downloads(s.sandbox);
    const again = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '8', '--json'], {
      cwd: s.dir,
    });
    expect(again.code).toBe(0);
    const evs = events(again.stdout);
    expect(evs.filter((e) => e.type === 'item-skipped')).toHaveLength(50);
    expect(evs.at(-1)).toMatchObject({ type: 'run-end', counts: { done: 0, skipped: 50, failed: 0 } });
    expect(downloads(s.sandbox)).toBe(before);
  });

  it('3: killed with SIGKILL after about 20 recordings, a re-run completes all 50 whole and leaves no .part', async () => {
    const s = await setup({ minBytes: 60_000, maxBytes: 90_000, faults: { bytesPerSecond: 400_000 } });
    const cli = startCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '8', '--json'], {
      cwd: s.dir,
    });
    const doneLines = () =>
      cli
        .stdout()
        .split('\n')
        .filter((l) => l.includes('"item-done"')).length;
    await waitFor(() => doneLines() >= 20, '20 finished recordings');
    cli.child.kill('SIGKILL');
    await cli.closed;
    const partial = (await manifestLines(s.out)).filter((l) => l.status === 'done').length;
    expect(partial).toBeGreaterThanOrEqual(20);
    expect(partial).toBeLessThan(50);
    s.sandbox.setFaults({});
    const rerun = await runCli(
      ['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '8', '--no-progress'],
      { cwd: s.dir },
    );
    expect(rerun.code).toBe(0);
    await expectAllIdentical(s);
    const files = await filesBelow(s.out);
    expect(files.filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(files).toHaveLength(50);
  });

  it('4: with 10% of bodies reset mid-way and 5% answered 500, all 50 complete identical', async () => {
    const s = await setup({
      minBytes: 40_000,
      maxBytes: 80_000,
      faults: { seed: 3, reset: { rate: 0.1 }, serverError: { rate: 0.05 } },
    });
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '8', '--json'], {
      cwd: s.dir,
    });
    expect(r.code).toBe(0);
    const faults = s.sandbox.log.filter((e) => e.fault);
    expect(faults.some((e) => e.fault === 'reset')).toBe(true);
    expect(faults.some((e) => e.fault === 'serverError')).toBe(true);
    expect(events(r.stdout).filter((e) => e.type === 'item-retry').length).toBe(faults.length);
    await expectAllIdentical(s);
  });

  it('5: token URLs that expire before use are fetched again and the item completes', async () => {
    const s = await setup({ recordings: 10, deadTokensPerRecording: 1 });
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(s.sandbox.tokensIssued()).toBe(20);
    const retries = events(r.stdout).filter((e) => e.type === 'item-retry');
    expect(retries).toHaveLength(10);
    expect(retries.every((e) => (e.error as { code: string }).code === 'E_TOKEN_EXPIRED')).toBe(true);
    expect(r.stdout).not.toMatch(/\/echo\/[0-9a-f]{16}/); // token URLs are secrets
    await expectAllIdentical(s);
  });

  it('6: a wrong password exits 3, names the profile, and the password appears nowhere', async () => {
    const canary = 'Canary-Pa55word-9f3e1c';
    const s = await setup({ recordings: 5, scheme: 'basic' }, canary);
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--no-progress'], {
      cwd: s.dir,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('profile "default"');
    expect(r.stderr).toContain('E_AUTH');
    const manifest = await readFile(join(s.out, '.recpull', 'manifest.jsonl'), 'utf8').catch(() => '');
    for (const text of [r.stdout, r.stderr, manifest]) {
      expect(text).not.toContain(canary);
      expect(text).not.toContain(Buffer.from(`${s.sandbox.username}:${canary}`).toString('base64'));
    }
    const json = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], {
      cwd: s.dir,
    });
    expect(json.code).toBe(3);
    expect(json.stdout + json.stderr).not.toContain(canary);
    // every item-start has an outcome, or is said to be left undone before run-end
    const evs = events(json.stdout);
    const open = startedWithoutOutcome(evs);
    expect(open).toBeGreaterThan(0);
    const notices = evs.filter((e) => e.type === 'notice' && /left undone/.test(String(e.message)));
    expect(notices.map((e) => e.message)).toEqual([expect.stringMatching(new RegExp(`^${open} recording`))]);
    expect(evs.at(-1)).toMatchObject({ type: 'run-end', exitCode: 3, error: { code: 'E_AUTH' } });
  });

  it('6a: a server that takes each Digest nonce once: a refused reused nonce is answered afresh, not taken as a wrong password', async () => {
    const s = await setup({ recordings: 10, nonces: 'once' });
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '2', '--json'], {
      cwd: s.dir,
    });
    expect(r.code).toBe(0);
    expect(s.sandbox.log.filter((e) => e.path === '/voice.wav' && e.status === 401).length).toBeGreaterThan(
      1,
    );
    await expectAllIdentical(s);
  });

  it('6b: a server that only offers NTLM is an authentication error naming the scheme', async () => {
    const s = await setup({ recordings: 2, scheme: 'ntlm' });
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--no-progress'], {
      cwd: s.dir,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('NTLM');
  });

  it('7: an HTML page served with status 200 fails that item with E_BAD_AUDIO and writes no .wav', async () => {
    const s = await setup({ recordings: 6 });
    const bad = s.sandbox.catalogue[2] as TimplusRecording;
    s.sandbox.close();
    sandboxes.pop();
    const s2 = await setup({ recordings: 6, htmlFor: [bad.voicefilename] });
    const r = await runCli(['timplus', '-c', s2.config, '-i', s2.list, '-o', s2.out, '--json'], {
      cwd: s2.dir,
    });
    expect(r.code).toBe(1);
    const failed = events(r.stdout).filter((e) => e.type === 'item-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      key: `timplus:3:4:${bad.voicefilename}`,
      error: { code: 'E_BAD_AUDIO' },
    });
    const files = await filesBelow(s2.out);
    expect(files.some((f) => f.includes(bad.voicefilename))).toBe(false);
    expect(files).toHaveLength(5);
    const status = await runCli(['status', s2.out]);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('E_BAD_AUDIO');
  });

  it('8: hostile voicefilenames (../../etc/x, Windows-reserved names) land inside --out', async () => {
    const extra = [
      { datasource: '\\3\\', voicelocation: '4', voicefilename: '../../etc/x' },
      { datasource: '3', voicelocation: '..', voicefilename: 'CON' },
      { datasource: '3', voicelocation: '4', voicefilename: 'aux.txt' },
      { datasource: '3', voicelocation: '4', voicefilename: 'a:b*c?"<>|\u0001' },
      { datasource: '3', voicelocation: '4', voicefilename: '/abs/olute' },
    ];
    const s = await setup({ recordings: 0, extra });
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], { cwd: s.dir });
    expect(r.code).toBe(0);
    const lines = await manifestLines(s.out);
    expect(lines).toHaveLength(extra.length);
    const root = resolve(s.out) + sep;
    for (const l of lines) {
      const abs = resolve(s.out, l.files[0]?.path as string);
      expect(abs.startsWith(root)).toBe(true);
      expect((await stat(abs)).isFile()).toBe(true);
      for (const seg of String(l.files[0]?.path).split('/')) {
        expect(seg).not.toMatch(/^\.\.?$/);
        expect(seg).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i);
        // checking that none are left
        expect(seg).not.toMatch(/[<>:"\\|?*\u0000-\u001f]/);
      }
    }
    expect(
      await filesBelow(s.dir).then((f) =>
        f.filter((p) => !p.startsWith(`out${sep}`) && !p.endsWith('.csv') && !p.endsWith('.yaml')),
      ),
    ).toEqual([]);
    await expectAllIdentical(s);
  });

  it('9: a second run on the same --out while the first runs exits 4 and the first is unharmed', async () => {
    const s = await setup({
      recordings: 20,
      minBytes: 40_000,
      maxBytes: 60_000,
      faults: { bytesPerSecond: 40_000 }, // ~5 s in all: longer than a second run takes to start, even under load
    });
    const first = startCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '-j', '4', '--json'], {
      cwd: s.dir,
    });
    await waitFor(() => first.stdout().includes('"item-done"'), 'the first run to finish a recording');
    const second = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], {
      cwd: s.dir,
    });
    expect(second.code).toBe(4);
    expect(second.stderr).toContain('another recpull run');
    // --json still ends in run-end, which says why: a cron job reading the last line sees the lock
    expect(events(second.stdout)).toEqual([
      expect.objectContaining({
        type: 'run-end',
        exitCode: 4,
        counts: { done: 0, skipped: 0, failed: 0, wouldFetch: 0, bytes: 0 },
        error: expect.objectContaining({ code: 'E_LOCKED' }),
      }),
    ]);
    expect((await first.closed).code).toBe(0);
    await expectAllIdentical(s);
  });

  it('10: --json prints only JSON lines, ending with run-end and the counts', async () => {
    const s = await setup({ recordings: 8 });
    await writeFile(s.list, `${csv(s.sandbox.catalogue)}3,4\n`); // one bad row
    const r = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], { cwd: s.dir });
    const lines = r.stdout.trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const evs = events(r.stdout);
    expect(evs[0]?.type).toBe('run-start');
    expect(evs.at(-1)).toMatchObject({
      type: 'run-end',
      counts: { done: 8, skipped: 0, failed: 1 },
      exitCode: 1,
    });
    expect(evs.find((e) => e.type === 'item-failed')).toMatchObject({ line: 10, error: { code: 'E_INPUT' } });
    expect(r.code).toBe(1);
  });

  it('11: a YAML syntax error and an unknown key exit 2 naming the file and the line or key', async () => {
    const dir = await tempDir();
    const broken = await writeConfig(
      dir,
      'timplus:\n  default:\n    url: http://127.0.0.1:1\n    username: [oops\n',
      'broken.yaml',
    );
    const r1 = await runCli(
      ['timplus', '-c', broken, '--datasource', '3', '--voicelocation', '4', '--voicefilename', 'x'],
      { cwd: dir },
    );
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(broken);
    expect(r1.stderr).toMatch(/line \d+/);
    const unknown = await writeConfig(
      dir,
      'timplus:\n  default:\n    url: http://127.0.0.1:1\n    username: u\n    password: p\n    pasword: q\n',
      'unknown.yaml',
    );
    const r2 = await runCli(
      ['timplus', '-c', unknown, '--datasource', '3', '--voicelocation', '4', '--voicefilename', 'x'],
      { cwd: dir },
    );
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(unknown);
    expect(r2.stderr).toContain('timplus.default.pasword');
    const missing = await runCli(['timplus', '-c', unknown, '-p', 'nosuch', '-i', '-'], { cwd: dir });
    expect(missing.code).toBe(2);
  });

  it('12: --input - from a pipe starts downloading before the pipe closes', async () => {
    const s = await setup({ recordings: 6 });
    const cli = startCli(['timplus', '-c', s.config, '-i', '-', '-o', s.out, '--json'], {
      cwd: s.dir,
      keepStdinOpen: true,
    });
    const [head, ...rest] = csv(s.sandbox.catalogue).trim().split('\n');
    cli.child.stdin?.write(`${head}\n${rest.slice(0, 2).join('\n')}\n`);
    await waitFor(() => cli.stdout().includes('"item-done"'), 'a download while stdin is open', 15_000);
    expect(cli.stdout()).toContain('"item-done"'); // downloaded while stdin is still open
    cli.child.stdin?.end(`${rest.slice(2).join('\n')}\n`);
    const result = await cli.closed;
    expect(result.code).toBe(0);
    expect(events(result.stdout).at(-1)).toMatchObject({ type: 'run-end', counts: { done: 6 } });
    await expectAllIdentical(s);
  });

  it('3b: a file renamed into place just before a crash is adopted, not downloaded again under another name', async () => {
    const s = await setup({ recordings: 4 });
    const first = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], {
      cwd: s.dir,
    });
    expect(first.code).toBe(0);
    // Rewind to "renamed, manifest line not yet written": drop the last manifest line, journal the path.
    const lines = await manifestLines(s.out);
    const lost = lines.at(-1) as (typeof lines)[number];
    await writeFile(
      join(s.out, '.recpull', 'manifest.jsonl'),
      lines
        .slice(0, -1)
        .map((l) => `${JSON.stringify(l)}\n`)
        .join(''),
    );
    await writeFile(
      join(s.out, '.recpull', 'parts'),
      `${JSON.stringify({ key: lost.key, path: lost.files[0]?.path })}\n`,
    );
    const before = downloads(s.sandbox);
    const again = await runCli(['timplus', '-c', s.config, '-i', s.list, '-o', s.out, '--json'], {
      cwd: s.dir,
    });
    expect(again.code).toBe(0);
    expect(downloads(s.sandbox)).toBe(before);
    expect(events(again.stdout).find((e) => e.type === 'notice')?.message).toContain(
      '1 whole file(s), now recorded as done',
    );
    expect(await filesBelow(s.out)).toHaveLength(4);
    await expectAllIdentical(s);
  });
});
