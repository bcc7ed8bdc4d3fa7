/**
 * `recpull noojee` end to end: the CLI as a subprocess against the Noojee emulator (issue 10's tests 1–9,
 * plus `--since-last`). Timing facts come from the emulator's request log, never from the wall clock.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  type NoojeeSandbox,
  type NoojeeSandboxOptions,
  startNoojeeSandbox,
} from '../../src/sandbox/noojee/index.js';
import { events, manifestLines, runCli, tempDir, writeConfig } from '../helpers/cli.js';

const sandboxes: NoojeeSandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
});

const HOUR = 3_600_000;

async function setup(opts: NoojeeSandboxOptions, profile: Record<string, unknown> = {}) {
  const sb = await startNoojeeSandbox({ recordings: 0, ...opts });
  sandboxes.push(sb);
  const dir = await tempDir();
  const config = await writeConfig(
    dir,
    stringify({
      noojee: {
        default: {
          url: sb.url,
          username: sb.username,
          tz: sb.tz,
          apiKey: sb.apiKey,
          ...(sb.httpUser ? { httpUser: sb.httpUser, httpPassword: sb.httpPassword } : {}),
          retryBase: 0.02,
          ...profile,
        },
      },
    }),
  );
  const out = join(dir, 'out');
  // `start`/`stop` first: options of `noojee` before a subcommand's name are `noojee`'s own.
  const cli = (args: string[]) => {
    const control = args[0] === 'start' || args[0] === 'stop';
    const rest = control
      ? [args[0] as string, '-c', config, ...args.slice(1)]
      : ['-c', config, '-o', out, ...args];
    return runCli(['noojee', ...rest], { cwd: dir });
  };
  return { sb, dir, out, config, cli };
}

/** Every file below `out`, relative, recpull's state folder included. */
async function allFiles(out: string): Promise<string[]> {
  const entries = await readdir(out, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(out.length + 1));
}

const retrieves = (sb: NoojeeSandbox) =>
  sb.log.filter((e) => e.op === 'retrieve' || e.op === 'retrieveByUniqueId');

