/**
 * `recpull cc-gateway` end to end: the CLI as a subprocess against the CC-Gateway emulator (issue 8's CLI
 * tests). Assertions read the emulator's request log, exit codes, files and the manifest; never durations.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CcGatewaySandbox,
  type CcGatewaySandboxOptions,
  type CcLoggedRequest,
  startCcGatewaySandbox,
} from '../../src/sandbox/cc-gateway/index.js';
import { sandboxCertificate } from '../../src/sandbox/server.js';
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

const sandboxes: CcGatewaySandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
});

interface Setup {
  gw: CcGatewaySandbox;
  dir: string;
  out: string;
  config: string;
  list: string;
}

/** An emulator (short poll hold), a config trusting its certificate (unless `caFile: false`), and its list. */
async function setup(
  opts: CcGatewaySandboxOptions = {},
  conf: { password?: string; caFile?: boolean } = {},
): Promise<Setup> {
  const gw = await startCcGatewaySandbox({ pollHoldMs: 200, recordings: 6, ...opts });
  sandboxes.push(gw);
  const dir = await tempDir('recpull-ccgw-cli-');
  const ca = join(dir, 'ca.pem');
  await writeFile(ca, sandboxCertificate());
  const config = await writeConfig(
    dir,
    [
      'cc-gateway:',
      '  default:',
      `    url: ${gw.url}`,
      `    agentId: "${gw.agentId}"`,
      `    phoneNumber: "${gw.phoneNumber}"`,
      `    password: "${conf.password ?? gw.password}"`,
      '    retryBase: 0.02',
      ...(conf.caFile === false ? [] : ['    tls:', `      caFile: ${ca}`]),
      '',
    ].join('\n'),
  );
  const list = join(dir, 'records.csv');
  await writeFile(
    list,
    `recordId,locationId,filetype,callId\n${gw.catalogue.map((r) => `${r.recordId},${r.locationId},${r.filetype},${r.callId}`).join('\n')}\n`,
  );
  return { gw, dir, out: join(dir, 'out'), config, list };
}

const args = (s: Setup, ...more: string[]) => [
  'cc-gateway',
  '-c',
  s.config,
  '-i',
  s.list,
  '-o',
  s.out,
  ...more,
];
const ops = (log: CcLoggedRequest[]) => log.map((e) => e.op);
const lastOp = (log: CcLoggedRequest[]) => log.filter((e) => e.op !== 'poll').at(-1)?.op;
const recordfiles = (s: Setup) => s.gw.log.filter((e) => e.op === 'recordfile').length;

/** Every recording of the catalogue is done in the manifest, with the emulator's bytes on disk. */
async function expectAllIdentical(s: Setup): Promise<void> {
  const last = new Map((await manifestLines(s.out)).map((l) => [l.key, l]));
  for (const rec of s.gw.catalogue) {
    const line = last.get(`cc-gateway:${rec.locationId}:${rec.recordId}`);
    expect(line?.status, rec.recordId).toBe('done');
    const bytes = await readFile(join(s.out, line!.files[0]!.path));
    expect(bytes.equals(s.gw.contentOf(rec)), rec.recordId).toBe(true);
  }
}

/** Every file below `dir`, as text (latin1), the manifest included. */
async function allFilesText(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const texts = await Promise.all(
    entries.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name), 'latin1')),
  );
  return texts.join('\n');
}

/** Starts a slow run, waits for its first download, and sends `signal`. */
async function interrupt(s: Setup, signal: NodeJS.Signals) {
  const cli = startCli(args(s, '--no-progress'), { cwd: s.dir });
  await waitFor(() => recordfiles(s) >= 1, 'a download');
  cli.child.kill(signal);
  return cli.closed;
}

const slow = { recordings: 6, minBytes: 20_000, maxBytes: 20_000, faults: { bytesPerSecond: 10_000 } };

