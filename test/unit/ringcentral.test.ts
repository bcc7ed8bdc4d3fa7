/**
 * The pure parts of the RingCentral vendor: call-session event grouping, error bodies, Content-Range,
 * call-log record → template fields, and the zoned dates of --from/--to.
 * Fixtures: test/fixtures/ringcentral-csn-seed-event.json is the example envelope of
 * seeds/ringcentral-recording-from-call-session-event.txt; ringcentral-csn-docs-event.json is
 * reference/ringcentral/docs/code-samples_voice_telephony-session-event.json.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDateTime, zonedParts } from '../../src/core/dates.js';
import { refreshMargin } from '../../src/vendors/ringcentral/auth.js';
import { parseContentRange } from '../../src/vendors/ringcentral/content.js';
import { parseErrorBody } from '../../src/vendors/ringcentral/errors.js';
import { CallSessions, type CsnBody, eventBody } from '../../src/vendors/ringcentral/events.js';
import { accountIdOf, metaFromRecord, recordingsOf } from '../../src/vendors/ringcentral/meta.js';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

/** The seed's envelope with its party's status replaced. */
function seedWith(code: string, sequence: number): Record<string, unknown> {
  const env = structuredClone(fixture('ringcentral-csn-seed-event.json')) as { body: CsnBody };
  env.body.sequence = sequence;
  env.body.parties![0]!.status = { code };
  return env as unknown as Record<string, unknown>;
}

describe('call-session events', () => {
  it('reads the seed envelope and the docs sample, envelopes or bare bodies', () => {
    const seed = eventBody(fixture('ringcentral-csn-seed-event.json'));
    expect(seed?.accountId).toBe('11111111');
    expect(seed?.body.parties?.[0]?.recordings).toEqual([{ id: '44444444', active: false }]);
    const bare = eventBody(fixture('ringcentral-csn-seed-event.json').body as Record<string, unknown>);
    expect(bare?.body.telephonySessionId).toBe(seed?.body.telephonySessionId);
    expect(bare?.accountId).toBeUndefined();
    expect(eventBody({ hello: 'world' })).toBeUndefined();
  });

  it('makes a recording ready once its session ended, whatever the order the events came in', () => {
    const sessions = new CallSessions();
    // The seed's event (Answered, with the recording id) is not enough: the call is still going on.
    const answered = eventBody(seedWith('Answered', 7))!;
    expect(sessions.add(answered.body, 1, answered.accountId)).toEqual([]);
    // A later Disconnected event arrives; then an earlier (sequence 5) Answered one, which must not revive it.
    const disconnected = eventBody(seedWith('Disconnected', 8))!;
    const ready = sessions.add(disconnected.body, 2, disconnected.accountId);
    expect(ready.map((r) => [r.recordingId, r.sessionId, r.accountId])).toEqual([
      ['44444444', '1234567890', '11111111'],
    ]);
    expect(sessions.add(eventBody(seedWith('Answered', 5))!.body, 3)).toEqual([]);
    expect(sessions.unfinished()).toEqual([]);
  });

  it('waits for every party of a multi-party session, and collects every party’s recordings', () => {
    const sessions = new CallSessions();
    const party = (id: string, code: string, rec: string) => ({
      id,
      accountId: '400131234008',
      extensionId: id,
      direction: 'Inbound',
      status: { code },
      recordings: [{ id: rec, active: true }],
    });
    const body = (sequence: number, a: string, b: string): CsnBody => ({
      sequence,
      sessionId: '77',
      telephonySessionId: 's-multi',
      parties: [party('pa', a, 'R1'), party('pb', b, 'R2')],
    });
    // Out of order: the last event first would end the session early without its sequence numbers.
    expect(sessions.add(body(2, 'Disconnected', 'Answered'), 1)).toEqual([]);
    expect(sessions.add(body(1, 'Answered', 'Answered'), 2)).toEqual([]);
    const ready = sessions.add(body(3, 'Disconnected', 'Gone'), 3);
    expect(ready.map((r) => r.recordingId)).toEqual(['R1', 'R2']);
    expect(sessions.add(body(4, 'Disconnected', 'Gone'), 4)).toEqual([]); // each recording once
  });

  it('reports sessions with recordings that had not ended when the input did; ignores ones without recordings', () => {
    const sessions = new CallSessions();
    const docs = eventBody(fixture('ringcentral-csn-docs-event.json'))!;
    expect(sessions.add(docs.body, 1)).toEqual([]);
    sessions.add(eventBody(seedWith('Answered', 7))!.body, 2);
    expect(sessions.unfinished()).toEqual([
      {
        session: '1234567890ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
        line: 2,
        statuses: ['Answered'],
        recordingIds: ['44444444'],
      },
    ]);
  });
});

