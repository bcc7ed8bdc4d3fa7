/**
 * The CC-FS client (src/vendors/cc-fs) against the emulator over HTTPS: file names and call ids (zips
 * extracted with src/formats/zip.ts, byte-identical), the bill file and its recording index, the
 * queryBillData callback, flow control, wrong SK (one request, then E_AUTH; then the IP lock, 403).
 * Assertions are on the emulator's request log and recorded limiter waits, never on wall-clock time.
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecpullError } from '../../src/core/errors.js';
import { HttpClient } from '../../src/core/http.js';
import { RateLimiter } from '../../src/core/rate-limit.js';
import type { FetchedBody } from '../../src/core/source.js';
import { AudioValidator } from '../../src/formats/audio.js';
import { extractZip, fileSink } from '../../src/formats/zip.js';
import { type CcFsSandbox, startCcFsSandbox } from '../../src/sandbox/cc-fs/index.js';
import { sandboxCertificate } from '../../src/sandbox/server.js';
import { startCallbackReceiver } from '../../src/vendors/cc-fs/callback.js';
import { CcFsClient, type CcFsClientOptions } from '../../src/vendors/cc-fs/client.js';
import { normalizeFileName } from '../../src/vendors/cc-fs/protocol.js';
import { readRecordIndex } from '../../src/vendors/cc-fs/record-index.js';
import { refOfIndexRow } from '../../src/vendors/cc-fs/refs.js';
import { billWindows } from '../../src/vendors/cc-fs/windows.js';

let sb: CcFsSandbox;
let http: HttpClient;
let dir: string;
let n = 0;
const signal = new AbortController().signal;
const client = (o: Partial<CcFsClientOptions> = {}) =>
  new CcFsClient(http, { url: sb.url, ak: sb.ak, sk: sb.sk, ...o });

beforeAll(async () => {
  sb = await startCcFsSandbox({ minBytes: 4000, maxBytes: 12_000 });
  http = new HttpClient({ ca: sandboxCertificate() });
  dir = mkdtempSync(join(tmpdir(), 'recpull-ccfs-'));
});
afterAll(async () => {
  await http.close();
  await sb.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a fetched body to a file (the engine downloads a zip before unpacking it). */
async function toFile(f: FetchedBody): Promise<string> {
  const path = join(dir, `body-${++n}`);
  await pipeline(Readable.from(f.body), createWriteStream(path));
  return path;
}

async function bytesOf(f: FetchedBody): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of f.body) parts.push(c);
  return Buffer.concat(parts);
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as RecpullError,
  );

