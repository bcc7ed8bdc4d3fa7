/**
 * recpull's CC-Gateway session, download and Source against the loopback emulator, through `runDownloads`
 * into a temp folder: GUID rotation, session loss and recovery, 100-002, error JSON, keep-alive, sign-out on
 * every way out, no secret in events or the manifest. Assertions read the emulator's request log.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets } from '../../src/core/redact.js';
import type { RunEvent } from '../../src/core/events.js';
import { HttpClient } from '../../src/core/http.js';
import { type RunResult, runDownloads } from '../../src/core/run.js';
import {
  type CcGatewaySandbox,
  type CcGatewaySandboxOptions,
  type CcLoggedRequest,
  startCcGatewaySandbox,
} from '../../src/sandbox/cc-gateway/index.js';
import { linearToAlaw } from '../../src/sandbox/cc-gateway/records.js';
import { sandboxCertificate } from '../../src/sandbox/server.js';
import { UnvalidatedBody } from '../../src/formats/audio.js';
import { ccGatewayKey, parseRecordPath } from '../../src/vendors/cc-gateway/record.js';
import { CcGatewaySession, type CcGatewaySessionOptions } from '../../src/vendors/cc-gateway/session.js';
import { type CcGatewaySelection, ccGatewaySource } from '../../src/vendors/cc-gateway/source.js';

let gw: CcGatewaySandbox | undefined;
let http: HttpClient | undefined;
let out: string | undefined;
afterEach(async () => {
  await http?.close();
  await gw?.close();
  if (out) await rm(out, { recursive: true, force: true });
  gw = undefined;
  http = undefined;
  out = undefined;
  clearSecrets();
});

/** A fast emulator: short poll hold; callers add what the test is about. */
async function start(opts: CcGatewaySandboxOptions = {}) {
  gw = await startCcGatewaySandbox({ pollHoldMs: 150, recordings: 8, ...opts });
  http = new HttpClient({ ca: sandboxCertificate(), timeoutMs: 10_000 });
  out = await mkdtemp(join(tmpdir(), 'recpull-ccgw-'));
  return gw;
}

function session(extra: Partial<CcGatewaySessionOptions> = {}) {
  return new CcGatewaySession(http!, {
    url: gw!.url,
    agentId: gw!.agentId,
    password: gw!.password,
    phoneNumber: gw!.phoneNumber,
    repollDelayMs: 20,
    pollErrorDelayMs: 50,
    ...extra,
  });
}

interface Run extends RunResult {
  events: RunEvent[];
}

async function run(
  selection?: CcGatewaySelection,
  opts: {
    session?: Partial<CcGatewaySessionOptions>;
    rawFormat?: 'alaw' | 'mulaw';
    onEvent?: (e: RunEvent, events: RunEvent[]) => void;
    signal?: AbortSignal;
  } = {},
): Promise<Run> {
  const events: RunEvent[] = [];
  const source = ccGatewaySource(
    session(opts.session),
    selection ?? { recordIds: gw!.catalogue.map((r) => r.recordId) },
    { verbose: true, ...(opts.rawFormat ? { rawFormat: opts.rawFormat } : {}) },
  );
  const result = await runDownloads(source, {
    out: out!,
    profile: 'default',
    concurrency: 2,
    retries: 2,
    retryBaseMs: 10,
    retryCapMs: 50,
    force: false,
    dryRun: false,
    metadata: true,
    signal: opts.signal ?? new AbortController().signal,
    emit: (e) => {
      events.push(e);
      opts.onEvent?.(e, events);
    },
  });
  return { ...result, events };
}

const ops = (log: CcLoggedRequest[]) => log.map((e) => e.op);
const lastOp = (log: CcLoggedRequest[]) => log.filter((e) => e.op !== 'poll').at(-1)?.op;

async function manifestText(): Promise<string> {
  return readFile(join(out!, '.recpull', 'manifest.jsonl'), 'utf8');
}

async function savedBytes(key: string, events: RunEvent[]): Promise<Buffer> {
  const done = events.find((e) => e.type === 'item-done' && e.key === key);
  if (done?.type !== 'item-done') throw new Error(`${key} not done`);
  return readFile(join(out!, done.files[0]!.path));
}