describe('recpull noojee against the emulator', () => {
  it('1+4+6: every body style, wrapped or not, byte-identical; tags with &, spaces and + reach the server intact', async () => {
    const tags = ['A&B', 'two words', '1+1=2', 'plain', 'x%20y', 'ünï'];
    const styles = ['axis1', 'axis2', 'bare'] as const;
    const s = await setup({
      specs: tags.map((tag, i) => ({ tag, style: styles[i % 3], wrap: i >= 3, bytes: 30_000 + i * 1001 })),
    });
    const byTag = tags.filter((t) => t !== 'plain');
    const uid = s.sb.catalogue.find((c) => c.tag === 'plain')!.uniqueId;
    const r = await s.cli(['--tag', ...byTag, '--unique-id', uid, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout).at(-1)).toMatchObject({ type: 'run-end', counts: { done: 6, failed: 0 } });
    const lines = await manifestLines(s.out);
    for (const rec of s.sb.catalogue) {
      const key = rec.uniqueId === uid ? `noojee:uid:${uid}` : `noojee:tag:${rec.tag}`;
      const line = lines.find((l) => l.key === key);
      expect(line?.status, key).toBe('done');
      const bytes = await readFile(join(s.out, line!.files[0]!.path));
      expect(bytes.equals(s.sb.contentOf(rec)), `${key} (${rec.style}, wrap ${rec.wrap})`).toBe(true);
    }
    expect(lines.find((l) => l.key === `noojee:uid:${uid}`)!.files[0]!.path).toBe(
      `noojee/fred/uid/${uid}.wav`,
    );
    expect(s.sb.log.map((e) => e.query.tag).filter(Boolean)).toEqual(expect.arrayContaining(byTag));
    expect(s.sb.log.filter((e) => e.query.tag !== undefined)).toHaveLength(byTag.length);
  });

  it('2: a fault is a failed item carrying the faultstring; nothing retried, exit 1', async () => {
    const s = await setup({ specs: [{ tag: 'gone', state: 'deleted', style: 'axis2' }, { tag: 'ok' }] });
    const r = await s.cli(['--tag', 'nope', 'gone', 'ok', '--no-progress']);
    expect(r.code).toBe(1);
    const lines = await manifestLines(s.out);
    const error = (tag: string) => lines.find((l) => l.key === `noojee:tag:${tag}`)?.error;
    expect(error('nope')).toMatchObject({ code: 'E_NOT_FOUND' });
    expect(error('nope')!.message).toContain("No recording found for tag 'nope'");
    expect(error('gone')!.message).toContain("The recording for tag 'gone' has been deleted");
    expect(r.stderr).toContain("No recording found for tag 'nope'");
    expect(lines.find((l) => l.key === 'noojee:tag:ok')?.status).toBe('done');
    expect(retrieves(s.sb)).toHaveLength(3);
  });

  it('3: start → retrieve refused while in progress → stop → retrieve succeeds; start/stop exit codes and --json', async () => {
    const s = await setup({});
    const help = await s.cli(['start', '--help']);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('--tag <tag>')]);
    const started = await s.cli(['start', '--exten', 'SIP/410-12FA7B', '--tag', 'call 7', '--json']);
    expect(started.code, started.stderr).toBe(0);
    expect(JSON.parse(started.stdout)).toEqual({
      op: 'start',
      target: 'SIP/410-12FA7B',
      tag: 'call 7',
      ok: true,
      status: 200,
      message: 'start: OK',
    });
    const busy = await s.cli(['--tag', 'call 7', '--not-ready-wait', '0']);
    expect(busy.code).toBe(1);
    expect((await manifestLines(s.out)).at(-1)!.error).toMatchObject({ code: 'E_NOT_READY' });
    expect(s.sb.stats.inProgressRefusals).toBeGreaterThan(0);
    const stopped = await s.cli(['stop', '--exten', '410']);
    expect([stopped.code, stopped.stdout.trim()]).toEqual([0, 'noojee stop 410: stop: OK']);
    const done = await s.cli(['--tag', 'call 7']);
    expect(done.code, done.stderr).toBe(0);
    expect((await manifestLines(s.out)).at(-1)).toMatchObject({ key: 'noojee:tag:call 7', status: 'done' });
    const again = await s.cli(['stop', '--unique-id', '9.9']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No recording is in progress for 9.9');
    const neither = await s.cli(['stop']);
    expect(neither.code).toBe(2);
    expect(s.sb.log.filter((e) => e.op === 'start' || e.op === 'stop').map((e) => e.query)).toEqual([
      { method: 'start', extenOrUniqueId: '410', tag: 'call 7' },
      { method: 'stop', extenOrUniqueId: '410' },
      { method: 'stop', extenOrUniqueId: '9.9' },
    ]);
  });

  it('4+5: invalid base64 is a failed item with no file; a body cut mid-way is retried and completes', async () => {
    const s = await setup({
      specs: [
        { tag: 'cut', style: 'axis1', bytes: 150_000, wrap: true },
        { tag: 'cut-bare', style: 'bare', bytes: 150_000 },
        { tag: 'bad', style: 'axis2', bytes: 150_000, hostile: 'invalid-char' },
      ],
      faults: { reset: { rate: 1, afterBytes: 60_001 }, times: 1 },
    });
    const r = await s.cli(['--tag', 'cut', 'cut-bare', 'bad', '--json']);
    expect(r.code).toBe(1);
    const evs = events(r.stdout);
    expect(evs.at(-1)).toMatchObject({ counts: { done: 2, failed: 1 } });
    const retried = evs.filter((e) => e.type === 'item-retry').map((e) => e.key);
    expect(retried).toEqual(expect.arrayContaining(['noojee:tag:cut', 'noojee:tag:cut-bare']));
    const lines = await manifestLines(s.out);
    for (const tag of ['cut', 'cut-bare']) {
      const line = lines.find((l) => l.key === `noojee:tag:${tag}`)!;
      expect((await readFile(join(s.out, line.files[0]!.path))).equals(s.sb.contentOf(tag))).toBe(true);
    }
    expect(lines.find((l) => l.key === 'noojee:tag:bad')!.error).toMatchObject({ code: 'E_PROTOCOL' });
    expect((await allFiles(s.out)).filter((f) => !f.startsWith('.recpull/')).sort()).toEqual([
      'noojee/fred/tag/cut-bare.wav',
      'noojee/fred/tag/cut.wav',
    ]);
  });

  it('7+9: --from/--to over 3 PBX hours at 1 listing per 2 s: every leg, never over the limit; no secret written anywhere', async () => {
    const windowMs = 2000;
    const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
    const from = new Date(to.getTime() - 3 * HOUR);
    const password = 'canary-basic-pw-93be1c';
    const apiKey = 'canary-api-key-5d0f27aa';
    const s = await setup(
      {
        recordings: 6,
        from,
        to: new Date(to.getTime() - 1000),
        listing: { limit: 1, windowMs },
        apiKey,
        basicAuth: { user: 'axis', password },
        specs: [{ uniqueId: 'late.1', start: to.getTime() - 5000, durationS: 30 }],
      },
      { rateLimit: { listing: { limit: 1, windowSeconds: windowMs / 1000 } } },
    );
    const r = await s.cli(['--from', from.toISOString(), '--to', to.toISOString(), '--metadata', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const evs = events(r.stdout);
    expect(evs.at(-1)).toMatchObject({ counts: { done: 6, failed: 0 } });
    const keys = (await manifestLines(s.out)).map((l) => l.key).sort();
    expect(keys).toEqual(
      s.sb.catalogue
        .filter((c) => c.uniqueId !== 'late.1')
        .map((c) => `noojee:uid:${c.uniqueId}`)
        .sort(),
    );
    const listing = s.sb.log.filter((e) => e.op === 'listing');
    expect(listing.map((e) => e.status)).toEqual([200, 200, 200]);
    for (let i = 1; i < listing.length; i++)
      expect(listing[i]!.at - listing[i - 1]!.at).toBeGreaterThanOrEqual(windowMs);
    expect(s.sb.stats).toMatchObject({ rateLimitViolations: 0, tooEarlyListings: 0 });
    // The first listing request went out at once: the limiter waited only before the 2nd and 3rd.
    const waits = evs.filter((e) => e.type === 'rate-limit-wait');
    expect(waits.length).toBeLessThanOrEqual(2);
    expect(s.sb.log[0]!.op).toBe('listing');
    // No secret in stdout, stderr, the manifest or any file written (recordings' metadata included).
    const written = await Promise.all(
      (await allFiles(s.out)).filter((f) => !f.endsWith('.wav')).map((f) => readFile(join(s.out, f), 'utf8')),
    );
    expect(written.some((t) => t.includes('"UniqueId"'))).toBe(true); // the --metadata records
    const basic = Buffer.from(`axis:${password}`).toString('base64');
    for (const text of [r.stdout, r.stderr, ...written])
      for (const secret of [password, apiKey, basic]) expect(text.includes(secret)).toBe(false);
  });

  it('8+9: a wrong HTTP Basic password exits 3 naming the profile; start/stop too; no secret printed', async () => {
    const s = await setup(
      { specs: [{ tag: 'a' }, { tag: 'b' }], basicAuth: { user: 'axis', password: 'right-pw-0a7c55' } },
      { httpPassword: 'wrong-pw-44e1b9', apiKey: 'canary-api-key-77aa01' },
    );
    const r = await s.cli(['--tag', 'a', 'b', '--json']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('refused the HTTP Basic credentials of profile "default"');
    const start = await s.cli(['start', '--exten', '410', '--tag', 't', '--json']);
    expect(start.code).toBe(3);
    expect(JSON.parse(start.stdout)).toMatchObject({ op: 'start', ok: false, status: 401, code: 'E_AUTH' });
    const manifest = await readFile(join(s.out, '.recpull', 'manifest.jsonl'), 'utf8').catch(() => '');
    for (const text of [r.stdout, r.stderr, start.stdout, start.stderr, manifest])
      for (const secret of ['wrong-pw-44e1b9', 'right-pw-0a7c55', 'canary-api-key-77aa01'])
        expect(text.includes(secret)).toBe(false);
  });

  it('--since-last: reads the cursor, moves it only after a successful run and only as far as the listing covered', async () => {
    // Each run lists the hours that ended 5 minutes before by its own clock. Start clear of the
    // moment one more hour qualifies (hh:05), so that the three runs agree on the last hour.
    const untilNextHour = HOUR - ((Date.now() - 5 * 60_000) % HOUR);
    if (untilNextHour < 40_000) await sleep(untilNextHour + 1000);
    const now = Date.now();
    const s = await setup(
      {
        recordings: 4,
        from: new Date(now - 3 * HOUR),
        to: new Date(now - 2 * HOUR),
        listing: { limit: 1, windowMs: 200 },
        specs: [
          { uniqueId: 'secret.1', start: now - 2.5 * HOUR, durationS: 60, state: 'private' },
          { uniqueId: 'fresh.1', start: now - 60_000, durationS: 30 }, // in an hour too recent to list
        ],
      },
      { rateLimit: { listing: { limit: 1, windowSeconds: 0.2 } } },
    );
    const cursorFile = join(s.out, '.recpull', 'noojee-since-last-default.json');
    const start = new Date(now - 4 * HOUR).toISOString();
    await mkdir(join(s.out, '.recpull'), { recursive: true });
    await writeFile(cursorFile, `${JSON.stringify({ end: start })}\n`);
    const failed = await s.cli(['--since-last', '--no-progress']);
    expect(failed.code).toBe(1); // the private leg
    expect(JSON.parse(await readFile(cursorFile, 'utf8')).end).toBe(start);
    // The first hour listed is the PBX hour of the cursor minus the 15-minute overlap.
    const pbxHour = new Intl.DateTimeFormat('en-AU', {
      timeZone: s.sb.tz,
      hour: 'numeric',
      hourCycle: 'h23',
    });
    expect(s.sb.log.find((e) => e.op === 'listing')!.query.hour).toBe(
      String(Number(pbxHour.format(Date.parse(start) - 15 * 60_000))),
    );

    s.sb.catalogue.find((c) => c.uniqueId === 'secret.1')!.state = 'done';
    const okFrom = Date.now();
    const ok = await s.cli(['--since-last', '--no-progress']);
    const okTo = Date.now();
    expect(ok.code, ok.stderr).toBe(0);
    const end = Date.parse(JSON.parse(await readFile(cursorFile, 'utf8')).end);
    expect(end % HOUR).toBe(0); // the end of the last listed PBX hour (Sydney: whole UTC hours)…
    // …the last one that had ended 5 minutes before the run: bracketed by the clock around the
    // CLI run, since the run's own clock may cross an hour + 5 minutes after the test's `now`.
    const lastEnded = (t: number) => Math.floor((t - 5 * 60_000) / HOUR) * HOUR;
    expect(end).toBeGreaterThanOrEqual(lastEnded(okFrom));
    expect(end).toBeLessThanOrEqual(lastEnded(okTo));
    const keys = new Set((await manifestLines(s.out)).filter((l) => l.status === 'done').map((l) => l.key));
    expect(keys.has('noojee:uid:fresh.1')).toBe(false);
    expect(keys.size).toBe(5);

    const before = retrieves(s.sb).length;
    const logFrom = s.sb.log.length;
    const again = await s.cli(['--since-last', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(retrieves(s.sb).length).toBe(before);
    // From the cursor minus the 15-minute overlap: the one hour before it, at most.
    expect(s.sb.log.slice(logFrom).filter((e) => e.op === 'listing').length).toBeLessThanOrEqual(1);
    expect(Date.parse(JSON.parse(await readFile(cursorFile, 'utf8')).end)).toBe(end);
  }, 120_000);
});
