/**
 * Narrow HTTP edge cases of the TIM Plus client, with nock (the emulator covers the protocol end to end):
 * odd answers to the token request, and no credentials ever sent to the Echo host.
 */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/core/http.js';
import { TimplusClient } from '../../src/vendors/timplus/client.js';

const BASE = 'http://tim.example.test';
const ID = { datasource: '\\3\\', voicelocation: '4', voicefilename: 'abc def' };
const signal = new AbortController().signal;

let http: HttpClient;
const client = () =>
  new TimplusClient(http, { url: BASE, username: 'web', password: 'pw-canary-123', profile: 'p' });

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterAll(() => nock.enableNetConnect());
afterEach(async () => {
  nock.cleanAll();
  await http?.close();
});

describe('TIM Plus client edge cases', () => {
  it('URL-encodes the opaque values and sends cmd, datasource, recordingid, voicelocation and salt', async () => {
    http = new HttpClient();
    let query: Record<string, string> = {};
    nock(BASE)
      .get('/voice.wav')
      .query(true)
      .reply(401, '', { 'www-authenticate': 'Basic realm="TIM"' })
      .get('/voice.wav')
      .query((q) => {
        query = q as Record<string, string>;
        return true;
      })
      .basicAuth({ user: 'web', pass: 'pw-canary-123' })
      .reply(200, 'http://echo.example.test/t/1\r\n');
    expect(await client().tokenUrl(ID, signal)).toBe('http://echo.example.test/t/1');
    expect(query).toMatchObject({
      cmd: 'getvmsg',
      datasource: '\\3\\',
      recordingid: 'abc def',
      voicelocation: '4',
    });
    expect(query.salt).toMatch(/^\d{18,}$/);
  });

  it('resolves a token given as a path against the web server', async () => {
    http = new HttpClient();
    nock(BASE).get('/voice.wav').query(true).reply(200, '/echo/xyz');
    expect(await client().tokenUrl(ID, signal)).toBe(`${BASE}/echo/xyz`);
  });

  it('403 is a permission error (exit 3), an HTML page instead of a token is a protocol error', async () => {
    http = new HttpClient();
    nock(BASE).get('/voice.wav').query(true).reply(403, 'Forbidden');
    await expect(client().tokenUrl(ID, signal)).rejects.toMatchObject({ code: 'E_PERMISSION' });
    nock(BASE).get('/voice.wav').query(true).reply(200, '<html><body>Login</body></html>');
    await expect(client().tokenUrl(ID, signal)).rejects.toMatchObject({
      code: 'E_PROTOCOL',
      retryable: false,
    });
  });

  it('a 401 with no challenge at all is an authentication error that does not leak the password', async () => {
    http = new HttpClient();
    nock(BASE).get('/voice.wav').query(true).reply(401, 'no');
    const err = await client()
      .tokenUrl(ID, signal)
      .catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'E_AUTH' });
    expect(String((err as Error).message)).not.toContain('pw-canary-123');
  });

  it('never sends credentials to the Echo host, and a refused token is retryable E_TOKEN_EXPIRED', async () => {
    http = new HttpClient();
    const echo = nock('http://echo.example.test', { badheaders: ['authorization', 'cookie'] })
      .get('/t/1')
      .reply(410, 'gone');
    await expect(client().download('http://echo.example.test/t/1', signal)).rejects.toMatchObject({
      code: 'E_TOKEN_EXPIRED',
      retryable: true,
    });
    expect(echo.isDone()).toBe(true);
  });
});