describe('recpull cc-gateway against the emulator', () => {
  it('1+7: 40 recordings with a rotating GUID: byte-identical, newest GUID, signed out, no secret anywhere', async () => {
    const s = await setup({
      recordings: 40,
      guidIntervalMs: 200,
      guidTimeoutMs: 2000,
      faults: { latencyMs: 25 },
    });
    const r = await runCli(args(s, '--json', '--metadata'), { cwd: s.dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(events(r.stdout).at(-1)).toMatchObject({ type: 'run-end', counts: { done: 40 } });
    await expectAllIdentical(s);
    expect(s.gw.signIns).toBe(1);
    expect(s.gw.signedIn).toBe(false);
    expect(lastOp(s.gw.log)).toBe('logout');
    const log = s.gw.log;
    expect(log.filter((e) => e.op === 'poll' && e.setGuidGen !== undefined).length).toBeGreaterThanOrEqual(2);
    // Once the client re-polled after a rotation (so it had read the new Set-GUID), nothing older is sent.
    let required = 1;
    let lastPollSet = 1;
    for (const e of log.slice(1)) {
      if (e.op === 'poll') {
        required = Math.max(required, lastPollSet);
        lastPollSet = e.setGuidGen ?? lastPollSet;
      }
      expect(e.guidGen, `${e.op} #${log.indexOf(e)}`).toBeGreaterThanOrEqual(required);
    }
    const all = [r.stdout, r.stderr, await allFilesText(s.out)].join('\n');
    expect(all).toContain('.json'); // the metadata sidecars were written and read
    expect(all).not.toContain(s.gw.password);
    for (const g of s.gw.guidsIssued) expect(all).not.toContain(g.slice(0, 36));
  });

  it('2: the gateway signs the agent out mid-run: recpull signs in again once and completes', async () => {
    const s = await setup({ recordings: 8, faults: { latencyMs: 20, bytesPerSecond: 40_000 } });
    const cli = startCli(args(s, '--no-progress'), { cwd: s.dir });
    await waitFor(() => recordfiles(s) >= 3, 'three downloads');
    s.gw.forceSignOut();
    const r = await cli.closed;
    expect(r.code).toBe(0);
    await expectAllIdentical(s);
    expect(s.gw.signIns).toBe(2);
    expect(s.gw.signOuts.map((o) => o.reason)).toEqual(['forced', 'logout']);
    expect(r.stderr).toMatch(/signing in again/);
  });

  it('3: Ctrl-C (130) and SIGTERM (143) mid-run each end with the agent signed out', async () => {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      const s = await setup(slow);
      const r = await interrupt(s, signal);
      expect(r.code, signal).toBe(code);
      expect(s.gw.signedIn, signal).toBe(false);
      expect(lastOp(s.gw.log), signal).toBe('logout');
    }
  });

  it('3: a wrong password is exit 3, never signed in, the password printed nowhere', async () => {
    const s = await setup({}, { password: 'wrong-canary-password' });
    const r = await runCli(args(s, '--json'), { cwd: s.dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/100-004/);
    expect(ops(s.gw.log)).toEqual(['signin']);
    expect(s.gw.signIns).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toContain('wrong-canary-password');
  });

  it('3: a second Ctrl-C during a slow sign-out exits at once, and --json still ends in run-end', async () => {
    const s = await setup({ ...slow, logoutDelayMs: 4000 });
    const cli = startCli(args(s, '--json'), { cwd: s.dir });
    await waitFor(() => recordfiles(s) >= 1, 'a download');
    cli.child.kill('SIGINT');
    await waitFor(() => s.gw.log.some((e) => e.op === 'logout'), 'the sign-out request');
    cli.child.kill('SIGINT');
    const r = await cli.closed;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/SIGINT again, exiting at once/);
    // It did not wait for the sign-out: the emulator has not answered it yet.
    expect(s.gw.signOuts).toEqual([]);
    const evs = events(r.stdout);
    const end = evs.at(-1) as { type: string; counts: Record<string, number>; exitCode: number };
    expect(end).toMatchObject({ type: 'run-end', exitCode: 130, interrupted: true });
    expect(evs.filter((e) => e.type === 'run-end')).toHaveLength(1);
    expect(end.counts.done).toBe(evs.filter((e) => e.type === 'item-done').length);
    const open = startedWithoutOutcome(evs);
    if (open > 0)
      expect(evs.at(-2)).toMatchObject({
        type: 'notice',
        message: expect.stringMatching(new RegExp(`^${open} recording`)),
      });
  });

  it('4: 100-002 without --force-login is exit 3 with the advice; with it, forcelogin and success', async () => {
    const s = await setup({ signedInElsewhere: true, recordings: 2 });
    const refused = await runCli(args(s), { cwd: s.dir });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/100-002.*--force-login/s);
    expect(ops(s.gw.log)).toEqual(['signin']);
    const forced = await runCli(args(s, '--force-login'), { cwd: s.dir });
    expect(forced.code).toBe(0);
    expect(ops(s.gw.log).filter((o) => o !== 'poll')).toEqual([
      'signin',
      'signin',
      'forcelogin',
      'saybusy',
      'recordfile',
      'recordfile',
      'logout',
    ]);
    await expectAllIdentical(s);
  });

  it('3+5: JSON error bodies (104-005, 000-003) fail their items unsaved (exit 1, signed out); 104-001 is exit 3', async () => {
    const s = await setup({ recordings: 4 });
    const [a, b] = s.gw.catalogue;
    s.gw.setOption('recordErrors', { [a!.recordId]: '104-005', [b!.recordId]: '000-003' });
    const r = await runCli(args(s, '--json'), { cwd: s.dir });
    expect(r.code).toBe(1);
    expect(events(r.stdout).at(-1)).toMatchObject({ counts: { done: 2, failed: 2 } });
    const lines = await manifestLines(s.out);
    const failed = lines.filter((l) => l.status === 'failed');
    expect(failed.map((l) => l.key).sort()).toEqual([a!, b!].map((x) => `cc-gateway:0:${x.recordId}`).sort());
    for (const l of failed) expect(l.files ?? []).toEqual([]);
    const files = await allFilesText(s.out);
    expect(files).not.toContain('"retcode"');
    expect(s.gw.signedIn).toBe(false);
    expect(lastOp(s.gw.log)).toBe('logout');

    s.gw.setOption('downloadEnabled', false);
    const stopped = await runCli(args(s, '--force'), { cwd: s.dir });
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toMatch(/104-001/);
    expect(s.gw.signedIn).toBe(false);
    expect(lastOp(s.gw.log)).toBe('logout');
  });

  it('6: a self-signed gateway without tls.caFile fails saying to set it; never signed in', async () => {
    const s = await setup({ recordings: 1 }, { caFile: false });
    const r = await runCli(args(s), { cwd: s.dir });
    // The gateway cannot be authenticated: exit 3, as for a refused sign-in.
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/TLS failure.*set tls\.caFile/);
    expect(s.gw.log).toEqual([]);
  });

  it('8: the keep-alive poll keeps the agent signed in past a short silence limit during slow downloads', async () => {
    // 1 s without a poll signs the agent out; 4 × 6 KB at 6 KB/s, two at a time, take about 2 s.
    const s = await setup({
      silenceMs: 1000,
      recordings: 4,
      minBytes: 6000,
      maxBytes: 6000,
      faults: { bytesPerSecond: 6000 },
    });
    const r = await runCli(args(s), { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(s.gw.signIns).toBe(1);
    expect(s.gw.signOuts.map((o) => o.reason)).toEqual(['logout']);
    expect(s.gw.log.filter((e) => e.op === 'poll').length).toBeGreaterThan(2);
  });

  it('a headerless body is saved as .V3, not validated; --raw-format alaw wraps it in a valid A-law WAV', async () => {
    const s = await setup({
      recordings: [
        { recordId: 'Y:/6/0/20161025/20011/1902050.V3', format: 'raw', bytes: 3001 },
        { recordId: 'Y:/6/1/20161026/20011/1902067.V3', format: 'wav', bytes: 5000 },
      ],
    });
    const [raw, wav] = s.gw.catalogue;
    const r = await runCli(args(s), { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/1902050\.V3: no WAV header; saved as received \(\.V3\), not validated/);
    const v3 = await readFile(join(s.out, 'cc-gateway/20161025/20011/1902050.V3'));
    expect(v3.equals(s.gw.contentOf(raw!))).toBe(true);
    const lines = await manifestLines(s.out);
    const files = lines.flatMap((l) => l.files) as unknown as { path: string; contentType: string }[];
    expect(files.find((f) => f.path.endsWith('.V3'))?.contentType).toBe('application/octet-stream');
    expect(files.find((f) => f.path.endsWith('1902067.wav'))?.contentType).toBe('audio/wav');

    const out2 = join(s.dir, 'wrapped');
    const w = await runCli([...args(s, '--raw-format', 'alaw'), '-o', out2], { cwd: s.dir });
    expect(w.code).toBe(0);
    const a = await readFile(join(out2, 'cc-gateway/20161025/20011/1902050.wav'));
    expect(a.subarray(0, 4).toString()).toBe('RIFF');
    expect(a.readUInt16LE(20)).toBe(6); // A-law
    expect(a.subarray(58, 58 + 3001).equals(s.gw.contentOf(raw!))).toBe(true);
    const b = await readFile(join(out2, 'cc-gateway/20161026/20011/1902067.wav'));
    expect(b.equals(s.gw.contentOf(wav!))).toBe(true);
  });
});
