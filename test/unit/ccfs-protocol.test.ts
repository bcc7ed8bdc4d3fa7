/**
 * CC-FS pure helpers: queryBillData windows in the tenant's zone, keys and template fields, the recording
 * index reader (bad lines are input errors, extra columns ignored), request bodies and name checks.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  downloadRecordBody,
  requestBody,
  checkBillFileName,
  ccfsKey,
} from '../../src/vendors/cc-fs/protocol.js';
import { type RecordIndexItem, readRecordIndex } from '../../src/vendors/cc-fs/record-index.js';
import { ccfsRef, refOfIndexRow } from '../../src/vendors/cc-fs/refs.js';
import { billWindows } from '../../src/vendors/cc-fs/windows.js';

describe('billWindows', () => {
  it('splits 7 days into windows of at most 3 days, in the tenant zone, end to start', () => {
    const w = billWindows(
      new Date('2024-06-01T00:00:00Z'),
      new Date('2024-06-08T00:00:00Z'),
      'Asia/Shanghai',
    );
    expect(w).toEqual([
      { beginTime: '2024-06-01 08:00:00', endTime: '2024-06-04 08:00:00' },
      { beginTime: '2024-06-04 08:00:00', endTime: '2024-06-07 08:00:00' },
      { beginTime: '2024-06-07 08:00:00', endTime: '2024-06-08 08:00:00' },
    ]);
  });
  it('shortens a window whose wall times span more than 3 days across a DST change', () => {
    const w = billWindows(
      new Date('2024-03-29T23:00:00Z'),
      new Date('2024-04-03T00:00:00Z'),
      'Europe/Berlin',
    );
    const span = (x: { beginTime: string; endTime: string }) =>
      Date.parse(`${x.endTime.replace(' ', 'T')}Z`) - Date.parse(`${x.beginTime.replace(' ', 'T')}Z`);
    expect(w.every((x) => span(x) <= 3 * 86400_000)).toBe(true);
    // 72 h from midnight CET end at 01:00 CEST: 73 wall hours, so the window ends an hour earlier.
    expect(w[0]).toEqual({ beginTime: '2024-03-30 00:00:00', endTime: '2024-04-02 00:00:00' });
    expect(w[1]?.beginTime).toBe('2024-04-02 00:00:00');
    expect(() => billWindows(new Date(2), new Date(1), 'UTC')).toThrow(
      expect.objectContaining({ code: 'E_USAGE' }),
    );
  });
});

describe('requests, keys and fields', () => {
  it('builds the documented body with ccId as a string', () => {
    const body = requestBody(downloadRecordBody({ kind: 'call', callId: '1637742300-27', ccId: '1' }));
    expect(body.toString()).toBe(
      '{"request":{"version":"2.0"},"msgBody":{"callId":"1637742300-27","ccId":"1"}}',
    );
    expect(() => checkBillFileName('a/b.zip')).toThrow(expect.objectContaining({ code: 'E_INPUT' }));
  });
  it('keys and dates from a file name or a call id', () => {
    const f = ccfsRef({ kind: 'file', fileName: 'Y:/6/0/20161025/20011/1902050.V3', ccId: '2' }, 'UTC');
    expect(f.key).toBe('cc-fs:2:file:Y:/6/0/20161025/20011/1902050.V3');
    expect(f.meta).toMatchObject({ name: '1902050', date: '2016-10-25', ccId: '2' });
    const c = ccfsRef({ kind: 'call', callId: '1637742300-27', ccId: '1' }, 'Asia/Shanghai');
    expect(c.key).toBe(ccfsKey({ kind: 'call', callId: '1637742300-27', ccId: '1' }));
    expect(c.meta).toMatchObject({ name: '1637742300-27', callId: '1637742300-27', date: '2021-11-24' });
    expect(ccfsRef({ kind: 'call', callId: 'abc', ccId: '1' }, 'UTC').meta.date).toBe('undated');
  });
});

describe('readRecordIndex', () => {
  it('reads lines without a header, flags short lines and bad file names, ignores extra columns', async () => {
    const good =
      'dev,acc,1,1001,1637742300-27,13800000001,60001,2021-11-24 16:25:00,2021-11-24 16:26:00,/10/1/record/x.wav,0,,X:\\17\\0\\20180903\\15470\\2043295.V3,100,0,5,1,1,extra';
    const text = `\uFEFF${good}\r\nonly,three,cols\r\n\r\n${good.replace('2043295.V3', 'bad name.V3')}\r\n`;
    const items: RecordIndexItem[] = [];
    for await (const i of readRecordIndex(Readable.from([text]))) items.push(i);
    expect(items.map((i) => i.line)).toEqual([1, 2, 4]);
    const first = items[0] as { row: Parameters<typeof refOfIndexRow>[0] };
    const ref = refOfIndexRow(first.row, 'UTC');
    expect(ref.key).toBe('cc-fs:1:file:X:/17/0/20180903/15470/2043295.V3');
    expect(ref.meta).toMatchObject({
      callId: '1637742300-27',
      agentId: '1001',
      callerNo: '13800000001',
      date: '2021-11-24',
    });
    expect(items[1]).toMatchObject({ error: { code: 'E_INPUT' } });
    expect(() => refOfIndexRow((items[2] as typeof first).row, 'UTC')).toThrow(
      expect.objectContaining({ code: 'E_INPUT' }),
    );
  });
});
