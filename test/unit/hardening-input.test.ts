/**
 * Issue 7 §3/§5: input lists. A folder as `-i` is a clear E_INPUT; an over-long line or a binary line is
 * one unreadable row naming its line (never a huge value); values keep every character but ASCII space and
 * tab at their ends (NBSP, U+2028 are part of an id).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { field, type InputRow, MAX_LINE_BYTES, openInput, readInputRows } from '../../src/core/input.js';

async function rows(chunks: (string | Buffer)[]): Promise<InputRow[]> {
  const out: InputRow[] = [];
  for await (const r of readInputRows(Readable.from(chunks))) out.push(r);
  return out;
}

function errorOf(r: InputRow | undefined): Error & { code: string } {
  expect(r && 'error' in r).toBe(true);
  return (r as { error: Error & { code: string } }).error;
}

describe('input hardening (issue 7)', () => {
  it('refuses a folder named by -i with E_INPUT', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'recpull-hin-'));
    try {
      const err = await openInput(dir).then(
        () => undefined,
        (e: unknown) => e as Error & { code: string },
      );
      expect(err?.code).toBe('E_INPUT');
      expect(err?.message).toContain(dir);
      expect(err?.message).toMatch(/folder/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails a CSV line over 1 MiB as one unreadable row naming it, and goes on', async () => {
    expect(MAX_LINE_BYTES).toBe(1024 * 1024);
    const huge = `1,${'x'.repeat(MAX_LINE_BYTES + 10)}\n`;
    // the huge line arrives in pieces, as from a pipe
    const r = await rows(['a,b\n1,2\n', huge.slice(0, 300_000), huge.slice(300_000), '3,4\n']);
    expect(r).toHaveLength(3);
    expect(r[0]).toEqual({ line: 2, fields: { a: '1', b: '2' } });
    const err = errorOf(r[1]);
    expect(r[1]?.line).toBe(3);
    expect(err.code).toBe('E_INPUT');
    expect(err.message).toMatch(/^line 3: .*longer than/);
    expect(err.message.length).toBeLessThan(300);
    expect(r[2]).toEqual({ line: 4, fields: { a: '3', b: '4' } });
  });

  it('fails an NDJSON line over 1 MiB the same way', async () => {
    const huge = `{"id":"${'y'.repeat(MAX_LINE_BYTES)}"}\n`;
    const r = await rows(['{"id":"a"}\n', huge, '{"id":"b"}\n']);
    expect(r.map((x) => x.line)).toEqual([1, 2, 3]);
    expect(errorOf(r[1]).message).toMatch(/^line 2: .*longer than/);
    expect(r[2]).toEqual({ line: 3, fields: { id: 'b' } });
  });

  it('names the line of NUL bytes or invalid UTF-8', async () => {
    const r = await rows([
      Buffer.from('id,name\na,b\n'),
      Buffer.from([0x63, 0x00, 0x64, 0x2c, 0x65, 0x0a]), // c\0d,e
      Buffer.from([0xff, 0xfe, 0x2c, 0x66, 0x0a]), // invalid UTF-8
      Buffer.from('g,h\n'),
    ]);
    expect(r.map((x) => x.line)).toEqual([2, 3, 4, 5]);
    expect(errorOf(r[1]).message).toMatch(/^line 3: .*(NUL|binary)/);
    expect(errorOf(r[2]).message).toMatch(/^line 4: .*UTF-8/);
    expect(r[3]).toEqual({ line: 5, fields: { id: 'g', name: 'h' } });
    const nd = await rows([
      Buffer.from('{"id":"a"}\n{"id":"\u0000"}\n'),
      Buffer.from([0x7b, 0xc3, 0x28, 0x0a]),
    ]);
    expect(nd[0]).toEqual({ line: 1, fields: { id: 'a' } });
    expect(errorOf(nd[1]).message).toMatch(/^line 2: .*(NUL|binary)/);
    expect(errorOf(nd[2]).message).toMatch(/^line 3: .*UTF-8/);
  });

  it('refuses a header naming a column twice, and a UTF-16 list, each with one error and no row read', async () => {
    for (const header of ['id,name,ID', 'id\tname\tname']) {
      const sep = header.includes('\t') ? '\t' : ',';
      const r = await rows([`${header}\n`, `a${sep}b${sep}c\n`, `d${sep}e${sep}f\n`]);
      expect(r).toHaveLength(1);
      expect(r[0]?.line).toBe(1);
      expect(errorOf(r[0]).code).toBe('E_INPUT');
      expect(errorOf(r[0]).message).toMatch(/^line 1: the header names the column "(id|name)" twice/);
    }
    // empty names (a trailing comma) are not a repeat
    expect(await rows(['id,name,,\n', 'a,b,,\n'])).toEqual([
      { line: 2, fields: { id: 'a', name: 'b', '': '' } },
    ]);
    for (const encoding of ['utf16le', 'utf16be'] as const) {
      const text = Buffer.from('\ufeffid,name\na,b\n', 'utf16le');
      if (encoding === 'utf16be') text.swap16();
      const r = await rows([text]);
      expect(r).toHaveLength(1);
      expect(errorOf(r[0]).message).toMatch(/^line 1: the input list is UTF-16 .*save it as UTF-8/);
    }
    // the mark split over two chunks (a pipe), and UTF-32's marks
    const le = Buffer.from('\ufeffid,name\na,b\n', 'utf16le');
    expect(errorOf((await rows([le.subarray(0, 1), le.subarray(1)]))[0]).message).toMatch(/is UTF-16 text/);
    const utf32le = Buffer.from([0xff, 0xfe, 0, 0, 0x69, 0, 0, 0, 0x0a, 0, 0, 0]);
    const utf32be = Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x69, 0, 0, 0, 0x0a]);
    for (const text of [utf32le, utf32be]) {
      const r = await rows([text.subarray(0, 3), text.subarray(3)]);
      expect(r).toHaveLength(1);
      expect(errorOf(r[0]).message).toMatch(/^line 1: the input list is UTF-32 text/);
    }
    // a UTF-8 byte-order mark is still fine
    expect(await rows([Buffer.from('\ufeffid,name\na,b\n')])).toEqual([
      { line: 2, fields: { id: 'a', name: 'b' } },
    ]);
  });

  it('reads the same rows whatever the chunking: whole-chunk decoding equals line-by-line', async () => {
    const bytes = Buffer.concat([
      Buffer.from('\uFEFFid,name\r\na,b\nc,"d\ne"\n'),
      Buffer.from([0x66, 0xff, 0x2c, 0x67, 0x0a]), // invalid UTF-8 between good lines
      Buffer.from('h,i\rj,k\n\n'),
      Buffer.from([0x6c, 0x00, 0x2c, 0x6d, 0x0a]), // a NUL
      Buffer.from('n,\u00e9\u2028\nlast,row'), // no final newline
    ]);
    const whole = await rows([bytes]);
    expect(whole.map((x) => ('error' in x ? `err@${x.line}` : `${x.line}:${String(x.fields.id)}`))).toEqual([
      '2:a',
      '3:c',
      'err@5',
      '6:h',
      '7:j',
      'err@9',
      '10:n',
      '11:last',
    ]);
    for (const size of [1, 2, 3, 5, 8, 13]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect(await rows(chunks)).toEqual(whole);
    }
  });

  it('trims only ASCII space and tab: NBSP and U+2028 are part of a value', async () => {
    const r = await rows(['id,other\n \u00a0abc\u2028\t,\u3000x \n']);
    expect(r).toEqual([{ line: 2, fields: { id: '\u00a0abc\u2028', other: '\u3000x' } }]);
    expect(field({ Id: ' \u00a0abc\u2028 ' }, 'id')).toBe('\u00a0abc\u2028');
    expect(field({ id: '\u00a0' }, 'id')).toBe('\u00a0');
    expect(field({ id: ' \t' }, 'id')).toBeUndefined();
    // quoted values keep everything; spaces around the quotes still go
    const q = await rows(['id\n  "\u00a0q "  \n']);
    expect(q).toEqual([{ line: 2, fields: { id: '\u00a0q ' } }]);
  });
});
