/**
 * The CC-FS emulator on its own, spoken to with its own signer (src/sandbox/cc-fs/auth.ts) over HTTPS:
 * auth-v2 checks (401 body, 403 after three wrong in a row, clock skew), the documented error JSON,
 * WAVs, zips, flow control, and a request log without Authorization headers.
 */
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authV2Header } from '../../src/sandbox/cc-fs/auth.js';
import { type CcFsSandbox, startCcFsSandbox } from '../../src/sandbox/cc-fs/index.js';
import { sandboxCertificate } from '../../src/sandbox/server.js';

let sb: CcFsSandbox;
let agent: Agent;

beforeAll(async () => {
  sb = await startCcFsSandbox({ singleCalls: 3, multiCalls: 1, minBytes: 2000, maxBytes: 6000 });
  agent = new Agent({ connect: { ca: sandboxCertificate() } });
});
afterAll(async () => {
  await agent.close();
  await sb.close();
});

/** POSTs msgBody to an operation, signed with `sk` at `when`. */
async function post(op: string, msgBody: unknown, o: { sk?: string; when?: Date; version?: string } = {}) {
  const path = `/CCFS/resource/ccfs/${op}`;
  const body = Buffer.from(JSON.stringify({ request: { version: o.version ?? '2.0' }, msgBody }));
  const headers = {
    'content-length': String(body.length),
    'content-type': 'application/json;charset=UTF-8',
    host: new URL(sb.url).host,
  };
  const authorization = authV2Header(
    { method: 'POST', path, query: [], headers, body },
    sb.ak,
    o.sk ?? sb.sk,
    o.when ?? new Date(),
  );
  const res = await request(`${sb.url}${path}`, {
    method: 'POST',
    headers: { ...headers, authorization },
    body,
    dispatcher: agent,
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    type: String(res.headers['content-type']),
    bytes,
    json: () => JSON.parse(bytes.toString()),
  };
}

describe('CC-FS emulator', () => {
  it('serves a WAV by fileName and a zip by a multi-recording call id', async () => {
    const r = sb.catalogue[0]!;
    const wav = await post('downloadRecord', { fileName: r.fileName, ccId: '1' });
    expect(wav.status).toBe(200);
    expect(wav.type).toMatch(/octet-stream/i);
    expect(wav.bytes.equals(sb.contentOf(r.fileName))).toBe(true);
    const multi = sb.calls.find((c) => c.recordings.length > 1)!;
    const zip = await post('downloadRecord', { callId: multi.callId, ccId: '1' });
    expect(zip.bytes.subarray(0, 4).toString('latin1')).toBe('PK\u0003\u0004');
    expect(sb.log.at(-1)).toMatchObject({
      op: 'downloadRecord',
      authResult: 'ok',
      answer: 'zip',
      ccIdType: 'string',
    });
  });

  it('answers the documented result codes', async () => {
    const code = async (m: unknown, version?: string) =>
      (await post('downloadRecord', m, version ? { version } : {})).json().resultCode as string;
    expect(await code({ fileName: 'Y:/1/0/20000101/1/none.V3' })).toBe('0300011');
    expect(await code({ callId: 'no-such-call' })).toBe('0300012');
    expect(await code({ fileName: 'Y:/bad name.V3' })).toBe('0300022');
    expect(await code({ fileName: 'Z:/error/0300018/x.V3' })).toBe('0300018');
    expect(await code({ ccId: '1' })).toBe('0300019');
    expect(await code({ callId: 'x' }, '1.0')).toBe('0300006');
    const bill = await post('downloadBillFile', { billFileName: '../x.zip' });
    expect(bill.json()).toMatchObject({
      resultCode: '0300022',
      response: { version: '2.0', resultCode: '0300022' },
    });
    const long = await post('queryBillData', {
      beginTime: '2024-01-01 00:00:00',
      endTime: '2024-01-04 00:00:01',
      dataType: 'call_record',
      callBackURL: 'http://127.0.0.1:9/',
    });
    expect(long.json().resultCode).toBe('0300014');
  });

  it('flow control: the next n downloads get 0300008', async () => {
    sb.flowControl(2);
    const fileName = sb.catalogue[1]!.fileName;
    const codes = [];
    for (let i = 0; i < 3; i++) {
      const r = await post('downloadRecord', { fileName, ccId: '1' });
      codes.push(r.type.includes('json') ? r.json().resultCode : 'wav');
    }
    expect(codes).toEqual(['0300008', '0300008', 'wav']);
    expect(sb.flowControlSent).toBe(2);
  });

  it('401 with the documented body for a wrong signature or a skewed clock; 403 after three wrong in a row', async () => {
    const fileName = sb.catalogue[0]!.fileName;
    const bad = await post('downloadRecord', { fileName }, { sk: 'wrong-secret' });
    expect(bad.status).toBe(401);
    expect(bad.json()).toMatchObject({
      status: 401,
      error: 'Unauthorized',
      message: expect.any(String),
      path: '/CCFS/resource/ccfs/downloadRecord',
      timestamp: expect.any(Number),
    });
    const skewed = await post('downloadRecord', { fileName }, { when: new Date(Date.now() - 3600_000) });
    expect(skewed.status).toBe(401);
    expect(sb.log.at(-1)?.authResult).toBe('clock-skew');
    expect((await post('downloadRecord', { fileName })).status).toBe(200); // resets the count
    for (let i = 0; i < 3; i++)
      expect((await post('downloadRecord', { fileName }, { sk: 'wrong' })).status).toBe(401);
    const locked = await post('downloadRecord', { fileName });
    expect(locked.status).toBe(403);
    expect(locked.json()).toMatchObject({ status: 403, error: 'Forbidden' });
    sb.unlock();
    expect((await post('downloadRecord', { fileName })).status).toBe(200);
  });

  it('never logs an Authorization header or the SK', () => {
    const text = JSON.stringify(sb.log);
    expect(text).not.toContain(sb.sk);
    expect(text).not.toMatch(/auth-v2\/[^"]*\/[0-9a-f]{64}/);
    expect(sb.log.every((e) => e.auth === undefined || e.auth === 'auth-v2')).toBe(true);
  });
});
