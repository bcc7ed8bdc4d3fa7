/**
 * Issue 7, the engine-side fixes, as the user sees them: the CLI as a subprocess against the TIM Plus and
 * RingCentral emulators, and against small evil servers written here (a TIM Plus web server whose token
 * URLs point at an Echo endpoint that misbehaves). Nothing here asserts a wall-clock duration: exit codes,
 * events, manifest lines and what the servers saw.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startRingCentralSandbox, type RingCentralSandbox } from '../../src/sandbox/ringcentral/index.js';
import { startTimplusSandbox } from '../../src/sandbox/timplus/index.js';
import {
  events,
  filesBelow,
  manifestLines,
  runCli,
  startCli,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers/cli.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

const isRoot = process.getuid?.() === 0;

/** A TIM Plus sandbox, a config pointing at `url` (default: the sandbox), and a CSV of its catalogue. */
async function timplus(recordings: number, opts: { url?: string; faults?: object } = {}) {
  const sandbox = await startTimplusSandbox({ recordings, minBytes: 2000, maxBytes: 4000, ...opts });
  closers.push(() => sandbox.close());
  const dir = await tempDir('recpull-h7-');
  const config = await writeConfig(
    dir,
    `timplus:\n  default:\n    url: ${opts.url ?? sandbox.url}\n    username: ${sandbox.username}\n    password: "${sandbox.password}"\n    retryBase: 0.02\n`,
  );
  return { sandbox, dir, config, out: join(dir, 'out') };
}

type Evs = ReturnType<typeof events>;
const runEnd = (evs: Evs) => evs.at(-1) as { type: string; counts: Record<string, number>; exitCode: number };
const failedCodes = (evs: Evs) =>
  evs.filter((e) => e.type === 'item-failed').map((e) => (e.error as { code: string }).code);