describe('CC-Gateway session and source against the emulator', () => {
  it('40 recordings in dynamic AUTHMODE with a rotating GUID: byte-identical, always the newest GUID, signed out', async () => {
    await start({
      recordings: 40,
      guidIntervalMs: 200,
      guidTimeoutMs: 2000,
      faults: { latencyMs: 25 },
    });
    const r = await run();
    expect(r.exitCode).toBe(0);
    expect(r.counts).toMatchObject({ done: 40, failed: 0 });
    for (const rec of gw!.catalogue) {
      const bytes = await savedBytes(ccGatewayKey({ recordId: rec.recordId, filetype: '1' }), r.events);
      expect(bytes.equals(gw!.contentOf(rec))).toBe(true);
    }
    const log = gw!.log;
    expect(gw!.signIns).toBe(1);
    expect(gw!.signedIn).toBe(false);
    expect(lastOp(log)).toBe('logout');
    expect(ops(log).slice(0, 2)).toEqual(['signin', 'saybusy']);
    expect(log[0]?.signIn).toMatchObject({
      passwordOk: true,
      status: 5,
      autoanswer: false,
      autoenteridle: false,
      agenttype: 4,
      phonenum: gw!.phoneNumber,
    });
    const rotations = log.filter((e) => e.op === 'poll' && e.setGuidGen !== undefined).length;
    expect(rotations).toBeGreaterThanOrEqual(2);
    // Once the client re-polled after a rotation (so it had read the new Set-GUID), nothing older is sent.
    let required = 1;
    let lastPollSet = 1;
    for (const e of log.slice(1)) {
      if (e.op === 'poll') {
        required = Math.max(required, lastPollSet);
        lastPollSet = e.setGuidGen ?? lastPollSet;
      }
      expect(['newest', 'older']).toContain(e.guid);
      expect(e.guidGen).toBeGreaterThanOrEqual(required);
      expect(e.cookie).toBe(true);
    }
  });

  it('the gateway signs the agent out mid-run: signs in again once and completes', async () => {
    await start({ recordings: 12, faults: { latencyMs: 20 } });
    const r = await run(undefined, {
      onEvent: (e, events) => {
        if (e.type === 'item-done' && events.filter((x) => x.type === 'item-done').length === 4)
          gw!.forceSignOut();
      },
    });
    expect(r.exitCode).toBe(0);
    expect(r.counts.done).toBe(12);
    expect(gw!.signIns).toBe(2);
    expect(gw!.signOuts.map((s) => s.reason)).toEqual(['forced', 'logout']);
    expect(r.events.some((e) => e.type === 'notice' && /lost .*signing in again/.test(e.message))).toBe(true);
  });

  it('a session lost twice stops the run with E_AUTH (exit 3)', async () => {
    await start({ recordings: 12, faults: { latencyMs: 20 } });
    let dones = 0;
    const r = await run(undefined, {
      onEvent: (e) => {
        if (e.type === 'item-done' && (++dones === 2 || dones === 5)) gw!.forceSignOut();
      },
    });
    expect(r.exitCode).toBe(3);
    expect(r.fatal?.code).toBe('E_AUTH');
    expect(gw!.signIns).toBe(2);
    expect(gw!.signedIn).toBe(false);
  });

  it('100-002 without force: exit 3 with the advice and no sign-out; with force: forcelogin and success', async () => {
    await start({ signedInElsewhere: true, recordings: 2 });
    const refused = await run();
    expect(refused.exitCode).toBe(3);
    expect(refused.fatal).toMatchObject({ code: 'E_AUTH', vendorCode: '100-002' });
    expect(refused.fatal?.message).toMatch(/another session holds this agent.*--force-login/);
    expect(ops(gw!.log)).toEqual(['signin']);
    const forced = await run(undefined, { session: { forceLogin: true } });
    expect(forced.exitCode).toBe(0);
    expect(forced.counts.done).toBe(2);
    expect(ops(gw!.log).filter((o) => o !== 'poll')).toEqual([
      'signin',
      'signin',
      'forcelogin',
      'saybusy',
      'recordfile',
      'recordfile',
      'logout',
    ]);
  });

  it('a wrong password is exit 3 naming 100-004, never signed in, no password in the events', async () => {
    await start({ recordings: 1 });
    const r = await run(undefined, { session: { password: 'wrong-canary-password' } });
    expect(r.exitCode).toBe(3);
    expect(r.fatal?.message).toMatch(/100-004/);
    expect(ops(gw!.log)).toEqual(['signin']);
    expect(JSON.stringify(r.events)).not.toContain('wrong-canary-password');
  });

  it('error JSON is never saved: 104-005 and a 000-003 for one file (session alive) fail only their item', async () => {
    await start({ recordings: 4 });
    const [a, b] = gw!.catalogue;
    gw!.setOption('recordErrors', { [a!.recordId]: '104-005', [b!.recordId]: '000-003' });
    const r = await run();
    expect(r.exitCode).toBe(1);
    expect(r.counts).toMatchObject({ done: 2, failed: 2 });
    const failed = Object.fromEntries(
      r.events.flatMap((e) => (e.type === 'item-failed' ? [[e.key, e.error]] : [])),
    );
    expect(failed[ccGatewayKey({ recordId: a!.recordId, filetype: '1' })]).toMatchObject({
      code: 'E_NOT_FOUND',
      vendorCode: '104-005',
    });
    expect(failed[ccGatewayKey({ recordId: b!.recordId, filetype: '1' })]).toMatchObject({
      vendorCode: '000-003',
    });
    expect(gw!.signIns).toBe(1); // the poll answered: no re-sign-in
    expect(lastOp(gw!.log)).toBe('logout');
    const manifest = await manifestText();
    expect(manifest).not.toContain('"retcode"');
    const saved = r.events.flatMap((e) => (e.type === 'item-done' ? e.files.map((f) => f.path) : []));
    expect(saved.filter((p) => p.endsWith('.wav'))).toHaveLength(2);
  });

  it('104-001 stops the run with E_PERMISSION (exit 3) and signs out', async () => {
    await start({ downloadEnabled: false, recordings: 6 });
    const r = await run();
    expect(r.exitCode).toBe(3);
    expect(r.fatal).toMatchObject({ code: 'E_PERMISSION', vendorCode: '104-001' });
    expect(r.counts.done).toBe(0);
    expect(ops(gw!.log).filter((o) => o === 'recordfile').length).toBeLessThanOrEqual(2);
    expect(lastOp(gw!.log)).toBe('logout');
  });

  it('the keep-alive poll keeps the agent signed in past a short silence limit during slow downloads', async () => {
    // 400 ms silence limit; 4 recordings of ~6 KB at 6 KB/s, two at a time: about 2 s of downloading.
    await start({
      silenceMs: 400,
      recordings: 4,
      minBytes: 6000,
      maxBytes: 6000,
      faults: { bytesPerSecond: 6000 },
    });
    const r = await run();
    expect(r.exitCode).toBe(0);
    expect(gw!.signIns).toBe(1);
    expect(gw!.signOuts.map((s) => s.reason)).toEqual(['logout']);
    const polls = gw!.log.filter((e) => e.op === 'poll').length;
    expect(polls).toBeGreaterThan(4);
  });

  it('Ctrl-C mid-run signs out and leaves no password or GUID in events, manifest or metadata', async () => {
    await start({ recordings: 20, guidIntervalMs: 30, faults: { latencyMs: 30 } });
    const ctrlC = new AbortController();
    // Ctrl-C once 3 items are done and the GUID has rotated at least once (so rotated GUIDs are checked too).
    const r = await run(undefined, {
      signal: ctrlC.signal,
      onEvent: (e, events) => {
        const dones = events.filter((x) => x.type === 'item-done').length;
        if (e.type === 'item-done' && dones >= 3 && gw!.guidsIssued.length > 1) ctrlC.abort();
      },
    });
    expect(r.interrupted).toBe(true);
    expect(r.exitCode).toBe(130);
    expect(lastOp(gw!.log)).toBe('logout');
    expect(gw!.signedIn).toBe(false);
    const texts = [JSON.stringify(r.events), await manifestText()];
    for (const e of r.events) {
      if (e.type === 'item-done')
        for (const f of e.files) texts.push(await readFile(join(out!, f.path), 'latin1'));
    }
    const all = texts.join('\n');
    expect(all).not.toContain(gw!.password);
    expect(gw!.guidsIssued.length).toBeGreaterThan(1);
    for (const g of gw!.guidsIssued) expect(all).not.toContain(g.slice(0, 36));
  });

  it('headerless bodies: wrapped in an A-law WAV header with --raw-format; saved as .V3, not validated, without', async () => {
    await start({
      recordings: [
        { recordId: 'Y:/6/0/20161025/20011/1902050.V3', format: 'raw', bytes: 3001 },
        { recordId: 'Y:/6/1/20161026/20012/1902051.V3', format: 'raw', bytes: 2000, locationId: '1' },
      ],
    });
    const input = Readable.from([
      'recordId,locationId,filetype,callId,team\n',
      'Y:/6/0/20161025/20011/1902050.V3,,,c-1,blue\n',
      'Y:/6/1/20161026/20012/1902051.V3,1,1,,red\n',
    ]);
    const r = await run({ input }, { rawFormat: 'alaw' });
    expect(r.exitCode).toBe(0);
    const [one, two] = gw!.catalogue;
    const a = await savedBytes(ccGatewayKey({ recordId: one!.recordId, filetype: '1' }), r.events);
    expect(a.subarray(0, 4).toString()).toBe('RIFF');
    expect(a.readUInt16LE(20)).toBe(6); // A-law
    expect(a.subarray(58, 58 + 3001).equals(gw!.contentOf(one!))).toBe(true);
    const done = r.events
      .filter((e) => e.type === 'item-done')
      .map((e) => (e.type === 'item-done' ? e.files[0]!.path : ''));
    expect(done.sort()).toEqual([
      'cc-gateway/20161025/20011/1902050.wav',
      'cc-gateway/20161026/20012/1902051.wav',
    ]);
    const b = await savedBytes(
      ccGatewayKey({ recordId: two!.recordId, locationId: '1', filetype: '1' }),
      r.events,
    );
    expect(b.subarray(58).equals(gw!.contentOf(two!))).toBe(true);
    // The empty locationId cell was not sent; the given one was.
    const queries = gw!.log.filter((e) => e.op === 'recordfile').map((e) => e.query);
    expect(queries).toContainEqual({ recordId: one!.recordId, filetype: '1' });
    expect(queries).toContainEqual({ recordId: two!.recordId, filetype: '1', locationId: '1' });
    // Without --raw-format the body is saved as received, with its own extension, marked not validated.
    await rm(out!, { recursive: true, force: true });
    const plain = await run({ recordIds: [one!.recordId] });
    expect(plain.exitCode).toBe(0);
    const file = plain.events.find((e) => e.type === 'item-done');
    expect(file).toMatchObject({
      files: expect.arrayContaining([
        expect.objectContaining({
          path: 'cc-gateway/20161025/20011/1902050.V3',
          contentType: 'application/octet-stream',
        }),
      ]),
    });
    expect(
      (await savedBytes(ccGatewayKey({ recordId: one!.recordId, filetype: '1' }), plain.events)).equals(
        gw!.contentOf(one!),
      ),
    ).toBe(true);
    expect(plain.events.some((e) => e.type === 'notice' && /not validated/.test(e.message))).toBe(true);
  });
});

