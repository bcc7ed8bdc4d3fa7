/**
 * Safe zip extraction (src/formats/zip.ts) against well-formed zips (yazl) and hostile ones written by hand
 * (src/sandbox/cc-fs/zips.ts): nothing may land outside the staging folder, nothing partial may be left.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudioValidator } from '../../src/formats/audio.js';
import { commitStaged, extractZip, fileSink, safeEntryName } from '../../src/formats/zip.js';
import { makeWav } from '../../src/sandbox/catalogue.js';
import { HOSTILE_KINDS, hostileZip, rawZip, streamZip } from '../../src/sandbox/cc-fs/zips.js';
import { rmSync } from 'node:fs';

let root: string;
let n = 0;
const wav = (id: string, bytes = 4000) => makeWav(id, bytes);
const audioSink = fileSink(() => new AudioValidator());

/** A fresh case folder: `case/out/` holds the staging folder, `case/` must stay empty besides it and the zip. */
function scratch(zip: Buffer): { dir: string; zipPath: string; staging: string } {
  const dir = join(root, `case-${++n}`);
  mkdirSync(join(dir, 'out'), { recursive: true });
  const zipPath = join(dir, 'body.zip');
  writeFileSync(zipPath, zip);
  return { dir, zipPath, staging: join(dir, 'out', '.staging-1') };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'recpull-zip-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('extractZip', () => {
  it('extracts a yazl zip of WAVs byte for byte, hashing and validating each entry', async () => {
    const ids = ['a', 'b', 'c'];
    const zip = await buffer(
      streamZip(
        ids.map((id, i) => ({ name: i === 2 ? `sub/${id}.wav` : `${id}.wav`, chunks: () => [wav(id)] })),
      ),
    );
    const { zipPath, staging } = scratch(zip);
    const files = await extractZip(zipPath, staging, { sink: audioSink });
    expect(files.map((f) => f.path)).toEqual(['a.wav', 'b.wav', 'sub/c.wav']);
    for (const [i, f] of files.entries()) {
      const expected = wav(ids[i] as string);
      expect(readFileSync(join(staging, f.path)).equals(expected)).toBe(true);
      expect(f).toMatchObject({
        bytes: expected.length,
        sha256: createHash('sha256').update(expected).digest('hex'),
        contentType: 'audio/wav',
      });
    }
  });

  it.each(HOSTILE_KINDS.map((k) => [k]))(
    'refuses a zip with a %s entry, leaving nothing behind',
    async (kind) => {
      const { dir, zipPath, staging } = scratch(hostileZip(kind, wav('good')));
      const err = await extractZip(zipPath, staging, { sink: audioSink }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_BAD_AUDIO', retryable: false });
      expect((err as Error).message).toMatch(/^unsafe zip: /);
      expect(existsSync(staging)).toBe(false);
      expect(readdirSync(dir).sort()).toEqual(['body.zip', 'out']);
      expect(readdirSync(join(dir, 'out'))).toEqual([]);
    },
  );

  it('says why: the entry name and the rule it breaks', async () => {
    const why = async (kind: (typeof HOSTILE_KINDS)[number]) => {
      const { zipPath, staging } = scratch(hostileZip(kind, wav('good')));
      return ((await extractZip(zipPath, staging).catch((e: unknown) => e)) as Error).message;
    };
    expect(await why('dotdot')).toContain('"../x.wav" climbs out');
    expect(await why('symlink')).toContain('symbolic link');
    expect(await why('duplicate')).toContain('appears twice');
    expect(await why('bomb')).toMatch(/expands \d+ bytes to 268435456/);
    expect(await why('lying-size')).toContain('more bytes than the 100 it declares');
  });

  it('refuses more entries, or more bytes in all, than the limits allow', async () => {
    const three = rawZip(['a', 'b', 'c'].map((id) => ({ name: `${id}.wav`, data: wav(id) })));
    let c = scratch(three);
    await expect(extractZip(c.zipPath, c.staging, { limits: { maxEntries: 2 } })).rejects.toThrow(
      /3 entries, more than the limit of 2/,
    );
    c = scratch(three);
    await expect(extractZip(c.zipPath, c.staging, { limits: { maxTotalBytes: 10_000 } })).rejects.toThrow(
      /more than the limit of 10000 bytes/,
    );
    expect(existsSync(c.staging)).toBe(false);
  });

  it('refuses a bad CRC, an entry the audio check rejects, and a body that is not a zip', async () => {
    const good = wav('g');
    let c = scratch(
      rawZip([{ name: 'x.wav', deflated: { bytes: deflateRawSync(good), size: good.length, crc: 12345 } }]),
    );
    await expect(extractZip(c.zipPath, c.staging)).rejects.toThrow(/CRC-32/);
    c = scratch(rawZip([{ name: 'page.wav', data: Buffer.from('<html><body>error</body></html>') }]));
    await expect(extractZip(c.zipPath, c.staging, { sink: audioSink })).rejects.toMatchObject({
      code: 'E_BAD_AUDIO',
    });
    expect(existsSync(c.staging)).toBe(false);
    c = scratch(Buffer.from('{"resultCode":"0300011"}'));
    await expect(extractZip(c.zipPath, c.staging)).rejects.toThrow(/^corrupt zip/);
  });

  it('commitStaged renames the staging folder into place, replacing an older one', async () => {
    const { zipPath, staging, dir } = scratch(rawZip([{ name: 'a.wav', data: wav('a') }]));
    const final = join(dir, 'out', 'cc-fs', 'call-1');
    mkdirSync(final, { recursive: true });
    writeFileSync(join(final, 'stale.wav'), 'x');
    await extractZip(zipPath, staging);
    await commitStaged(staging, final);
    expect(readdirSync(final)).toEqual(['a.wav']);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['cc-fs']);
  });
});

describe('safeEntryName', () => {
  it('keeps plain relative names and reads backslashes as separators', () => {
    expect(safeEntryName('a.wav')).toBe('a.wav');
    expect(safeEntryName('dir\\b.wav')).toBe('dir/b.wav');
    expect(safeEntryName('dir/')).toBe('dir/');
  });
  it.each([
    ['../x'],
    ['a/../../x'],
    ['/etc/x'],
    ['\\\\server\\share\\x'],
    ['C:/x'],
    ['c:x'],
    ['a/./b'],
    ['a//b'],
    ['a\u0000b'],
    ['x:stream'],
  ])('refuses %j', (name) => {
    expect(() => safeEntryName(name)).toThrow(/^unsafe zip/);
  });
});
