import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Manifest, manifestPath, replayManifest } from '../../src/core/manifest.js';
import { tempDir } from '../helpers/cli.js';

const rec = (key: string, status: 'done' | 'failed' = 'done') =>
  JSON.stringify({
    key,
    status,
    files: status === 'done' ? [{ path: `${key}.wav`, bytes: 1, sha256: 'x', contentType: 'audio/wav' }] : [],
    attempts: 1,
    at: '2026-11-22T00:00:00Z',
  });

describe('manifest replay', () => {
  it('lets the last line of a key win', () => {
    const r = replayManifest(`${rec('a', 'failed')}\n${rec('b')}\n${rec('a')}\n`);
    expect(r.records.get('a')?.status).toBe('done');
    expect(r.records.size).toBe(2);
    expect(r.torn).toBe(false);
  });

  it('ignores a torn last line (a crash mid-write)', () => {
    const text = `${rec('a')}\n${rec('b').slice(0, 25)}`;
    const r = replayManifest(text);
    expect([...r.records.keys()]).toEqual(['a']);
    expect(r.torn).toBe(true);
    expect(r.goodBytes).toBe(Buffer.byteLength(`${rec('a')}\n`));
    expect(r.badLines).toEqual([]);
  });

  it('reports unreadable lines in the middle and keeps the rest', () => {
    const r = replayManifest(`${rec('a')}\n{nonsense\n{"key":"z"}\n${rec('b')}\n`);
    expect([...r.records.keys()]).toEqual(['a', 'b']);
    expect(r.badLines).toEqual([2, 3]);
  });

  it('open() cuts off a torn tail so the next append starts on a fresh line', async () => {
    const out = await tempDir();
    await mkdir(join(out, '.recpull'));
    await writeFile(manifestPath(out), `${rec('a')}\n${rec('b').slice(0, 30)}`);
    const m = await Manifest.open(out);
    expect(m.get('b')).toBeUndefined();
    await m.append(JSON.parse(rec('c')));
    await m.close();
    const lines = (await readFile(manifestPath(out), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).key)).toEqual(['a', 'c']);
  });

  it('appends survive a reopen', async () => {
    const out = await tempDir();
    const m = await Manifest.open(out);
    await Promise.all([m.append(JSON.parse(rec('x'))), m.append(JSON.parse(rec('y', 'failed')))]);
    await m.close();
    await appendFile(manifestPath(out), '');
    const again = await Manifest.open(out);
    expect(again.get('x')?.status).toBe('done');
    expect(again.get('y')?.status).toBe('failed');
    await again.close();
  });
});