describe('record paths', () => {
  it('takes date, agent, name and extension from the path; never a drive letter, colon or backslash', () => {
    expect(parseRecordPath('Y:/6/0/20161025/20011/1902050.V3')).toEqual({
      vdn: '6',
      direction: 'inbound',
      date: '20161025',
      agent: '20011',
      name: '1902050',
      recordExt: 'V3',
    });
    expect(parseRecordPath('y:\\1\\1\\20181217\\120\\1524488.V3')).toMatchObject({
      direction: 'outbound',
      date: '20181217',
      agent: '120',
    });
    expect(parseRecordPath('y:/1/record/20190412/playvoice1551276018824.wav')).toMatchObject({
      vdn: '1',
      date: '20190412',
      agent: 'unknown',
      name: 'playvoice1551276018824',
      recordExt: 'wav',
    });
    expect(parseRecordPath('y:/3rdfile/1/record/20190408/515/1633022.V3')).toMatchObject({
      vdn: '1',
      agent: '515',
    });
    expect(parseRecordPath('Y:/autoTest.V3')).toMatchObject({ date: 'undated', name: 'autoTest' });
  });
});

describe('unvalidated bodies (FetchedBody.unvalidated in the sink)', () => {
  const check = (body: string | Buffer) => {
    const c = new UnvalidatedBody({ ext: 'V3', contentType: 'application/octet-stream' });
    c.push(typeof body === 'string' ? Buffer.from(body) : body);
    return c.end();
  };
  it('refuses what looks like an error page, accepts G.711 bytes, and calls an empty body truncated', () => {
    for (const page of [
      '<html><body>Busy</body></html>',
      '{"retcode":"104-005"}',
      'Service Unavailable, try later',
    ])
      expect(() => check(page), page).toThrow(expect.objectContaining({ code: 'E_BAD_AUDIO' }));
    const alaw = Buffer.from(Array.from({ length: 2000 }, (_, i) => linearToAlaw(Math.sin(i / 5) * 9000)));
    expect(check(alaw)).toEqual({ format: 'V3', contentType: 'application/octet-stream' });
    expect(() => check(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }));
  });
});
