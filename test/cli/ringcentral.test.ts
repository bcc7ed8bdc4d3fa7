/**
 * `recpull ringcentral` as a subprocess against the RingCentral emulator started in this process: the eight
 * tests of issue 3, plus the spec check of every query parameter recpull sends.
 * `npm test` builds first (pretest); run `npx tsc -p tsconfig.build.json` before `npx vitest run` otherwise.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type RcLoggedRequest,
  type RingCentralSandbox,
  type RingCentralSandboxOptions,
  startRingCentralSandbox,
} from '../../src/sandbox/ringcentral/index.js';
import {
  type CliResult,
  events,
  manifestLines,
  runCli,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers/cli.js';
import { allowedQueryParams } from '../helpers/ringcentral-spec.js';

const HOUR = 3600_000;
/** A Heavy group of `limit` requests per 1 s window (60 s penalty, as published). */
const perSecond = (limit: number) => ({ limit, windowS: 1, penaltyS: 60 });
/** Small recordings, for runs whose point is the number of requests. */
const SMALL = { minBytes: 8000, maxBytes: 12_000 };
/** Every request any emulator of this file saw, for the query-parameter check at the end. */
const seen: RcLoggedRequest[] = [];
const open: RingCentralSandbox[] = [];

interface Setup {
  sb: RingCentralSandbox;
  dir: string;
  out: string;
  config: string;
  /** Runs `recpull ringcentral -c <config> -o <out> --no-progress ...args`. */
  rc(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<CliResult>;
}

/** An emulator whose calls all started in the last day (so the default range holds them), and a config. */
async function setup(
  opts: RingCentralSandboxOptions = {},
  profile: Record<string, string> | ((sb: RingCentralSandbox) => Record<string, string>) = {},
): Promise<Setup> {
  const now = Date.now();
  const sb = await startRingCentralSandbox({
    from: new Date(now - 20 * HOUR),
    to: new Date(now - 20 * 60_000),
    ...opts,
  });
  open.push(sb);
  const dir = await tempDir('recpull-rc-');
  const settings: Record<string, string> = {
    server: sb.url,
    mediaServer: sb.mediaUrl,
    clientId: sb.clientId,
    clientSecret: sb.clientSecret,
    jwt: sb.jwt,
    ...(typeof profile === 'function' ? profile(sb) : profile),
  };
  const config = await writeConfig(
    dir,
    `ringcentral:\n  default:\n    retryBase: 0.02\n${Object.entries(settings)
      .map(([k, v]) => `    ${k}: '${v}'\n`)
      .join('')}`,
  );
  const out = join(dir, 'out');
  return {
    sb,
    dir,
    out,
    config,
    rc: (args, o = {}) =>
      runCli(['ringcentral', '-c', config, '-o', out, '--no-progress', ...args], {
        cwd: dir,
        timeoutMs: o.timeoutMs ?? 60_000,
        ...(o.input !== undefined ? { input: o.input } : {}),
      }),
  };
}

afterEach(async () => {
  for (const sb of open.splice(0)) {
    seen.push(...sb.log);
    await sb.close();
  }
});

/** Files below `out` (relative, POSIX), without recpull's state folder. */
async function files(out: string): Promise<string[]> {
  const entries = await readdir(out, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && !join(e.parentPath, e.name).includes('/.recpull'))
    .map((e) => join(e.parentPath, e.name).slice(out.length + 1))
    .sort();
}

/** Every catalogued recording in `ids` is in the manifest as done, with the emulator's exact bytes. */
async function expectIdentical(s: Setup, ids: string[]): Promise<void> {
  const done = new Map(
    (await manifestLines(s.out)).filter((l) => l.status === 'done').map((l) => [l.key, l]),
  );
  for (const id of ids) {
    const line = done.get(`ringcentral:${s.sb.accountId}:${id}`);
    expect(line, `recording ${id}`).toBeDefined();
    const bytes = await readFile(join(s.out, line!.files[0]!.path));
    expect(bytes.equals(s.sb.contentOf(id)), `bytes of ${id}`).toBe(true);
  }
}

describe('recpull ringcentral against the emulator', () => {
  it('SIGINT while the sign-in waits out an Auth penalty: exit 130, run-end last, no internal error, lock released', async () => {
    // two Auth requests a minute: the first run's sign-in and its revoke use them up
    const s = await setup({ recordings: 3, auth: { limit: 2, windowS: 60, penaltyS: 60 } });
    const first = await s.rc([]);
    expect(first.code, first.stderr).toBe(0);
    const cli = startCli(['ringcentral', '-c', s.config, '-o', s.out, '--no-progress', '--json'], {
      cwd: s.dir,
    });
    await waitFor(() => cli.stdout().includes('"rate-limit-wait"'), 'the Auth penalty wait');
    cli.child.kill('SIGINT');
    const r = await cli.closed;
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stderr).toBe(130);
    const lines = events(r.stdout);
    expect(lines.find((e) => e.type === 'rate-limit-wait')).toMatchObject({
      group: 'Auth',
      reason: 'penalty',
    });
    expect(lines.at(-1)).toMatchObject({ type: 'run-end', exitCode: 130, interrupted: true });
    expect(await readdir(join(s.out, '.recpull'))).not.toContain('lock.pid');
  });

  it(
    '1: 300 recordings over 3 call-log pages at 10 requests per 1 s: all identical, no 429, the request log paced at the limit',
    {
      timeout: 120_000,
    },
    async () => {
      const s = await setup({
        recordings: 300,
        minBytes: 8000,
        maxBytes: 16_000,
        heavy: perSecond(10),
      });
      const r = await s.rc(['--per-page', '100', '--quiet'], { timeoutMs: 110_000 });
      expect(r.code, r.stderr).toBe(0);
      const pages = s.sb.log.filter((e) => e.path.endsWith('/call-log'));
      expect(pages.map((e) => e.query.page ?? '1')).toEqual(['1', '2', '3']);
      const requests = s.sb.groups.heavy.accepted.length;
      expect(requests).toBe(303);
      expect(s.sb.rateLimitViolations).toBe(0);
      await expectIdentical(
        s,
        s.sb.catalogue.map((c) => c.id),
      );
      // What the emulator's log shows (the run-time ratio against the floor is measured by
      // test/bench/ringcentral-ratio.mjs): never more than 10 accepted in any 1 s window, and the
      // accepted requests packed: the span from the 1st to the 303rd is close to the 29.3 windows needed.
      const accepted = [...s.sb.groups.heavy.accepted].sort((a, b) => a - b);
      for (let i = 10; i < accepted.length; i++)
        expect(accepted[i]! - accepted[i - 10]!).toBeGreaterThanOrEqual(1000);
      const spanWindows = (accepted.at(-1)! - accepted[0]!) / 1000;
      expect(spanWindows).toBeLessThanOrEqual(((requests - 10) / 10) * 1.15);
    },
  );

  it('2: a token lifetime shorter than the run: refreshed, no failed item, never two token requests at once', async () => {
    const s = await setup({
      recordings: 120,
      ...SMALL,
      tokenLifetimeS: 2,
      heavy: perSecond(40),
      auth: { limit: 20, windowS: 60, penaltyS: 60 },
    });
    const r = await s.rc(['-j', '8']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('FAILED');
    const lines = await manifestLines(s.out);
    expect(lines.filter((l) => l.status === 'done')).toHaveLength(120);
    expect(lines.filter((l) => l.status === 'failed')).toHaveLength(0);
    expect(s.sb.tokensIssued).toBeGreaterThanOrEqual(2);
    expect(s.sb.maxConcurrentTokenRequests).toBe(1);
    const grants = s.sb.log.filter((e) => e.path === '/restapi/oauth/token');
    expect(grants.length).toBe(s.sb.tokenRequests);
    // The run ends with the revocation of its token.
    expect(s.sb.log.filter((e) => e.server === 'ringcentral').at(-1)?.path).toBe('/restapi/oauth/revoke');
  });

  it('3: a 429 mid-run pauses every worker for Retry-After; nothing is sent in the penalty', async () => {
    const s = await setup({
      recordings: 80,
      ...SMALL,
      heavy: perSecond(20),
    });
    const cli = startCli(['ringcentral', '-c', s.config, '-o', s.out, '--no-progress', '-j', '6'], {
      cwd: s.dir,
    });
    const heavy = s.sb.groups.heavy;
    while (heavy.accepted.length < 30) await sleep(10);
    const acceptedBefore = heavy.accepted.length; // the emulator runs here: nothing interleaves
    s.sb.injectPenalty('heavy', 2);
    const { code, stderr } = await cli.closed;
    expect(code, stderr).toBe(0);

    const rejected = heavy.rejected;
    expect(rejected.length).toBeGreaterThanOrEqual(1);
    const first = rejected[0]!;
    const last = rejected.at(-1)!;
    // Only requests already on their way when the first 429 was sent; none later restarted the penalty.
    expect(last - first).toBeLessThan(250);
    const after = heavy.accepted.slice(acceptedBefore);
    expect(after.length).toBeGreaterThan(0);
    expect(after[0]!).toBeGreaterThanOrEqual(last + 2000);
    expect(stderr).toMatch(/waiting 2\.0s for the Heavy rate limit \(429 penalty\)/);
    expect((await manifestLines(s.out)).filter((l) => l.status === 'done')).toHaveLength(80);
  });

  it('4: MP3 and WAV recordings get the right extension; an error body is never saved as audio', async () => {
    const s = await setup({
      recordings: 16,
      mp3Ratio: 0.5,
      xWavRatio: 0.5,
      heavy: perSecond(200),
      faults: { seed: 3, html: { rate: 0.3 }, serverError: { rate: 0.3, status: 503 }, times: 1 },
    });
    const r = await s.rc([]);
    expect(r.code, r.stderr).toBe(0);
    expect(s.sb.log.some((e) => e.fault === 'html')).toBe(true);
    expect(s.sb.log.some((e) => e.fault === 'serverError')).toBe(true);
    const types = new Set(s.sb.catalogue.map((c) => c.contentType));
    expect(types).toEqual(new Set(['audio/mpeg', 'audio/wav', 'audio/x-wav']));
    const done = new Map((await manifestLines(s.out)).map((l) => [l.key, l]));
    for (const c of s.sb.catalogue) {
      const path = done.get(`ringcentral:${s.sb.accountId}:${c.id}`)!.files[0]!.path;
      expect(path.endsWith(c.format === 'mp3' ? '.mp3' : '.wav'), `${c.contentType} → ${path}`).toBe(true);
    }
    await expectIdentical(
      s,
      s.sb.catalogue.map((c) => c.id),
    );

    // A recording that does not exist: content 404, metadata 404 CMN-102 → failed, nothing written.
    const missing = await s.rc(['--recording-id', '999000999']);
    expect(missing.code).toBe(1);
    const failed = (await manifestLines(s.out)).find((l) => l.key.endsWith(':999000999'));
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'E_NOT_FOUND', vendorCode: 'CMN-102' } });
    const all = await files(s.out);
    expect(all.some((f) => f.includes('999000999'))).toBe(false);
    expect(all).toHaveLength(16);
    for (const f of all) {
      const head = (await readFile(join(s.out, f))).subarray(0, 64).toString('latin1');
      expect(head).not.toMatch(/<html|<!DOCTYPE|errorCode/i);
    }
  });

  it('5: a connection reset mid-body resumes with Range; the file is identical', async () => {
    const s = await setup({
      recordings: 6,
      minBytes: 60_000,
      maxBytes: 80_000,
      heavy: perSecond(200),
      faults: { reset: { rate: 1, afterBytes: 20_000 }, times: 1 },
    });
    const r = await s.rc([]);
    expect(r.code, r.stderr).toBe(0);
    for (const c of s.sb.catalogue) {
      const content = s.sb.log.filter(
        (e) => e.server === 'ringcentral-media' && e.path.endsWith(`/${c.id}/content`),
      );
      expect(content[0]).toMatchObject({ fault: 'reset', auth: 'Bearer' });
      expect(content[0]!.range).toBeUndefined();
      expect(content[1]).toMatchObject({ status: 206, auth: 'Bearer' });
      expect(content[1]!.range).toMatch(/^bytes=(\d+)-$/);
      expect(Number(/\d+/.exec(content[1]!.range!)![0])).toBeGreaterThan(0);
      expect(content).toHaveLength(2);
    }
    await expectIdentical(
      s,
      s.sb.catalogue.map((c) => c.id),
    );
  });

  it('6: --events from the seed’s envelope and a multi-party session; not-ready recordings are retried, then arrive', async () => {
    const seed = JSON.parse(
      await readFile(new URL('../fixtures/ringcentral-csn-seed-event.json', import.meta.url), 'utf8'),
    );
    const docs = JSON.parse(
      await readFile(new URL('../fixtures/ringcentral-csn-docs-event.json', import.meta.url), 'utf8'),
    );
    const tsid = seed.body.telephonySessionId as string;
    const [extA, extB] = ['1380112004', '1380113004'];
    const s = await setup({
      accountId: '11111111',
      recordings: 3,
      heavy: perSecond(200),
      callLogDelayMs: 600,
      recentCalls: [
        {
          recordingId: '44444444',
          sessionId: '1234567890',
          telephonySessionId: tsid,
          endedAgoMs: 0,
          readyAfterMs: 1500,
          direction: 'Inbound',
          externalNumber: '+14155550100',
        },
        {
          recordingId: '55500001',
          sessionId: '5550000',
          telephonySessionId: 's-multi',
          endedAgoMs: 0,
          readyAfterMs: 1500,
          extensionId: extA,
        },
        {
          recordingId: '55500002',
          sessionId: '5550000',
          telephonySessionId: 's-multi',
          endedAgoMs: 0,
          readyAfterMs: 2200,
          extensionId: extB,
        },
      ],
    });
    // The seed's call ends with a Disconnected event (sequence 8), here arriving before the seed's own (7), as a bare body.
    const ended = structuredClone(seed.body);
    ended.sequence = 8;
    ended.parties[0].status = { code: 'Disconnected', reason: 'CallerInputRedirect' };
    delete ended.parties[0].recordings;
    const party = (id: string, ext: string, code: string, rec: string) => ({
      accountId: '11111111',
      extensionId: ext,
      id,
      direction: 'Inbound',
      status: { code },
      recordings: [{ id: rec, active: code === 'Answered' }],
      from: { phoneNumber: '+14155550199' },
      to: { phoneNumber: '+16505556100', extensionId: ext },
    });
    const multi = (sequence: number, a: string, b: string) => ({
      uuid: `m-${sequence}`,
      event: '/restapi/v1.0/account/11111111/telephony/sessions',
      timestamp: new Date().toISOString(),
      ownerId: extA,
      body: {
        sequence,
        sessionId: '5550000',
        telephonySessionId: 's-multi',
        eventTime: new Date().toISOString(),
        parties: [party('pa', extA, a, '55500001'), party('pb', extB, b, '55500002')],
        origin: { type: 'Call' },
      },
    });
    const ndjson = [
      docs,
      ended,
      seed,
      multi(1, 'Answered', 'Answered'),
      multi(2, 'Disconnected', 'Answered'),
      multi(3, 'Disconnected', 'Gone'),
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    const r = await s.rc(['--events', '-', '--json', '--not-ready-wait', '30s'], { input: `${ndjson}\n` });
    expect(r.code, r.stderr).toBe(0);
    await expectIdentical(s, ['44444444', '55500001', '55500002']);
    const lines = await manifestLines(s.out);
    expect(lines.map((l) => l.key).sort()).toEqual([
      'ringcentral:11111111:44444444',
      'ringcentral:11111111:55500001',
      'ringcentral:11111111:55500002',
    ]);
    // Not ready at first (call log lag, then content 404 CMN-102): retried as E_NOT_READY.
    const retries = events(r.stdout).filter((e) => e.type === 'item-retry');
    expect(retries.some((e) => (e.error as { code: string }).code === 'E_NOT_READY')).toBe(true);
    expect(s.sb.notReadySent).toBeGreaterThan(0);
    // Resolved through the call log by sessionId alone; named from the call-log record.
    const lookups = s.sb.log.filter((e) => e.path.endsWith('/call-log') && e.query.sessionId);
    for (const e of lookups) expect(Object.keys(e.query)).toEqual(['sessionId']);
    expect(new Set(lookups.map((e) => e.query.sessionId))).toEqual(new Set(['1234567890', '5550000']));
    const seedFile = lines.find((l) => l.key.endsWith(':44444444'))!.files[0]!.path;
    expect(seedFile).toMatch(
      /^ringcentral\/\d{4}\/\d{2}\/\d{2}\/.*_Inbound_\+14155550100_.*_44444444\.(wav|mp3)$/,
    );
  });

  it('7: --since-last twice: the second run fetches only calls newer than the first’s end minus the overlap', async () => {
    const s = await setup({ recordings: 12, notReadyMs: 0, heavy: perSecond(200) });
    const first = await s.rc(['--since-last']);
    expect(first.code, first.stderr).toBe(0);
    const end1 = Date.parse(s.sb.log.find((e) => e.path.endsWith('/call-log'))!.query.dateTo!);
    const cursor = JSON.parse(
      await readFile(join(s.out, '.recpull', 'ringcentral-since-last-default.json'), 'utf8'),
    );
    expect(Date.parse(cursor.end)).toBe(end1);
    const done1 = new Set((await manifestLines(s.out)).map((l) => l.key));
    expect(done1.size).toBe(12);

    const late = s.sb.addCall({ startTime: new Date(end1 - 10 * 60_000), durationS: 60 })!; // logged late, inside the overlap
    const older = s.sb.addCall({ startTime: new Date(end1 - 20 * 60_000), durationS: 60 })!; // before the overlap
    const fresh = s.sb.addCall({ endedAgoMs: 0 })!;
    const logFrom = s.sb.log.length;
    const second = await s.rc(['--since-last']);
    expect(second.code, second.stderr).toBe(0);
    const listing = s.sb.log.slice(logFrom).find((e) => e.path.endsWith('/call-log'))!;
    expect(Date.parse(listing.query.dateFrom!)).toBe(end1 - 15 * 60_000);
    const keys = (await manifestLines(s.out)).map((l) => l.key).filter((k) => !done1.has(k));
    expect(keys.sort()).toEqual(
      [late.id, fresh.id].map((id) => `ringcentral:${s.sb.accountId}:${id}`).sort(),
    );
    expect(keys.some((k) => k.endsWith(`:${older.id}`))).toBe(false);
    await expectIdentical(s, [late.id, fresh.id]);

    // A run that fails (a recording never ready) leaves the cursor where it was.
    const cursor2 = await readFile(join(s.out, '.recpull', 'ringcentral-since-last-default.json'), 'utf8');
    s.sb.addCall({ endedAgoMs: 0, readyAfterMs: 3_600_000 });
    const third = await s.rc(['--since-last', '--not-ready-wait', '1s']);
    expect(third.code).toBe(1);
    expect(await readFile(join(s.out, '.recpull', 'ringcentral-since-last-default.json'), 'utf8')).toBe(
      cursor2,
    );
  });

  it('8: a refused JWT (or client secret) exits 3 with the errorCode; no secret appears anywhere', async () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.CANARY-JWT-payload-7f3a9c.sig';
    const s = await setup({ recordings: 2 }, { jwt });
    const r = await s.rc(['--json']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/E_AUTH \[OAU-140\]: .*Invalid resource owner credentials/);
    const badSecret = 'CANARY-client-secret-41e5b2';
    const s2 = await setup({ recordings: 2 }, { clientSecret: badSecret });
    const r2 = await s2.rc([]);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toMatch(/E_AUTH \[OAU-146\]/);
    for (const [run, dir, secrets] of [
      [r, s, [jwt, s.sb.clientSecret]],
      [r2, s2, [badSecret, s2.sb.jwt]],
    ] as const) {
      const manifest = await readFile(join(dir.out, '.recpull', 'manifest.jsonl'), 'utf8').catch(() => '');
      for (const secret of [...secrets, Buffer.from(`${dir.sb.clientId}:${secrets[1]}`).toString('base64')]) {
        expect(run.stdout).not.toContain(secret);
        expect(run.stderr).not.toContain(secret);
        expect(manifest).not.toContain(secret);
      }
    }

    // Authenticated but without the ReadCallRecording permission: 403 CMN-401, exit 3, nothing saved.
    const s3 = await setup({ recordings: 2, scope: 'ReadAccounts ReadCallLog' });
    const r3 = await s3.rc([]);
    expect(r3.code).toBe(3);
    expect(r3.stderr).toMatch(/E_PERMISSION \[CMN-401\]: .*ReadCallRecording/);
    expect(await files(s3.out)).toEqual([]);
  });

  it('sessions, an extension, recording ids (hybrid: media URL, then the metadata’s contentUri)', async () => {
    const s = await setup({ recordings: 9, heavy: perSecond(200) });
    const [a, b] = s.sb.catalogue;
    const bySession = await s.rc(['--session-id', a!.sessionId, b!.sessionId, '--metadata']);
    expect(bySession.code, bySession.stderr).toBe(0);
    await expectIdentical(s, [a!.id, b!.id]);
    const sidecar = (await files(s.out)).find((f) => f.endsWith('.json'))!;
    expect(JSON.parse(await readFile(join(s.out, sidecar), 'utf8'))).toHaveProperty('recording.contentUri');

    const ext = s.sb.catalogue[2]!.extensionId;
    const byExt = await s.rc([
      '--extension',
      ext,
      '--from',
      new Date(Date.now() - 2 * 86_400_000).toISOString(),
    ]);
    expect(byExt.code, byExt.stderr).toBe(0);
    expect(s.sb.log.some((e) => e.path.endsWith(`/extension/${ext}/call-log`))).toBe(true);
    await expectIdentical(
      s,
      s.sb.catalogue.filter((c) => c.extensionId === ext).map((c) => c.id),
    );

    // A profile whose mediaServer is wrong (the platform): the built URL 404s, the metadata says where it is.
    const hybrid = await setup({ recordings: 3, heavy: perSecond(200) }, (sb) => ({ mediaServer: sb.url }));
    const id = hybrid.sb.catalogue[0]!.id;
    const byId = await hybrid.rc(['--recording-id', id]);
    expect(byId.code, byId.stderr).toBe(0);
    await expectIdentical(hybrid, [id]);
    expect(await files(hybrid.out)).toEqual([
      expect.stringMatching(new RegExp(`^ringcentral/recordings/${id}\\.(wav|mp3)$`)),
    ]);
    const trail = hybrid.sb.log
      .filter((e) => e.path.includes(`/recording/${id}`))
      .map((e) => [e.server, e.status]);
    expect(trail).toEqual([
      ['ringcentral', 404],
      ['ringcentral', 200],
      ['ringcentral-media', 200],
    ]);
  });

  it('--input: a list of recording ids with a row missing its id; the account is asked only once a row names a recording', async () => {
    const s = await setup({ recordings: 4, heavy: perSecond(200) });
    const [a, b] = s.sb.catalogue;
    const list = join(s.dir, 'list.csv');
    await writeFile(list, `recordingId,agent\n${a!.id},ann\n,bob\n${b!.id},cy\n`);
    const r = await s.rc(['-i', list, '--json']);
    expect(r.code, r.stderr).toBe(1); // one item failed
    await expectIdentical(s, [a!.id, b!.id]);
    const ev = events(r.stdout);
    expect(ev.filter((e) => e.type === 'item-failed')).toEqual([
      expect.objectContaining({ line: 3, error: expect.objectContaining({ code: 'E_INPUT' }) }),
    ]);
    expect(ev.at(-1)).toMatchObject({ type: 'run-end', counts: { done: 2, failed: 1 } });

    // only rows without an id: each fails, and no call-log request is made for the account id
    const bad = await setup({ recordings: 1, heavy: perSecond(200) });
    const badList = join(bad.dir, 'bad.csv');
    await writeFile(badList, 'recordingId,agent\n,ann\n,bob\n');
    const rb = await bad.rc(['-i', badList, '--json']);
    expect(rb.code, rb.stderr).toBe(1);
    expect(events(rb.stdout).at(-1)).toMatchObject({ counts: { done: 0, failed: 2 } });
    expect(bad.sb.log.filter((e) => e.path.endsWith('/call-log'))).toEqual([]);
  });

  it('sends only query parameters the spec defines for each operation, and never access_token', () => {
    // Runs last: the log of every emulator the tests above used.
    const operation = (e: RcLoggedRequest): string | undefined => {
      if (e.path === '/restapi/oauth/token') return 'getToken';
      if (e.path === '/restapi/oauth/revoke') return 'revokeToken';
      if (/\/account\/[^/]+\/extension\/[^/]+\/call-log$/.test(e.path)) return 'readUserCallLog';
      if (/\/account\/[^/]+\/call-log$/.test(e.path)) return 'readCompanyCallLog';
      if (/\/recording\/[^/]+\/content$/.test(e.path)) return 'readCallRecordingContent';
      if (/\/recording\/[^/]+$/.test(e.path)) return 'readCallRecording';
      return undefined;
    };
    const offending: string[] = [];
    for (const e of seen) {
      const op = operation(e);
      if (!op) {
        offending.push(`${e.method} ${e.path}: not an operation of the spec`);
        continue;
      }
      const allowed = allowedQueryParams(op);
      for (const k of Object.keys(e.query)) if (!allowed.includes(k)) offending.push(`${op}: ${k}`);
      if (e.query.access_token) offending.push(`${op}: access_token in the URL`);
    }
    expect(seen.length).toBeGreaterThan(200);
    expect(offending).toEqual([]);
  });
});