describe('issue 7: no silent partial run', () => {
  it('320 TIM Plus rows, 32 with an empty {agent}: 288 done + 32 E_INPUT, no token asked for those, exit 1, no lock left', async () => {
    const s = await timplus(320);
    const empty = new Set(s.sandbox.catalogue.filter((_, i) => i % 10 === 3).map((r) => r.voicefilename));
    expect(empty.size).toBe(32);
    const rows = s.sandbox.catalogue.map(
      (r, i) => `3,4,${r.voicefilename},${empty.has(r.voicefilename) ? '' : `agent${i % 7}`}`,
    );
    const list = join(s.dir, 'calls.csv');
    await writeFile(list, `datasource,voicelocation,voicefilename,agent\n${rows.join('\n')}\n`);
    const r = await runCli(
      [
        'timplus',
        ...['-c', s.config, '-i', list, '-o', s.out, '-j', '8', '--json'],
        ...['--template', '{agent}/{voicefilename}.{ext}'],
      ],
      { cwd: s.dir, timeoutMs: 90_000 },
    );
    const evs = events(r.stdout);
    expect(r.code, r.stderr).toBe(1);
    expect(runEnd(evs)).toMatchObject({ type: 'run-end', counts: { done: 288, failed: 32, skipped: 0 } });
    const failed = evs.filter((e) => e.type === 'item-failed');
    expect(failedCodes(evs)).toEqual(Array(32).fill('E_INPUT'));
    expect(new Set(failed.map((e) => String(e.key).split(':')[3]))).toEqual(empty);
    const asked = s.sandbox.log.filter((e) => e.path === '/voice.wav').map((e) => e.query.recordingid);
    expect(asked.filter((v) => empty.has(v as string))).toEqual([]);
    expect(new Set(asked).size).toBe(288);
    expect(existsSync(join(s.out, '.recpull', 'lock.pid'))).toBe(false);
    expect(existsSync(join(s.out, '.recpull', 'lock'))).toBe(false);
    expect(await filesBelow(s.out)).toHaveLength(288);
  }, 120_000);

  it('RingCentral: 80 --recording-id with {date} in the template fail as E_INPUT before any recording request, exit 1', async () => {
    const now = Date.now();
    const sb: RingCentralSandbox = await startRingCentralSandbox({
      recordings: 80,
      minBytes: 2000,
      maxBytes: 4000,
      from: new Date(now - 20 * 3600_000),
      to: new Date(now - 20 * 60_000),
    });
    closers.push(() => sb.close());
    const dir = await tempDir('recpull-h7-rc-');
    const config = await writeConfig(
      dir,
      `ringcentral:\n  default:\n    retryBase: 0.02\n    server: '${sb.url}'\n    mediaServer: '${sb.mediaUrl}'\n    clientId: '${sb.clientId}'\n    clientSecret: '${sb.clientSecret}'\n    jwt: '${sb.jwt}'\n`,
    );
    const ids = sb.catalogue.map((c) => c.id);
    expect(ids).toHaveLength(80);
    const out = join(dir, 'out');
    const r = await runCli(
      [
        'ringcentral',
        ...['-c', config, '-o', out, '--json', '--template', '{date}/{recordingId}.{ext}'],
        ...['--recording-id', ...ids],
      ],
      { cwd: dir },
    );
    const evs = events(r.stdout);
    expect(r.code, r.stderr).toBe(1);
    expect(runEnd(evs)).toMatchObject({ counts: { done: 0, skipped: 0, failed: 80 }, exitCode: 1 });
    expect(failedCodes(evs)).toEqual(Array(80).fill('E_INPUT'));
    // Nothing was asked about any recording: no metadata, no content.
    expect(sb.log.filter((e) => ids.some((id) => e.path.includes(id)))).toEqual([]);
    expect(existsSync(join(out, '.recpull', 'lock.pid'))).toBe(false);
  });

  it('an output subfolder that cannot be written: its items fail, the rest complete, run-end and exit 1', async () => {
    const s = await timplus(30);
    const rows = s.sandbox.catalogue.map((r, i) => `3,4,${r.voicefilename},team${i % 3}`);
    const list = join(s.dir, 'calls.csv');
    await writeFile(list, `datasource,voicelocation,voicefilename,team\n${rows.join('\n')}\n`);
    await mkdir(s.out);
    if (isRoot) {
      // chmod does not stop root: a file where the template needs a folder does.
      await writeFile(join(s.out, 'team1'), 'not a folder');
    } else {
      await mkdir(join(s.out, 'team1'));
      await chmod(join(s.out, 'team1'), 0o555);
      closers.push(() => chmod(join(s.out, 'team1'), 0o755));
    }
    const r = await runCli(
      [
        'timplus',
        ...['-c', s.config, '-i', list, '-o', s.out, '-j', '4', '--json'],
        ...['--template', '{team}/{voicefilename}.{ext}'],
      ],
      { cwd: s.dir },
    );
    const evs = events(r.stdout);
    expect(r.code, r.stderr).toBe(1);
    expect(runEnd(evs)).toMatchObject({ type: 'run-end', counts: { done: 20, failed: 10, skipped: 0 } });
    const failed = evs.filter((e) => e.type === 'item-failed');
    expect(failedCodes(evs)).toEqual(Array(10).fill('E_IO'));
    for (const f of failed) expect(f.attempts).toBe(1);
    const lines = await manifestLines(s.out);
    expect(lines.filter((l) => l.status === 'done').every((l) => !l.files[0]?.path.startsWith('team1'))).toBe(
      true,
    );
    expect((await filesBelow(s.out)).filter((f) => f.endsWith('.wav'))).toHaveLength(20);
    expect((await filesBelow(s.out, true)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });
});

/** What the evil Echo endpoint saw of one request. */
interface EvilHit {
  mode: string;
  sent: number;
  /** The client closed the connection before the server was done. */
  closedByClient: boolean;
  /** The server ended its answer. */
  done: boolean;
}

/**
 * A TIM Plus web server (no auth) whose token for `recordingid=<mode>` is a URL of its own `/echo/<mode>`,
 * and whose Echo endpoint misbehaves by mode. `token-endless` and `token-trickle` misbehave in step 1.
 * Every body stops after `capBytes` or when the client goes away.
 */
async function evilServer(capBytes = 64 * 1024 ** 2) {
  const hits: EvilHit[] = [];
  const server = http.createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const echo = /^\/echo\/(.+)$/.exec(u.pathname);
      const mode = echo ? (echo[1] as string) : `token-${u.searchParams.get('recordingid') ?? ''}`;
      const hit: EvilHit = { mode, sent: 0, closedByClient: false, done: false };
      hits.push(hit);
      res.on('close', () => {
        if (!hit.done) hit.closedByClient = true;
      });
      const write = async (chunk: Buffer) => {
        hit.sent += chunk.length;
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r).once('close', r));
      };
      const alive = () => !res.destroyed && !hit.closedByClient && hit.sent < capBytes;
      if (!echo) {
        const wanted = u.searchParams.get('recordingid') ?? '';
        res.writeHead(200, { 'content-type': 'text/plain' }); // chunked: no Content-Length
        if (wanted === 'token-endless') {
          while (alive()) await write(Buffer.alloc(16 * 1024, 'x'));
        } else if (wanted === 'token-trickle') {
          while (alive()) {
            await write(Buffer.from('x'));
            await sleep(300);
          }
        } else {
          hit.done = true;
          res.end(`http://127.0.0.1:${(server.address() as AddressInfo).port}/echo/${wanted}`);
          return;
        }
        hit.done = true;
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'audio/wav' }); // chunked: no Content-Length
      if (mode === 'trickle') {
        await write(wavHeader(1_000_000));
        while (alive()) {
          await write(Buffer.from([0]));
          await sleep(300);
        }
      } else {
        // riff-liar: the header declares 100 000 bytes of data, then the body never ends;
        // open-ended: RIFF size 0xFFFFFFFF (a streaming writer), endless.
        await write(wavHeader(mode === 'riff-liar' ? 100_000 : 0xffffffff - 36));
        while (alive()) await write(Buffer.alloc(16 * 1024));
      }
      hit.done = true;
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

