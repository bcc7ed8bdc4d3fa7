/**
 * The RingCentral emulator itself: its answers validate against RingCentral's OpenAPI schemas (fixture subset),
 * and it behaves as the references say (rate-limit penalty, Range, not-ready recordings, token expiry, paging).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RingCentralSandbox, startRingCentralSandbox } from '../../src/sandbox/ringcentral/index.js';
import { sandboxCertificate } from '../../src/sandbox/server.js';
import { allowedQueryParams, specErrors } from '../helpers/ringcentral-spec.js';

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

function tokenRequest(
  sb: RingCentralSandbox,
  form: Record<string, string>,
  auth = basic(sb.clientId, sb.clientSecret),
) {
  return fetch(`${sb.url}/restapi/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: auth,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(form).toString(),
  });
}

async function login(sb: RingCentralSandbox): Promise<{ access_token: string; refresh_token: string }> {
  const res = await tokenRequest(sb, { grant_type: JWT_GRANT, assertion: sb.jwt });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string };
}

function get(url: string, token: string, headers: Record<string, string> = {}) {
  return fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers } });
}

interface CallLogPage {
  records: {
    id: string;
    startTime: string;
    sessionId: string;
    recording?: { id: string; contentUri: string };
    legs?: unknown[];
  }[];
  navigation: { nextPage?: { uri: string }; previousPage?: { uri: string }; firstPage?: { uri: string } };
  paging: { page?: number; perPage: number; pageStart?: number; pageEnd?: number };
}

const WIDE = { dateFrom: '2000-01-01T00:00:00.000Z', dateTo: '2100-01-01T00:00:00.000Z' };

describe('RingCentral emulator: schemas, paging, media', () => {
  let sb: RingCentralSandbox;
  let token: string;

  beforeAll(async () => {
    sb = await startRingCentralSandbox({
      recordings: 23,
      unrecordedCalls: 4,
      heavy: { limit: 1000, windowS: 60, penaltyS: 60 },
      auth: { limit: 100, windowS: 60, penaltyS: 60 },
      recentCalls: [
        { sessionId: '9990001', telephonySessionId: 's-notready', endedAgoMs: 0, readyAfterMs: 1200 },
      ],
      seed: 7,
    });
    token = (await login(sb)).access_token;
  });
  afterAll(() => sb.close());

  it('answers the JWT grant with a TokenInfo, and refuses bad credentials with RingCentral codes', async () => {
    const res = await tokenRequest(sb, { grant_type: JWT_GRANT, assertion: sb.jwt });
    const body = await res.json();
    expect(specErrors('TokenInfo', body)).toEqual([]);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 3600, owner_id: sb.ownerExtensionId });
    expect(res.headers.get('x-rate-limit-group')).toBe('auth');

    const badJwt = await tokenRequest(sb, { grant_type: JWT_GRANT, assertion: 'nope' });
    expect(badJwt.status).toBe(400);
    expect(await badJwt.json()).toMatchObject({ error: 'invalid_grant', errors: [{ errorCode: 'OAU-140' }] });

    const badClient = await tokenRequest(
      sb,
      { grant_type: JWT_GRANT, assertion: sb.jwt },
      basic(sb.clientId, 'wrong'),
    );
    expect(badClient.status).toBe(401);
    expect(await badClient.json()).toMatchObject({
      error: 'invalid_client',
      errors: [{ errorCode: 'OAU-146' }],
    });

    const noClient = await fetch(`${sb.url}/restapi/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_GRANT, assertion: sb.jwt }).toString(),
    });
    expect(noClient.status).toBe(401);
    expect(await noClient.json()).toMatchObject({
      error: 'invalid_client',
      errors: [{ errorCode: 'OAU-123' }],
    });
  });

  it('serves call-log pages that validate against CallLogResponse, newest first, linked by navigation.nextPage', async () => {
    const q = new URLSearchParams({ ...WIDE, recordingType: 'All', perPage: '5', view: 'Simple' });
    let next: string | undefined = `${sb.url}/restapi/v1.0/account/~/call-log?${q}`;
    const seen: CallLogPage['records'] = [];
    let pages = 0;
    while (next) {
      const res = await get(next, token);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-rate-limit-group')).toBe('heavy');
      const page = (await res.json()) as CallLogPage;
      expect(specErrors('CallLogResponse', page)).toEqual([]);
      pages++;
      expect(page.paging).toMatchObject({ page: pages, perPage: 5 });
      if (pages > 1) expect(page.navigation.previousPage).toBeDefined();
      for (const r of page.records) expect(r.recording?.contentUri.startsWith(sb.mediaUrl)).toBe(true);
      seen.push(...page.records);
      next = page.navigation.nextPage?.uri;
      if (next) {
        const u = new URL(next);
        expect(u.origin).toBe(sb.url);
        const allowed = allowedQueryParams('readCompanyCallLog');
        for (const k of u.searchParams.keys()) expect(allowed).toContain(k);
      }
    }
    // 23 spread recordings plus the recent call (listed, though its recording is not ready yet).
    expect(seen).toHaveLength(24);
    expect(pages).toBe(5);
    const times = seen.map((r) => Date.parse(r.startTime));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(new Set(seen.map((r) => r.recording?.id))).toEqual(new Set(sb.catalogue.map((c) => c.id)));
  });

  it('lists calls without recordings unless recordingType is given; Detailed view validates too', async () => {
    const all = await get(
      `${sb.url}/restapi/v1.0/account/~/call-log?${new URLSearchParams({ ...WIDE, perPage: 'max' })}`,
      token,
    );
    const page = (await all.json()) as CallLogPage;
    expect(page.records).toHaveLength(28);
    expect(page.records.filter((r) => !r.recording)).toHaveLength(4);
    expect(page.navigation.nextPage).toBeUndefined();

    const ext = sb.catalogue[0]!.extensionId;
    const q = new URLSearchParams({ ...WIDE, view: 'Detailed', recordingType: 'All' });
    const detailed = await get(`${sb.url}/restapi/v1.0/account/~/extension/${ext}/call-log?${q}`, token);
    const body = (await detailed.json()) as CallLogPage;
    expect(specErrors('CallLogResponse', body)).toEqual([]);
    expect(body.records.length).toBe(sb.catalogue.filter((c) => c.extensionId === ext).length);
    expect(body.records.every((r) => (r.legs?.length ?? 0) >= 1)).toBe(true);
  });

  it('finds a call by sessionId alone and refuses sessionId with another filter (CLG-110)', async () => {
    const target = sb.catalogue[3]!;
    const res = await get(`${sb.url}/restapi/v1.0/account/~/call-log?sessionId=${target.sessionId}`, token);
    const page = (await res.json()) as CallLogPage;
    expect(page.records.map((r) => r.recording?.id)).toEqual([target.id]);

    const bad = await get(
      `${sb.url}/restapi/v1.0/account/~/call-log?sessionId=${target.sessionId}&dateFrom=${WIDE.dateFrom}`,
      token,
    );
    expect(bad.status).toBe(400);
    const err = await bad.json();
    expect(specErrors('ParameterizedErrorResponseModel', err)).toEqual([]);
    expect(err).toMatchObject({
      errorCode: 'CLG-110',
      errors: [{ errorCode: 'CLG-110', parameterName: 'dateFrom' }],
    });

    const badDate = await get(
      `${sb.url}/restapi/v1.0/account/~/call-log?dateFrom=2024-01-01T00:00:00`,
      token,
    );
    expect(badDate.status).toBe(400);
    expect(await badDate.json()).toMatchObject({
      errors: [{ errorCode: 'CMN-101', parameterName: 'dateFrom' }],
    });
  });

  it('answers recording metadata as GetCallRecordingResponse', async () => {
    const rec = sb.catalogue[0]!;
    const res = await get(`${sb.url}/restapi/v1.0/account/~/recording/${rec.id}`, token);
    const body = await res.json();
    expect(specErrors('GetCallRecordingResponse', body)).toEqual([]);
    expect(body).toMatchObject({ id: rec.id, contentType: rec.contentType, contentUri: rec.contentUri });

    const missing = await get(`${sb.url}/restapi/v1.0/account/~/recording/123`, token);
    expect(missing.status).toBe(404);
    const err = await missing.json();
    expect(specErrors('ApiErrorResponseModel', err)).toEqual([]);
    expect(err).toMatchObject({ errorCode: 'CMN-102', errors: [{ parameterName: 'recordingId' }] });
  });

  it('serves content from the media origin with Bearer auth, ETag and Range (206)', async () => {
    const rec = sb.catalogue.find((c) => c.format === 'wav')!;
    const bytes = sb.contentOf(rec.id);
    expect(bytes.length).toBe(rec.bytes);

    const full = await get(rec.contentUri, token);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe(rec.contentType);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('x-rate-limit-group')).toBe('heavy');
    const etag = full.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(Buffer.from(await full.arrayBuffer()).equals(bytes)).toBe(true);

    const tail = await get(rec.contentUri, token, { range: 'bytes=1000-', 'if-range': etag! });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes 1000-${bytes.length - 1}/${bytes.length}`);
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(1000))).toBe(true);

    const head = await get(rec.contentUri, token, { range: 'bytes=0-99' });
    expect(head.status).toBe(206);
    expect(Buffer.from(await head.arrayBuffer()).equals(bytes.subarray(0, 100))).toBe(true);

    const stale = await get(rec.contentUri, token, { range: 'bytes=1000-', 'if-range': '"other"' });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();

    const beyond = await get(rec.contentUri, token, { range: `bytes=${bytes.length}-` });
    expect(beyond.status).toBe(416);
    expect(await beyond.json()).toMatchObject({ errors: [{ errorCode: 'CMN-107' }] });

    const anonymous = await fetch(rec.contentUri);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ errors: [{ errorCode: 'AGW-401' }] });

    // The documented `?access_token=` form works on the media origin, is counted, and stays out of the log.
    const viaQuery = await fetch(`${rec.contentUri}?access_token=${token}`);
    expect(viaQuery.status).toBe(200);
    await viaQuery.arrayBuffer();
    expect(sb.queryTokenUses).toBe(1);
    expect(JSON.stringify(sb.log)).not.toContain(token);

    const onPlatform = await get(rec.contentUri.replace(sb.mediaUrl, sb.url), token);
    expect(onPlatform.status).toBe(404);
    expect(await onPlatform.json()).toMatchObject({ errorCode: 'CMN-120' });
  });

  it('answers 404 CMN-102 for a recording until it is ready, then serves it', async () => {
    // The call placed at start (recentCalls) and one placed now: both ready 1.2 s after their end.
    const atStart = sb.catalogue.find((c) => c.sessionId === '9990001')!;
    expect(atStart.readyAt - Date.parse(atStart.endTime)).toBe(1200);
    const rec = sb.addCall({ sessionId: '9990002', endedAgoMs: 0, readyAfterMs: 1200 })!;
    const before = sb.notReadySent;
    const listed = await get(`${sb.url}/restapi/v1.0/account/~/call-log?sessionId=9990002`, token);
    expect(((await listed.json()) as CallLogPage).records.map((r) => r.recording?.id)).toEqual([rec.id]);
    const meta = await get(`${sb.url}/restapi/v1.0/account/~/recording/${rec.id}`, token);
    expect(meta.status).toBe(404);
    await meta.arrayBuffer();
    let notReady = 1;
    for (;;) {
      const res = await get(rec.contentUri, token);
      if (res.status === 200) {
        expect(Buffer.from(await res.arrayBuffer()).equals(sb.contentOf(rec.id))).toBe(true);
        break;
      }
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ errorCode: 'CMN-102', errors: [{ errorCode: 'CMN-102' }] });
      notReady++;
      expect(notReady, 'never became ready').toBeLessThan(50); // a bound on the polling, not a timing
      await sleep(200);
    }
    expect(notReady).toBeGreaterThan(2);
    expect(Date.now()).toBeGreaterThanOrEqual(rec.readyAt);
    expect(sb.notReadySent - before).toBe(notReady);
  });

  it('applies the fault plan to content requests per recording id', async () => {
    const rec = sb.catalogue[1]!;
    sb.setFaults({ serverError: { rate: 1, status: 503 }, times: 1 });
    const first = await get(rec.contentUri, token);
    expect(first.status).toBe(503);
    expect(await first.json()).toMatchObject({ errors: [{ errorCode: 'CMN-201' }] });
    const second = await get(rec.contentUri, token);
    expect(second.status).toBe(200);
    await second.arrayBuffer();

    sb.setFaults({ reset: { rate: 1, afterBytes: 1000 } });
    const reset = await get(rec.contentUri, token);
    await expect(reset.arrayBuffer()).rejects.toThrow();
    sb.setFaults({});
  });
});

describe('RingCentral emulator: rate limits and tokens', () => {
  it('serves both origins over HTTPS with the sandbox certificate', async () => {
    const sb = await startRingCentralSandbox({ recordings: 1, tls: true });
    const dispatcher = new Agent({ connect: { ca: sandboxCertificate() } });
    try {
      expect(sb.url.startsWith('https://')).toBe(true);
      expect(sb.mediaUrl.startsWith('https://')).toBe(true);
      const res = await request(`${sb.url}/restapi/oauth/token`, {
        method: 'POST',
        dispatcher,
        headers: {
          authorization: basic(sb.clientId, sb.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: JWT_GRANT, assertion: sb.jwt }).toString(),
      });
      expect(res.statusCode).toBe(200);
      const { access_token } = (await res.body.json()) as { access_token: string };
      const media = await request(sb.catalogue[0]!.contentUri, {
        dispatcher,
        headers: { authorization: `Bearer ${access_token}` },
      });
      expect(media.statusCode).toBe(200);
      expect(Buffer.from(await media.body.arrayBuffer()).equals(sb.contentOf(sb.catalogue[0]!.id))).toBe(
        true,
      );
    } finally {
      await dispatcher.close();
      await sb.close();
    }
  });

  it('sends 429 CMN-301 past the Heavy limit, and every request during the penalty restarts it', async () => {
    const sb = await startRingCentralSandbox({ recordings: 3, heavy: { limit: 3, windowS: 5, penaltyS: 1 } });
    try {
      const { access_token: token } = await login(sb);
      const url = `${sb.url}/restapi/v1.0/account/~/call-log?recordingType=All`;
      const remaining: (string | null)[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await get(url, token);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-rate-limit-limit')).toBe('3');
        expect(res.headers.get('x-rate-limit-window')).toBe('5');
        remaining.push(res.headers.get('x-rate-limit-remaining'));
        await res.arrayBuffer();
      }
      expect(remaining).toEqual(['2', '1', '0']);

      const limited = await get(url, token);
      const t4 = Date.now();
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('1');
      const err = await limited.json();
      expect(specErrors('ApiErrorResponseModel', err)).toEqual([]);
      expect(err).toMatchObject({ errorCode: 'CMN-301', errors: [{ errorCode: 'CMN-301' }] });

      // A request during the penalty restarts it: one sent after the first penalty would have ended is still refused.
      await sleep(700);
      expect((await get(url, token)).status).toBe(429);
      await sleep(Math.max(0, t4 + 1200 - Date.now()));
      expect((await get(url, token)).status).toBe(429);
      await sleep(1300);
      const ok = await get(url, token);
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();

      // Media content is in the same group.
      sb.injectPenalty('heavy', 1);
      const media = await get(sb.catalogue[0]!.contentUri, token);
      expect(media.status).toBe(429);
      expect(media.headers.get('x-rate-limit-group')).toBe('heavy');
      await media.arrayBuffer();

      expect(sb.rateLimitViolations).toBe(4);
      expect(sb.groups.heavy.rejected).toHaveLength(4);
      expect(sb.groups.heavy.accepted).toHaveLength(4);
      expect(sb.log.filter((e) => e.limited)).toHaveLength(4);
    } finally {
      await sb.close();
    }
  });

  it('limits the Auth group and records overlapping token requests', async () => {
    const sb = await startRingCentralSandbox({
      recordings: 1,
      auth: { limit: 3, windowS: 60, penaltyS: 60 },
    });
    try {
      const results = await Promise.all(
        [1, 2, 3, 4].map(() => tokenRequest(sb, { grant_type: JWT_GRANT, assertion: sb.jwt })),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 200, 429]);
      await Promise.all(results.map((r) => r.arrayBuffer()));
      expect(sb.maxConcurrentTokenRequests).toBeGreaterThanOrEqual(2);
      expect(sb.tokensIssued).toBe(3);
      expect(sb.tokenRequests).toBe(4);
    } finally {
      await sb.close();
    }
  });

  it('expires access tokens (401 TokenExpired / OAU-128) and refreshes them, invalidating the old one', async () => {
    const sb = await startRingCentralSandbox({ recordings: 2, tokenLifetimeS: 1 });
    try {
      const first = await login(sb);
      const url = `${sb.url}/restapi/v1.0/account/~/recording/${sb.catalogue[0]!.id}`;
      expect((await get(url, first.access_token)).status).toBe(200);
      await sleep(1100);
      const expired = await get(url, first.access_token);
      expect(expired.status).toBe(401);
      const err = await expired.json();
      expect(specErrors('ApiErrorResponseModel', err)).toEqual([]);
      expect(err).toMatchObject({ errorCode: 'TokenExpired', errors: [{ errorCode: 'OAU-128' }] });

      const refreshed = await tokenRequest(sb, {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
      });
      expect(refreshed.status).toBe(200);
      const second = (await refreshed.json()) as { access_token: string };
      expect(specErrors('TokenInfo', second)).toEqual([]);
      expect((await get(url, second.access_token)).status).toBe(200);

      const reused = await tokenRequest(sb, {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
      });
      expect(reused.status).toBe(400);
      expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });

      sb.expireAccessTokens();
      expect(await (await get(url, second.access_token)).json()).toMatchObject({ errorCode: 'TokenExpired' });

      const third = await login(sb);
      const revoke = await fetch(`${sb.url}/restapi/oauth/revoke`, {
        method: 'POST',
        headers: {
          authorization: basic(sb.clientId, sb.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: third.access_token }).toString(),
      });
      expect(revoke.status).toBe(200);
      const revoked = await get(url, third.access_token);
      expect(revoked.status).toBe(401);
      expect(await revoked.json()).toMatchObject({
        errorCode: 'TokenInvalid',
        errors: [{ errorCode: 'OAU-213' }],
      });
      expect(sb.tokensIssued).toBe(3);
    } finally {
      await sb.close();
    }
  });
});
