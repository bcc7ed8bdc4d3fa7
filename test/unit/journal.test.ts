import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PartJournal } from '../../src/core/journal.js';
import { makeWav } from '../../src/sandbox/catalogue.js';
import { tempDir } from '../helpers/cli.js';

describe('the .part journal', () => {
  it('removes left-over .part files and adopts whole files renamed just before a crash', async () => {
    const out = await tempDir();
    await mkdir(join(out, '.recpull'));
    await mkdir(join(out, 'a'));
    const whole = makeWav('w', 5000);
    await writeFile(join(out, 'a', 'partial.wav.part'), whole.subarray(0, 1000));
    await writeFile(join(out, 'a', 'renamed.wav'), whole);
    await writeFile(join(out, 'a', 'done.wav'), whole);
    await writeFile(join(out, 'a', 'broken.wav'), whole.subarray(0, 1000)); // not whole: never adopted
    const lines = [
      { key: 'k1', path: 'a/partial.wav' },
      { key: 'k2', path: 'a/renamed.wav' },
      { key: 'k3', path: 'a/done.wav' },
      { key: 'k4', path: 'a/broken.wav' },
      { key: 'evil', path: '../../outside.wav' },
    ];
    await writeFile(
      join(out, '.recpull', 'parts'),
      `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"key":"k5","pa`,
    );
    const journal = new PartJournal(out);
    const r = await journal.recover((key) => key === 'k3');
    expect(r.removed).toBe(1);
    expect(existsSync(join(out, 'a', 'partial.wav.part'))).toBe(false);
    expect(r.recovered).toHaveLength(1);
    expect(r.recovered[0]).toMatchObject({
      key: 'k2',
      file: { path: 'a/renamed.wav', bytes: 5000, contentType: 'audio/wav' },
    });
    expect(existsSync(join(out, 'a', 'broken.wav'))).toBe(true);
    expect(await readFile(join(out, '.recpull', 'parts'), 'utf8')).toBe('');
  });

  it('is a no-op without a journal', async () => {
    const out = await tempDir();
    await mkdir(join(out, '.recpull'));
    expect(await new PartJournal(out).recover(() => false)).toEqual({ removed: 0, recovered: [] });
  });
});