/** A 44-byte PCM WAV header (8 kHz mono 16-bit) declaring `dataBytes` of data. */
function wavHeader(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE((dataBytes + 36) >>> 0, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16_000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes >>> 0, 40);
  return h;
}

/** Runs `recpull timplus` for one recording `mode` against an evil server. */
async function evilRun(mode: string, extra: string[]) {
  const evil = await evilServer();
  const s = await timplus(0, { url: evil.url });
  const r = await runCli(
    [
      'timplus',
      ...['-c', s.config, '-o', s.out, '--json', '--retries', '0'],
      ...['--datasource', '3', '--voicelocation', '4', '--voicefilename', mode, ...extra],
    ],
    { cwd: s.dir, timeoutMs: 60_000 },
  );
  const evs = events(r.stdout);
  // the server notices the close a moment after the client's exit at the latest
  await waitFor(
    () => evil.hits.every((h) => h.done || h.closedByClient),
    'the evil server to see the close',
    5000,
  );
  return { r, evs, evil, s };
}

describe('issue 7: bounded bodies', () => {
  it('a WAV whose body goes on past its RIFF size: E_PROTOCOL, nothing saved, the connection closed', async () => {
    const { r, evs, evil, s } = await evilRun('riff-liar', []);
    expect(r.code, r.stderr).toBe(1);
    expect(failedCodes(evs)).toEqual(['E_PROTOCOL']);
    expect(runEnd(evs)).toMatchObject({ counts: { done: 0, failed: 1 } });
    const echo = evil.hits.filter((h) => h.mode === 'riff-liar');
    expect(echo).toHaveLength(1);
    expect(echo[0]?.closedByClient).toBe(true);
    expect(echo[0]?.sent).toBeLessThan(16 * 1024 ** 2);
    expect(await filesBelow(s.out, true).then((f) => f.filter((p) => /\.(wav|part)$/.test(p)))).toEqual([]);
    expect((await manifestLines(s.out)).map((l) => l.status)).toEqual(['failed']);
  });

  it('an endless body with an open-ended RIFF size is cut off by --max-size 1M (E_TOO_LARGE)', async () => {
    const { r, evs, evil, s } = await evilRun('open-ended', ['--max-size', '1M']);
    expect(r.code, r.stderr).toBe(1);
    expect(failedCodes(evs)).toEqual(['E_TOO_LARGE']);
    const echo = evil.hits.filter((h) => h.mode === 'open-ended');
    expect(echo).toHaveLength(1);
    expect(echo[0]?.closedByClient).toBe(true);
    expect(echo[0]?.sent).toBeLessThan(16 * 1024 ** 2);
    expect(await filesBelow(s.out, true).then((f) => f.filter((p) => /\.(wav|part)$/.test(p)))).toEqual([]);
  });

  it('one byte every 300 ms: --attempt-timeout ends the attempt (E_TIMEOUT) and the server sees the close', async () => {
    const { r, evs, evil } = await evilRun('trickle', ['--timeout', '1', '--attempt-timeout', '2s']);
    expect(r.code, r.stderr).toBe(1);
    expect(failedCodes(evs)).toEqual(['E_TIMEOUT']);
    const echo = evil.hits.filter((h) => h.mode === 'trickle');
    expect(echo).toHaveLength(1);
    expect(echo[0]?.closedByClient).toBe(true);
  }, 60_000);

  it('an endless token body: the read stops (no hang), the item fails and the connection is closed', async () => {
    const { r, evs, evil } = await evilRun('token-endless', []);
    expect(r.code, r.stderr).toBe(1);
    expect(failedCodes(evs)).toEqual(['E_PROTOCOL']);
    const token = evil.hits.filter((h) => h.mode === 'token-token-endless');
    expect(token).toHaveLength(1);
    expect(token[0]?.closedByClient).toBe(true);
    expect(token[0]?.sent).toBeLessThan(8 * 1024 ** 2);
    expect(evil.hits.filter((h) => !h.mode.startsWith('token-'))).toEqual([]); // no step 2
  });

  it('a token body trickling one byte every 300 ms ends by the attempt deadline (E_TIMEOUT)', async () => {
    const { r, evs, evil } = await evilRun('token-trickle', ['--timeout', '1', '--attempt-timeout', '2s']);
    expect(r.code, r.stderr).toBe(1);
    expect(failedCodes(evs)).toEqual(['E_TIMEOUT']);
    const token = evil.hits.filter((h) => h.mode === 'token-token-trickle');
    expect(token).toHaveLength(1);
    expect(token[0]?.closedByClient).toBe(true);
  }, 60_000);
});