describe('CC-FS client', () => {
  it('30 file names and 10 call ids (4 multi-recording zips): every file byte-identical', async () => {
    const c = client();
    const singles = sb.calls.filter((x) => x.recordings.length === 1);
    const multis = sb.calls.filter((x) => x.recordings.length > 1);
    expect(singles).toHaveLength(30);
    expect(multis).toHaveLength(4);
    const before = sb.log.length;
    await Promise.all(
      singles.map(async (call) => {
        const r = call.recordings[0]!;
        const got = await c.downloadRecord({ kind: 'file', fileName: r.fileName, ccId: '1' }, signal);
        expect(got.kind).toBe('audio');
        expect((await bytesOf(got.fetched)).equals(sb.contentOf(r.fileName))).toBe(true);
      }),
    );
    const calls = [...singles.slice(0, 6), ...multis];
    await Promise.all(
      calls.map(async (call) => {
        const got = await c.downloadRecord({ kind: 'call', callId: call.callId, ccId: '1' }, signal);
        if (call.recordings.length === 1) {
          expect(got.kind).toBe('audio');
          expect((await bytesOf(got.fetched)).equals(sb.contentOf(call.recordings[0]!.fileName))).toBe(true);
          return;
        }
        expect(got.kind).toBe('bundle');
        const staging = join(dir, `stage-${call.callId}`);
        const files = await extractZip(await toFile(got.fetched), staging, {
          sink: fileSink(() => new AudioValidator()),
        });
        expect(files.map((f) => f.path)).toEqual(call.recordings.map((r) => r.entryName));
        for (const r of call.recordings)
          expect(readFileSync(join(staging, r.entryName)).equals(sb.contentOf(r.fileName))).toBe(true);
        expect(files.every((f) => f.contentType === 'audio/wav')).toBe(true);
      }),
    );
    const mine = sb.log.slice(before);
    expect(mine).toHaveLength(40);
    expect(mine.every((e) => e.authResult === 'ok' && e.ccIdType === 'string')).toBe(true);
    expect(new Set(mine.map((e) => e.host))).toEqual(new Set([new URL(sb.url).host])); // with the port
    expect(mine.filter((e) => e.answer === 'zip')).toHaveLength(4);
    expect(mine[0]!.bodyText).toMatch(
      /^\{"request":\{"version":"2.0"\},"msgBody":\{"(fileName|callId)":"[^"]+","ccId":"1"\}\}$/,
    );
  });

  it('hostHeader sets the Host both sent and signed (Huawei demo style: without the port)', async () => {
    const r = sb.catalogue[0]!;
    const got = await client({ hostHeader: '127.0.0.1' }).downloadRecord(
      { kind: 'file', fileName: r.fileName, ccId: '1' },
      signal,
    );
    await bytesOf(got.fetched);
    expect(sb.log.at(-1)).toMatchObject({ host: '127.0.0.1', authResult: 'ok' });
  });

  it('maps result codes: not found, another developer, bad fileName, unknown codes', async () => {
    const c = client();
    const get = (fileName: string) =>
      failure(c.downloadRecord({ kind: 'file', fileName, ccId: '1' }, signal));
    expect(await get('Y:/1/0/20000101/1/none.V3')).toMatchObject({
      code: 'E_NOT_FOUND',
      vendorCode: '0300011',
      retryable: false,
    });
    expect(
      await failure(c.downloadRecord({ kind: 'call', callId: 'nope', ccId: '1' }, signal)),
    ).toMatchObject({
      code: 'E_NOT_FOUND',
      vendorCode: '0300012',
    });
    expect(await get('Z:/error/0300018/x.V3')).toMatchObject({ code: 'E_NOT_FOUND', vendorCode: '0300018' });
    expect(await get('Y:/bad name.V3')).toMatchObject({ code: 'E_INPUT', vendorCode: '0300022' });
    const unknown = await get('Z:/error/0300099/x.V3');
    expect(unknown).toMatchObject({ code: 'E_PROTOCOL', vendorCode: '0300099', retryable: false });
    expect(unknown?.message).toContain('Injected error.');
    expect(normalizeFileName('X:\\17\\0\\20180903\\15470\\2043295.V3')).toBe(
      'X:/17/0/20180903/15470/2043295.V3',
    );
    expect(() => normalizeFileName('Y:/bad name.V3')).toThrow(expect.objectContaining({ code: 'E_INPUT' }));
  });

  it('flow control: retryable E_RATE_LIMIT that pauses every worker through the shared limiter', async () => {
    const clock = { t: Date.now() };
    const waits: number[] = [];
    const limiter = new RateLimiter({
      group: 'CC-FS',
      initial: { limit: 1000, windowMs: 1000 },
      now: () => clock.t,
      sleep: async (ms) => {
        waits.push(ms);
        clock.t += ms;
      },
    });
    const c = client({ limiter, flowControlPauseMs: 7000, now: () => clock.t });
    const t = { kind: 'file' as const, fileName: sb.catalogue[2]!.fileName, ccId: '1' };
    sb.flowControl(1);
    const err = await failure(c.downloadRecord(t, signal));
    expect(err).toMatchObject({ code: 'E_RATE_LIMIT', retryable: true, vendorCode: '0300008' });
    expect(limiter.penaltyEndsAt).toBe(clock.t + 7000);
    const [a, b] = await Promise.all([c.downloadRecord(t, signal), c.downloadRecord(t, signal)]);
    await Promise.all([bytesOf(a.fetched), bytesOf(b.fetched)]);
    expect(waits[0]).toBe(7000);
    expect(sb.log.slice(-3).map((e) => e.answer)).toEqual(['0300008', 'wav', 'wav']);
  });

  it('the bill file: its recording index gives refs with the call fields', async () => {
    const c = client();
    const zip = await toFile(await c.downloadBillFile(sb.billFile, signal));
    const staging = join(dir, 'bill');
    const files = await extractZip(zip, staging);
    expect(files.map((f) => f.path).sort()).toEqual([
      expect.stringMatching(/_call\.csv$/),
      expect.stringMatching(/_record\.csv$/),
    ]);
    const index = files.find((f) => f.path.endsWith('_record.csv'))!;
    const refs = [];
    for await (const item of readRecordIndex(createReadStream(join(staging, index.path)))) {
      if ('error' in item) throw item.error;
      refs.push(refOfIndexRow(item.row, sb.zone));
    }
    expect(refs).toHaveLength(sb.catalogue.length);
    const r = sb.catalogue[5]!;
    const ref = refs.find((x) => x.meta.fileName === r.fileName)!;
    expect(ref.key).toBe(`cc-fs:1:file:${r.fileName}`);
    expect(ref.meta).toMatchObject({
      callId: r.callId,
      agentId: r.agentId,
      callerNo: r.callerNo,
      calleeNo: r.calleeNo,
      callBegin: r.callBegin,
      callEnd: r.callEnd,
      date: r.callBegin.slice(0, 10),
      name: r.entryName.replace(/\.wav$/, ''),
    });
    expect(await failure(c.downloadBillFile('20180702_unknown.zip', signal))).toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });

  it('queryBillData: windows of at most 3 days, a signed callback per window, then the bill files', async () => {
    const receiver = await startCallbackReceiver({
      host: '127.0.0.1',
      port: 0,
      path: '/ccfs-callback',
      ak: sb.ak,
      sk: sb.sk,
    });
    try {
      const to = new Date();
      const windows = billWindows(new Date(to.getTime() - 4 * 86400_000), to, sb.zone);
      expect(windows).toHaveLength(2);
      const c = client();
      let rows = 0;
      for (const w of windows) {
        const responseId = await c.queryBillData({ ...w, callBackURL: receiver.localUrl }, signal);
        const notice = await receiver.waitFor(responseId, 10_000, signal);
        expect(notice.billFileName).toMatch(new RegExp(`^\\d{8}_${responseId}\\.zip$`));
        const staging = join(dir, `q-${responseId}`);
        const files = await extractZip(
          await toFile(await c.downloadBillFile(notice.billFileName, signal)),
          staging,
        );
        const index = readFileSync(
          join(staging, files.find((f) => f.path.endsWith('_record.csv'))!.path),
          'utf8',
        );
        rows += index.split('\n').filter(Boolean).length;
      }
      expect(rows).toBe(sb.catalogue.length);
      expect(sb.callbacksSent.map((x) => x.status)).toEqual([200, 200]);
      // Unsigned and wrong-method callbacks are refused.
      const unsigned = await fetch(receiver.localUrl, {
        method: 'POST',
        body: '{"msgBody":{"billFileName":"x.zip"}}',
      });
      expect(unsigned.status).toBe(401);
      expect((await fetch(receiver.localUrl)).status).toBe(405);
      expect(receiver.refused).toBe(2);
      await expect(receiver.waitFor('never', 50)).rejects.toMatchObject({ code: 'E_TIMEOUT' });
    } finally {
      await receiver.close();
    }
    await expect(fetch(receiver.localUrl)).rejects.toThrow();
  });

  it('a wrong SK costs one request, then E_AUTH for every worker; repeated failures lock the IP (403)', async () => {
    const before = sb.log.length;
    const c = client({ sk: 'wrong-sk-canary-42', profile: 'prod' });
    const targets = sb.catalogue
      .slice(0, 8)
      .map((r) => ({ kind: 'file' as const, fileName: r.fileName, ccId: '1' }));
    const errs = await Promise.all(targets.map((t) => failure(c.downloadRecord(t, signal))));
    expect(sb.log.length - before).toBe(1);
    expect(c.sent).toBe(1);
    for (const e of errs) expect(e).toMatchObject({ code: 'E_AUTH', status: 401, retryable: false });
    const msg = errs[0]!.message;
    expect(msg).toMatch(/AK\/SK is wrong/);
    expect(msg).toMatch(/clock is off \(signed at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z UTC/);
    expect(msg).toContain('hostHeader');
    expect(msg).not.toContain('wrong-sk-canary-42');
    // Two more wrong clients lock the address; then even the right SK gets 403.
    for (let i = 0; i < 2; i++)
      await failure(client({ sk: `wrong-${i}-xxxx` }).downloadRecord(targets[0]!, signal));
    const locked = await failure(client().downloadRecord(targets[0]!, signal));
    expect(locked).toMatchObject({ code: 'E_PERMISSION', status: 403, retryable: false });
    expect(locked?.message).toMatch(/IP address is locked/);
    sb.unlock();
  });
});
