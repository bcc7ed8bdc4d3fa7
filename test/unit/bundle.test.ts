import { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleTemplate, clearStaging, writeBundle } from '../../src/core/bundle.js';
import { PartJournal } from '../../src/core/journal.js';
import { PathAllocator } from '../../src/core/paths.js';
import type { FetchedBody, RecordingRef } from '../../src/core/source.js';
import { makeWav } from '../../src/sandbox/catalogue.js';
import { hostileZip, rawZip } from '../../src/sandbox/cc-fs/zips.js';
import { tempDir } from '../helpers/cli.js';

const ref: RecordingRef = { key: 'v:call:1', vendor: 'v', meta: { name: 'call-1' } };

async function setup() {
  const out = await tempDir();
  await mkdir(join(out, '.recpull'));
  const journal = new PartJournal(out);
  const ctx = {
    out,
    template: '{vendor}/{name}.{ext}',
    metadata: true,
    journal,
    paths: new PathAllocator(out),
    signal: new AbortController().signal,
  };
  return { out, journal, ctx };
}

const body = (zip: Buffer): FetchedBody => ({
  body: Readable.from([zip]),
  bundle: 'zip',
  length: zip.length,
});

describe('bundles (core/bundle.ts)', () => {
  it('drops .{ext} from the template for the folder', () => {
    expect(bundleTemplate('{vendor}/{date}/{name}.{ext}')).toBe('{vendor}/{date}/{name}');
    expect(() => bundleTemplate('{ext}')).toThrow(/names no folder/);
  });

  it('unpacks a zip into one folder, lists every file, writes the sidecar beside it, leaves no staging', async () => {
    const { out, ctx } = await setup();
    const a = makeWav('a', 3000);
    const b = makeWav('b', 5000);
    const zip = rawZip([
      { name: 'a.wav', data: a },
      { name: 'sub/b\u202e.wav', data: b },
    ]);
    const files = await writeBundle(ref, body(zip), { bytes: 0, resumable: false }, ctx);
    expect(files.map((f) => f.path)).toEqual(['v/call-1/a.wav', 'v/call-1/sub/b_.wav', 'v/call-1.json']);
    expect(await readFile(join(out, 'v/call-1/a.wav'))).toEqual(a);
    expect(await readFile(join(out, 'v/call-1/sub/b_.wav'))).toEqual(b);
    expect(await readdir(join(out, '.recpull', 'staging'))).toEqual([]);
  });

  it('refuses a hostile zip with nothing left anywhere, and a truncated body as retryable', async () => {
    const { out, ctx } = await setup();
    const zip = hostileZip('dotdot', makeWav('g', 3000));
    await expect(writeBundle(ref, body(zip), { bytes: 0, resumable: false }, ctx)).rejects.toMatchObject({
      code: 'E_BAD_AUDIO',
    });
    const cut: FetchedBody = {
      body: Readable.from([zip.subarray(0, 100)]),
      bundle: 'zip',
      length: zip.length,
    };
    await expect(writeBundle(ref, cut, { bytes: 0, resumable: false }, ctx)).rejects.toMatchObject({
      code: 'E_TRUNCATED',
      retryable: true,
    });
    expect(await readdir(out)).toEqual(['.recpull']);
    expect(await readdir(join(out, '.recpull', 'staging'))).toEqual([]);
  });

  it('recovery: staging cleared, an uncommitted folder deleted, a cut swap put back', async () => {
    const { out, journal } = await setup();
    await mkdir(join(out, '.recpull', 'staging', 'x'), { recursive: true });
    await mkdir(join(out, 'v', 'new'), { recursive: true }); // renamed into place, no manifest line
    await mkdir(join(out, 'v', 'swap.old-123'), { recursive: true }); // killed between the two renames
    await writeFile(join(out, 'v', 'swap.old-123', 'a.wav'), 'x');
    await journal.add('k-new', 'v/new', { bundle: true });
    await journal.add('k-swap', 'v/swap', { bundle: true });
    expect(await clearStaging(out)).toBe(1);
    const r = await journal.recover((key) => key === 'k-swap');
    expect(r.removed).toBe(1);
    expect(existsSync(join(out, 'v', 'new'))).toBe(false);
    expect(await readdir(join(out, 'v'))).toEqual(['swap']);
    expect(existsSync(join(out, '.recpull', 'staging'))).toBe(false);
  });
});
