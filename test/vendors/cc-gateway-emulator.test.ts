/**
 * The CC-Gateway emulator behaves as the references describe (agentgateway-notes.md, the recordfile seed):
 * sign-in with Set-GUID, 100-002 / forcelogin, GUID rotation on the event poll and expiry in dynamic
 * AUTHMODE, sign-out after silence, and recordfile answers (WAV, headerless, error JSON with HTTP 200).
 * Driven with plain undici requests, not with recpull's client.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type CcGatewaySandbox, startCcGatewaySandbox } from '../../src/sandbox/cc-gateway/index.js';
import { sandboxCertificate } from '../../src/sandbox/server.js';

const dispatcher = new Agent({ connect: { ca: sandboxCertificate() } });
let gw: CcGatewaySandbox | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json?: { retcode: string; message: string; result: unknown };
  bytes: Buffer;
}

async function call(
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  path: string,
  opts: { guid?: string; body?: unknown; query?: Record<string, string> } = {},
): Promise<Answer> {
  const url = new URL(`${gw!.url}/agentgateway/resource/${path}`);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const res = await request(url, {
    method,
    dispatcher,
    headers: { 'content-type': 'application/json', ...(opts.guid ? { guid: opts.guid } : {}) },
    body: opts.body === undefined ? null : JSON.stringify(opts.body),
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const isJson = String(res.headers['content-type']).includes('json');
  return {
    status: res.statusCode,
    headers: res.headers,
    bytes,
    ...(isJson ? { json: JSON.parse(bytes.toString('utf8')) as Answer['json'] } : {}),
  };
}

const guidOf = (a: Answer) => String(a.headers['set-guid'] ?? '').replace(/^JSESSIONID=/, '');

async function signIn(password = gw!.password, path = `onlineagent/${gw!.agentId}`): Promise<Answer> {
  return call('PUT', path, {
    body: {
      password,
      phonenum: gw!.phoneNumber,
      status: 5,
      releasephone: true,
      agenttype: 4,
      autoanswer: false,
    },
  });
}

describe('CC-Gateway emulator', () => {
  it('signs in with Set-GUID and a cookie, refuses a wrong password (100-004) and a second sign-in (100-002)', async () => {
    gw = await startCcGatewaySandbox({ authMode: 'static' });
    expect((await signIn('wrong-password')).json?.retcode).toBe('100-004');
    const first = await signIn();
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ retcode: '0', result: { workno: gw.agentId } });
    expect(String(first.headers['set-guid'])).toMatch(/^JSESSIONID=[0-9a-f-]{36}\.AgentGateway0$/);
    expect(first.headers['set-cookie']).toBeDefined();
    expect((await signIn()).json?.retcode).toBe('100-002');
    const forced = await signIn(gw.password, `onlineagent/${gw.agentId}/forcelogin`);
    expect(forced.json?.retcode).toBe('0');
    // The first session's GUID belongs to a session that ended: 100-006; a made-up one: 000-003.
    expect(
      (await call('POST', `onlineagent/${gw.agentId}/saybusy`, { guid: guidOf(first) })).json?.retcode,
    ).toBe('100-006');
    expect(
      (await call('POST', `onlineagent/${gw.agentId}/saybusy`, { guid: 'nope.AgentGateway0' })).json?.retcode,
    ).toBe('000-003');
    // saybusy by POST or PUT, the Guid with or without JSESSIONID=.
    expect(
      (await call('PUT', `onlineagent/${gw.agentId}/saybusy`, { guid: `JSESSIONID=${guidOf(forced)}` })).json
        ?.retcode,
    ).toBe('0');
    expect(gw.status).toBe(3);
    expect(
      (await call('DELETE', `onlineagent/${gw.agentId}/logout`, { guid: guidOf(forced) })).json?.retcode,
    ).toBe('0');
    expect(gw.signedIn).toBe(false);
    expect(gw.signOuts.map((s) => s.reason)).toEqual(['forcelogin', 'logout']);
    // The log says what the Guid was, never its value or the password.
    const logText = JSON.stringify(gw.log);
    for (const g of gw.guidsIssued) expect(logText).not.toContain(g.slice(0, 36));
    expect(logText).not.toContain(gw.password);
    expect(gw.log.map((e) => e.guid)).toContain('stale-session');
    expect(gw.log.map((e) => e.guid)).toContain('wrong');
  });

  it('dynamic AUTHMODE: the poll hands out a new GUID when due; older ones work until they expire (100-006)', async () => {
    gw = await startCcGatewaySandbox({ guidIntervalMs: 150, guidTimeoutMs: 600, pollHoldMs: 5000 });
    const g1 = guidOf(await signIn());
    const poll = await call('GET', `agentevent/${gw.agentId}`, { guid: g1 });
    expect(poll.json?.retcode).toBe('0');
    const g2 = guidOf(poll);
    expect(g2).not.toBe('');
    expect(g2).not.toBe(g1);
    const pollEntry = gw.log.filter((e) => e.op === 'poll')[0]!;
    expect(pollEntry).toMatchObject({ guid: 'newest', guidGen: 1, setGuidGen: 2 });
    expect((await call('GET', `onlineagent/${gw.agentId}/agentstatus`, { guid: g1 })).json?.retcode).toBe(
      '0',
    );
    expect(gw.log.at(-1)).toMatchObject({ guid: 'older', guidGen: 1, newestGen: 2 });
    await sleep(700); // g1 and g2 are both past the 600 ms timeout now
    expect((await call('GET', `onlineagent/${gw.agentId}/agentstatus`, { guid: g2 })).json?.retcode).toBe(
      '100-006',
    );
    expect(gw.log.at(-1)?.guid).toBe('expired');
  });

  it('signs out an agent that has not polled for the silence limit; a held poll counts as polling', async () => {
    gw = await startCcGatewaySandbox({ authMode: 'static', silenceMs: 300, pollHoldMs: 500 });
    const g = guidOf(await signIn());
    expect((await call('GET', `agentevent/${gw.agentId}`, { guid: g })).json?.retcode).toBe('0'); // held 500 ms > 300
    expect(gw.signedIn).toBe(true);
    await sleep(400);
    expect(gw.signedIn).toBe(false);
    expect(gw.signOuts.map((s) => s.reason)).toEqual(['silence']);
    expect((await call('GET', `agentevent/${gw.agentId}`, { guid: g })).json?.retcode).toBe('100-006');
  });

  it('recordfile: WAV and headerless bodies as octet-stream; failures as JSON with HTTP 200', async () => {
    gw = await startCcGatewaySandbox({
      authMode: 'static',
      recordings: [
        { recordId: 'Y:/6/0/20161025/20011/1902050.V3', bytes: 3000 },
        { recordId: 'Y:/6/1/20161025/20011/1902051.V3', bytes: 2001, format: 'raw', locationId: '1' },
      ],
      recordErrors: { 'Y:/6/0/20161025/20011/1.V3': '000-003' },
    });
    const g = guidOf(await signIn());
    const get = (query: Record<string, string>) =>
      call('GET', `recordfile/${gw!.agentId}`, { guid: g, query });
    const [wav, raw] = gw.catalogue;
    const a = await get({ recordId: wav!.recordId, filetype: '1' });
    expect(a.headers['content-type']).toMatch(/^application\/octet-stream/);
    expect(a.bytes.equals(gw.contentOf(wav!))).toBe(true);
    expect(a.bytes.subarray(0, 4).toString()).toBe('RIFF');
    // The documented example writes the path with backslashes and a lower-case drive.
    const b = await get({
      recordId: 'y:\\6\\1\\20161025\\20011\\1902051.V3',
      filetype: '1',
      locationId: '1',
    });
    expect(b.bytes.equals(gw.contentOf(raw!))).toBe(true);
    expect(b.bytes.length).toBe(2001);
    expect(b.bytes.subarray(0, 4).toString()).not.toBe('RIFF');
    const codes = [
      await get({ recordId: 'Y:/6/0/20161025/20011/404.V3', filetype: '1' }),
      await get({ recordId: wav!.recordId, filetype: '3' }),
      await get({ recordId: wav!.recordId, filetype: '1', locationId: '9' }),
      await get({ recordId: 'Y:/6/0/20161025/20011/1.V3', filetype: '1' }),
    ];
    expect(codes.map((c) => [c.status, c.json?.retcode])).toEqual([
      [200, '104-005'],
      [200, '000-002'],
      [200, '104-010'],
      [200, '000-003'],
    ]);
    gw.setOption('downloadEnabled', false);
    expect((await get({ recordId: wav!.recordId })).json).toMatchObject({ retcode: '104-001' });
    expect(
      (await call('GET', `recordfile/${gw.agentId}`, { query: { recordId: wav!.recordId } })).json?.retcode,
    ).toBe('000-003');
  });
});