describe('issue 7: exit codes and streams', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${signal} mid-run with --no-progress: exit ${code}, the "Interrupted" line, the lock released`, async () => {
      const s = await timplus(40, { faults: { bytesPerSecond: 20_000 } });
      const list = join(s.dir, 'calls.csv');
      const rows = s.sandbox.catalogue.map((r) => `3,4,${r.voicefilename}`);
      await writeFile(list, `datasource,voicelocation,voicefilename\n${rows.join('\n')}\n`);
      const cli = startCli(['timplus', '-c', s.config, '-i', list, '-o', s.out, '-j', '2', '--no-progress'], {
        cwd: s.dir,
      });
      await waitFor(() => /^done /m.test(cli.stderr()), 'a finished recording');
      cli.child.kill(signal);
      const r = await cli.closed;
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toContain('Interrupted. Run the same command again to resume');
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(join(s.out, '.recpull', 'lock.pid'))).toBe(false);
      expect((await filesBelow(s.out, true)).filter((f) => f.endsWith('.part'))).toEqual([]);
      const lines = await manifestLines(s.out);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.length).toBeLessThan(40);
    });
  }

  it('`recpull sandbox` removes its temp folder on SIGTERM', async () => {
    const dir = await tempDir();
    const cli = startCli(['sandbox', '--recordings', '2'], { cwd: dir });
    await waitFor(() => /^config: .+$/m.test(cli.stdout()), 'the config line', 30_000);
    const config = (/^config: (.+)$/m.exec(cli.stdout()) as RegExpExecArray)[1] as string;
    const folder = join(config, '..');
    expect(existsSync(config)).toBe(true);
    cli.child.kill('SIGTERM');
    const r = await cli.closed;
    expect(r.signal).toBeNull();
    expect(r.stderr).not.toMatch(/internal error/);
    expect(existsSync(folder)).toBe(false);
  }, 60_000);

  it('a template making the path longer than the file system allows: E_IO saying to shorten --template, one attempt', async () => {
    const s = await timplus(3);
    const long = 'x'.repeat(300);
    const list = join(s.dir, 'calls.csv');
    const rows = s.sandbox.catalogue.map((r, i) => `3,4,${r.voicefilename},${i === 1 ? long : 'a'}`);
    await writeFile(list, `datasource,voicelocation,voicefilename,seg\n${rows.join('\n')}\n`);
    const template = `${Array(24).fill('{seg}').join('/')}/{voicefilename}.{ext}`;
    const r = await runCli(
      ['timplus', '-c', s.config, '-i', list, '-o', s.out, '--json', '--template', template],
      { cwd: s.dir },
    );
    const evs = events(r.stdout);
    expect(r.code, r.stderr).toBe(1);
    expect(runEnd(evs)).toMatchObject({ counts: { done: 2, failed: 1 } });
    const failed = evs.filter((e) => e.type === 'item-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ attempts: 1, error: { code: 'E_IO' } });
    expect((failed[0]?.error as { message: string }).message).toContain('shorten --template');
    expect(evs.filter((e) => e.type === 'item-retry')).toEqual([]);
    const victim = s.sandbox.catalogue[1]?.voicefilename;
    const tokens = s.sandbox.log.filter(
      (e) => e.path === '/voice.wav' && e.query.recordingid === victim && e.status === 200,
    );
    expect(tokens).toHaveLength(1); // one token, one download: no retry
  });
});