describe('RingCentral answers', () => {
  it('takes the code of errors[0] over the top-level legacy code, and reads OAuth errors', () => {
    expect(
      parseErrorBody(
        '{"errorCode":"TokenExpired","message":"Access token expired","errors":[{"errorCode":"OAU-128","message":"Access token expired"}]}',
      ),
    ).toEqual({ errorCode: 'OAU-128', message: 'Access token expired', legacyCode: 'TokenExpired' });
    expect(
      parseErrorBody(
        '{"error":"invalid_grant","error_description":"Invalid resource owner credentials","errors":[{"errorCode":"OAU-140","message":"Invalid resource owner credentials"}]}',
      ),
    ).toEqual({ errorCode: 'OAU-140', message: 'Invalid resource owner credentials' });
    expect(
      parseErrorBody(
        readFileSync(new URL('../fixtures/ringcentral-csn-docs-event.json', import.meta.url), 'utf8'),
      ),
    ).toEqual({});
    expect(parseErrorBody('<html>')).toEqual({});
  });

  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 1000-4999/5000')).toEqual({ start: 1000, end: 4999 });
    expect(parseContentRange('bytes */5000')).toBeUndefined();
    expect(parseContentRange(undefined)).toBeUndefined();
  });

  it('refreshes a token a fifth of its lifetime before it expires, at most a minute', () => {
    expect(refreshMargin(3_600_000)).toBe(60_000);
    expect(refreshMargin(2000)).toBe(400);
  });

  it('turns the seed’s call-log record into template fields in the chosen zone', () => {
    const record = {
      uri: 'https://platform.ringcentral.com/restapi/v1.0/account/11111111/extension/22222222/call-log/1234567890ABCDEFGabcdefgh?view=Simple',
      id: '1234567890ABCDEFGabcdefgh',
      sessionId: '1234567890',
      startTime: '2019-03-08T22:30:29.505Z',
      duration: 35,
      direction: 'Inbound',
      to: { phoneNumber: '+16505550100', name: 'Jane Doe' },
      from: { phoneNumber: '+14155550100', name: 'John Smith' },
      recording: { id: '44444444', type: 'OnDemand', contentUri: 'https://media.ringcentral.com/x' },
      extension: { id: 22222222 },
    };
    expect(accountIdOf(record.uri)).toBe('11111111');
    const [recording] = recordingsOf(record);
    expect(metaFromRecord(record, recording!, '11111111', 'America/Los_Angeles')).toMatchObject({
      recordingId: '44444444',
      date: '2019-03-08',
      time: '143029',
      year: '2019',
      direction: 'Inbound',
      from: '+14155550100',
      to: '+16505550100',
      extensionId: '22222222',
    });
  });
});

describe('dates of --from/--to', () => {
  it('reads a bare date as midnight in the zone, a wall time in the zone, and explicit offsets as given', () => {
    expect(parseDateTime('2024-06-01', 'Europe/Paris').toISOString()).toBe('2024-05-31T22:00:00.000Z');
    expect(parseDateTime('2024-01-15T08:30', 'Europe/Paris').toISOString()).toBe('2024-01-15T07:30:00.000Z');
    expect(parseDateTime('2024-06-01 08:30:15.250', 'UTC').toISOString()).toBe('2024-06-01T08:30:15.250Z');
    expect(parseDateTime('2024-06-01T08:30Z', 'Asia/Tokyo').toISOString()).toBe('2024-06-01T08:30:00.000Z');
    expect(parseDateTime('2024-06-01T08:30-05:00', 'UTC').toISOString()).toBe('2024-06-01T13:30:00.000Z');
    // The day DST starts in New York: 2024-03-10 03:30 local is 07:30 UTC.
    expect(parseDateTime('2024-03-10T03:30', 'America/New_York').toISOString()).toBe(
      '2024-03-10T07:30:00.000Z',
    );
    expect(zonedParts(new Date('2024-05-31T22:00:00Z'), 'Europe/Paris')).toMatchObject({
      day: '01',
      hour: '00',
    });
  });

  it('refuses what is not a date', () => {
    expect(() => parseDateTime('yesterday', 'UTC', '--from')).toThrow(/--from: expected a date/);
    expect(() => parseDateTime('2024-02-30', 'UTC', '--to')).toThrow(/not a valid date/);
  });
});
