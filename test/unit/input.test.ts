import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { field, type InputRow, readInputBatches, readInputRows } from '../../src/core/input.js';
import { inputRefs, scalarFields } from '../../src/core/input-refs.js';
import type { RecordingRef, RefItem } from '../../src/core/source.js';

async function rows(text: string | string[]): Promise<InputRow[]> {
  const out: InputRow[] = [];
  for await (const r of readInputRows(Readable.from(Array.isArray(text) ? text : [text]))) out.push(r);
  return out;
}

describe('input lists', () => {
  it('reads CSV with a header (names lower-cased), quoted values and line numbers', async () => {
    const r = await rows('DataSource,VoiceLocation,voicefilename,agent\n3,4,"a,b",Ann\n\\3\\,4,x,Bob\n');
    expect(r).toEqual([
      { line: 2, fields: { datasource: '3', voicelocation: '4', voicefilename: 'a,b', agent: 'Ann' } },
      { line: 3, fields: { datasource: '\\3\\', voicelocation: '4', voicefilename: 'x', agent: 'Bob' } },
    ]);
  });

  it('detects TSV and strips a BOM', async () => {
    const r = await rows('\uFEFFdatasource\tvoicelocation\tvoicefilename\n3\t4\tabc\n');
    expect(r).toEqual([{ line: 2, fields: { datasource: '3', voicelocation: '4', voicefilename: 'abc' } }]);
  });

  it('reports a bad row with its line number and goes on', async () => {
    const r = await rows('a,b,c\n1,2,3\n1,2\n4,5,6\n');
    expect(r).toHaveLength(3);
    expect(r[1]).toMatchObject({ line: 3, error: { code: 'E_INPUT' } });
    expect((r[1] as { error: Error }).error.message).toContain('expected 3 fields');
    expect((r[1] as { error: Error }).error.message).toMatch(/^line 3:/);
    expect(r[2]).toEqual({ line: 4, fields: { a: '4', b: '5', c: '6' } });
  });

  it('reads NDJSON, reporting lines that are not JSON objects', async () => {
    const r = await rows([
      '{"datasource":"3","voicefilename":"a"}\n',
      'nope\n\n',
      '[1]\n{"datasource":"4"}\n',
    ]);
    expect(r.map((x) => ('error' in x ? `err@${x.line}` : `ok@${x.line}`))).toEqual([
      'ok@1',
      'err@2',
      'err@4',
      'ok@5',
    ]);
  });

  it('yields the first rows before the stream ends', async () => {
    const stream = new Readable({ read() {} });
    stream.push('a,b\n1,2\n');
    const it = readInputRows(stream)[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toEqual({ line: 2, fields: { a: '1', b: '2' } });
    stream.push('3,4\n');
    stream.push(null);
    expect((await it.next()).value).toEqual({ line: 3, fields: { a: '3', b: '4' } });
    expect((await it.next()).done).toBe(true);
  });

  it.each([
    ['CSV', 'id,n\n', (i: number) => `k${i},${i}\n`],
    ['NDJSON', '', (i: number) => `{"id":"k${i}","n":"${i}"}\n`],
  ])(
    '%s in arrays: the same rows in order, at most 128 per array, one chunk at a time',
    async (_, head, line) => {
      const lines = Array.from({ length: 1000 }, (_, i) => (i === 500 ? 'x,\n' : line(i))).join('');
      const text = head + lines;
      const batches: InputRow[][] = [];
      for await (const b of readInputBatches(Readable.from([text.slice(0, 70), text.slice(70)])))
        batches.push(b);
      expect(batches.flat()).toEqual(await rows([text.slice(0, 70), text.slice(70)]));
      expect(batches.flat()).toHaveLength(1000);
      expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(128);
      expect(batches.every((b) => b.length > 0)).toBe(true);
      // the rows of the first 70 bytes come as their own array, before the rest is read
      const completeLines = text.slice(0, 70).split('\n').length - 1;
      expect(batches[0]?.at(-1)).toMatchObject({ line: completeLines });
    },
  );

  it('yields nothing for an empty input', async () => {
    expect(await rows('')).toEqual([]);
    expect(await rows('\n\n')).toEqual([]);
  });
});

describe('input lists: quoting', () => {
  it('keeps newlines inside quoted fields and numbers the record by its first line', async () => {
    const r = await rows('a,b\n"x\ny",2\n3,4\n');
    expect(r).toEqual([
      { line: 2, fields: { a: 'x\ny', b: '2' } },
      { line: 4, fields: { a: '3', b: '4' } },
    ]);
  });

  it('reports a quote that is never closed', async () => {
    const r = await rows('a,b\n1,2\n"open,3\n');
    expect(r[1]).toMatchObject({ line: 3, error: { code: 'E_INPUT' } });
  });
});

describe('input refs (src/core/input-refs.ts)', () => {
  it('turns rows into refs in arrays, unreadable rows into row errors, and keeps scalar fields only', async () => {
    const text = 'id,n\nk1,1\n"unclosed\nk2,2\n';
    const ndjson = '{"id":"k3","n":3,"deep":{"x":1},"list":[1],"ok":true,"none":null}\n';
    const got: RefItem[][] = [];
    for (const input of [text, ndjson])
      for await (const items of inputRefs(Readable.from([input]), (row) => ({
        key: `t:${String(row.fields.id)}`,
        vendor: 't',
        meta: scalarFields(row.fields),
        line: row.line,
      })))
        got.push(items);
    expect(got.every((a) => a.length > 0)).toBe(true);
    const flat = got.flat();
    expect(flat.map((i) => ('inputError' in i ? `error@${i.line}` : i.key))).toEqual([
      't:k1',
      'error@3',
      't:k3',
    ]);
    expect((flat[2] as RecordingRef).meta).toEqual({ id: 'k3', n: 3, ok: true, none: null });
  });
});

describe('field()', () => {
  it('matches names case-insensitively, the first non-blank in column order, whatever their length', () => {
    expect(field({ VoiceFileName: ' x ' }, 'voicefilename')).toBe('x');
    expect(field({ a: '1', voicefilename: '', VOICEFILENAME: 'y' }, 'voicefilename')).toBe('y');
    expect(field({ recordingid: 'r', voicefilename: 'v' }, 'voicefilename', 'recordingid')).toBe('v');
    expect(field({ recordingid: 'r' }, 'voicefilename', 'recordingId')).toBe('r');
    expect(field({ '\u212Aey': 'kelvin' }, 'key')).toBe('kelvin'); // U+212A lower-cases to "k"
    expect(field({ '\u0130d': 'dotted' }, 'id')).toBeUndefined(); // "İd" lower-cases to "i̇d", not "id"
    expect(field({ ids: 'no', i: 'no' }, 'id')).toBeUndefined();
  });

  it('reads numbers and booleans as text, and an object or array (NDJSON) as no value', () => {
    expect(field({ id: 42 }, 'id')).toBe('42');
    expect(field({ id: true }, 'id')).toBe('true');
    expect(field({ id: { a: 1 } }, 'id')).toBeUndefined();
    expect(field({ id: [1, 2] }, 'id')).toBeUndefined();
    expect(field({ id: { a: 1 }, ID: 'next' }, 'id')).toBe('next'); // the next column of that name
  });
});
