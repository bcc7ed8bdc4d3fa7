/**
 * The Noojee emulator speaks the documented protocol (seeds/noojee-recording-api-2.7.14.txt,
 * noojee/noojee-notes.md, noojee/axis-soap-over-get.md), checked over raw HTTP: the three body styles with
 * exact Content-Length, wrapped lines, faults, HTTP Basic, the start/stop state machine, the hour listing
 * (POST, apiKey, legs that ended in the hour, both Start formats, one request per window), hostile bodies,
 * and a request log without the apiKey.
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type NoojeeSandbox, startNoojeeSandbox } from '../../src/sandbox/noojee/index.js';

const SERVICE = '/servicemanager/services/njadmin-api-recording';
let sb: NoojeeSandbox | undefined;
afterEach(async () => {
  await sb?.close();
  sb = undefined;
});

async function get(path: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET') {
  const res = await request(`${sb!.url}${path}`, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, text: body.toString('latin1'), bytes: body.length };
}

const payloadOf = (text: string) =>
  /<(?:\w+:)?(?:return|retrieveReturn)[^>]*>([^<]*)</.exec(text)?.[1] ?? text;

describe('Noojee emulator', () => {
  it('serves each body style with an exact Content-Length, decoding to the catalogue WAV; wraps at 76 columns', async () => {
    sb = await startNoojeeSandbox({ recordings: 6, wrapRatio: 0.5 });
    const seen = new Set<string>();
    let wrapped = 0;
    for (const rec of sb.catalogue) {
      const r = await get(`${SERVICE}?method=retrieveByUniqueId&uniqueId=${rec.uniqueId}&username=fred`);
      expect(r.status).toBe(200);
      expect(Number(r.headers['content-length'])).toBe(r.bytes);
      if (rec.style === 'axis1')
        expect(r.text).toMatch(/<soapenv:Envelope[\s\S]*<retrieveReturn xsi:type="xsd:base64Binary">/);
      if (rec.style === 'axis2')
        expect(r.text).toMatch(/^<\?xml[^>]*><ns:retrieveResponse xmlns:ns="[^"]+"><ns:return>/);
      if (rec.style === 'bare') expect(r.text.startsWith('UklGR')).toBe(true);
      const b64 = payloadOf(r.text);
      if (rec.wrap) {
        wrapped++;
        const lines = b64.split('\r\n');
        expect(lines.length).toBeGreaterThan(1);
        expect(lines.slice(0, -1).every((l) => l.length === 76)).toBe(true);
      } else expect(b64).not.toContain('\n');
      expect(Buffer.from(b64, 'base64').equals(sb.contentOf(rec))).toBe(true);
      seen.add(rec.style);
    }
    expect([...seen].sort()).toEqual(['axis1', 'axis2', 'bare']);
    expect(wrapped).toBeGreaterThan(0);
  });

  it('answers an unknown tag with a SOAP fault (HTTP 500) and no method with a 400 HTML page', async () => {
    sb = await startNoojeeSandbox({ recordings: 1 });
    const r = await get(`${SERVICE}?method=retrieve&tag=nope&username=fred`);
    expect(r.status).toBe(500);
    expect(r.text).toMatch(
      /<soapenv:Fault><faultcode>soapenv:Server.userException<\/faultcode><faultstring>No recording found for tag &apos;nope&apos;<\/faultstring>/,
    );
    expect((await get(SERVICE)).status).toBe(400);
    expect((await get(`${SERVICE}?method=retrieve&tag=x&username=nobody`)).text).toContain('Unknown user');
  });

  it('asks for HTTP Basic (realm AXIS) when configured, and logs the scheme only', async () => {
    sb = await startNoojeeSandbox({ recordings: 1, basicAuth: { user: 'axis', password: 'pw-canary-77' } });
    const path = `${SERVICE}?method=retrieveByUniqueId&uniqueId=${sb.catalogue[0]!.uniqueId}&username=fred`;
    const none = await get(path);
    expect([none.status, none.headers['www-authenticate']]).toEqual([401, 'Basic realm="AXIS"']);
    expect(none.text).toContain('Server.Unauthenticated');
    const wrong = await get(path, { authorization: `Basic ${Buffer.from('axis:nope').toString('base64')}` });
    expect(wrong.status).toBe(401);
    const ok = await get(path, {
      authorization: `Basic ${Buffer.from('axis:pw-canary-77').toString('base64')}`,
    });
    expect(ok.status).toBe(200);
    expect(sb.log.map((e) => e.auth)).toEqual([undefined, 'Basic', 'Basic']);
    expect(JSON.stringify(sb.log)).not.toContain(Buffer.from('axis:pw-canary-77').toString('base64'));
  });

  it('start/stop: a recording in progress cannot be retrieved; SIP/410-12FA7B means extension 410', async () => {
    sb = await startNoojeeSandbox({ recordings: 0 });
    const tag = encodeURIComponent('A&B +1');
    expect((await get(`${SERVICE}?method=start&extenOrUniqueId=SIP%2F410-12FA7B&tag=${tag}`)).status).toBe(
      200,
    );
    expect(sb.catalogue.at(-1)).toMatchObject({ exten: '410', tag: 'A&B +1', state: 'recording' });
    const again = await get(`${SERVICE}?method=start&extenOrUniqueId=410&tag=x`);
    expect([again.status, again.text.includes('already in progress')]).toEqual([500, true]);
    const busy = await get(`${SERVICE}?method=retrieve&tag=${tag}&username=fred`);
    expect(busy.status).toBe(500);
    expect(busy.text).toContain('still in progress');
    expect((await get(`${SERVICE}?method=stop&extenOrUniqueId=410`)).status).toBe(200);
    expect((await get(`${SERVICE}?method=stop&extenOrUniqueId=410`)).status).toBe(500);
    const done = await get(`${SERVICE}?method=retrieve&tag=${tag}&username=fred`);
    expect(done.status).toBe(200);
    expect(sb.stats.inProgressRefusals).toBe(1);
  });

  it('lists the legs that ended in a PBX hour (POST, apiKey), both Start formats, one request per window', async () => {
    const tz = 'Australia/Sydney';
    const hourStart = Date.UTC(2024, 0, 10, 2, 0, 0); // 13:00 AEDT on 2024-01-10
    sb = await startNoojeeSandbox({
      recordings: 0,
      tz,
      listing: { limit: 1, windowMs: 400 },
      specs: [
        { uniqueId: '1704852000.1', start: hourStart - 60_000, durationS: 120, startFormat: 'java' }, // ends 13:01
        { uniqueId: '1704852000.2', start: hourStart + 600_000, durationS: 30, startFormat: 'iso' },
        { uniqueId: '1704852000.3', start: hourStart + 3_590_000, durationS: 30 }, // ends 14:00:20
        { uniqueId: '1704852000.4', start: hourStart + 60_000, durationS: 30, state: 'recording' },
      ],
    });
    const path = (key: string) =>
      `/njadmin/rest/RecordingAPI/retrieveMetaDataByHour?apiKey=${key}&date=2024/01/10&hour=13`;
    expect((await get(path(sb.apiKey))).status).toBe(405);
    expect((await get(path('wrong-key'), {}, 'POST')).status).toBe(401);
    const ok = await get(path(sb.apiKey), {}, 'POST');
    expect(ok.status).toBe(200);
    const legs = JSON.parse(ok.text) as Record<string, string>[];
    expect(legs.map((l) => l.UniqueId)).toEqual(['1704852000.1', '1704852000.2']);
    expect(legs[0]!.Start).toBe('Wed Jan 10 12:59:00 AEDT 2024');
    expect(legs[1]!.Start).toBe('2024-01-10 13:10:00.0');
    expect(Object.keys(legs[0]!).sort()).toEqual([
      'CallRecordId',
      'DID',
      'Destination',
      'Direction',
      'Duration',
      'Leg',
      'Source',
      'Start',
      'Tag',
      'UniqueId',
      'Username',
      'callend',
    ]);
    const limited = await get(path(sb.apiKey), {}, 'POST');
    expect([limited.status, Number(limited.headers['retry-after']) >= 1]).toEqual([429, true]);
    expect(sb.stats.rateLimitViolations).toBe(1);
    expect(JSON.stringify(sb.log)).not.toContain(sb.apiKey);
    expect(sb.log.filter((e) => e.op === 'listing').every((e) => e.query.apiKey === '***')).toBe(true);
  });

  it('sends hostile bodies (invalid character, bad padding) and cuts bodies through the fault injector', async () => {
    sb = await startNoojeeSandbox({
      recordings: 0,
      specs: [
        { uniqueId: '1.1', style: 'axis2', bytes: 100_000, hostile: 'invalid-char' },
        { uniqueId: '1.2', style: 'bare', bytes: 100_000, hostile: 'bad-padding' },
        { uniqueId: '1.3', style: 'axis1', bytes: 100_000 },
      ],
    });
    const r1 = await get(`${SERVICE}?method=retrieveByUniqueId&uniqueId=1.1&username=fred`);
    expect(payloadOf(r1.text)).toMatch(/\*/);
    const r2 = await get(`${SERVICE}?method=retrieveByUniqueId&uniqueId=1.2&username=fred`);
    expect(r2.text.slice(0, -4)).toMatch(/=[A-Za-z0-9+/]/);
    sb.setFaults({ truncate: { rate: 1, keepBytes: 5000 } });
    const cut = await get(`${SERVICE}?method=retrieveByUniqueId&uniqueId=1.3&username=fred`);
    expect([cut.status, cut.bytes, Number(cut.headers['content-length'])]).toEqual([200, 5000, 5000]);
    const whole = await get(`${SERVICE}?method=retrieveByUniqueId&uniqueId=1.3&username=fred`);
    expect(whole.text.endsWith('</soapenv:Envelope>')).toBe(true);
  });
});
