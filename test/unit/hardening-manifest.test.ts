/**
 * Issue 7 §3: a manifest line of the wrong shape, or a manifest of random bytes, is an unreadable line
 * (counted, reported), never an internal error in `recpull status` or a run, and never "no manifest yet".
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { statusCommand } from '../../src/cli/status.js';
import { Manifest, manifestPath, readManifest, replayManifest } from '../../src/core/manifest.js';
import { tempDir } from '../helpers/cli.js';

const good = {
  key: 'k',
  status: 'done',
  files: [{ path: 'a/k.wav', bytes: 10, sha256: 'ab', contentType: 'audio/wav' }],
  attempts: 1,
  at: '2026-11-22T00:00:00Z',
};
const line = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });

async function status(args: string[]): Promise<{ out: string; exitCode: number }> {
  const ctx = { exitCode: -1, stop: new AbortController().signal, vendors: [] };
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await statusCommand(ctx).parseAsync(args, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return { out, exitCode: ctx.exitCode };
}

afterEach(() => vi.restoreAllMocks());

describe('manifest record shapes (issue 7 §3)', () => {
  it('treats lines of the wrong shape as unreadable, keeping the good ones', () => {
    const bad = [
      line({ files: [null] }),
      line({ files: [{ path: 'x.wav', bytes: '10', sha256: 'ab', contentType: 'audio/wav' }] }),
      line({ files: [{ path: 'x.wav', sha256: 'ab', contentType: 'audio/wav' }] }),
      line({ files: [{ path: '../../etc/passwd', bytes: 1, sha256: 'ab', contentType: 'x' }] }),
      line({ files: [{ path: '/etc/passwd', bytes: 1, sha256: 'ab', contentType: 'x' }] }),
      line({ attempts: 'three' }),
      line({ at: 5 }),
      line({ key: 7 }),
      line({ status: 'failed', error: 'boom' }),
      line({ status: 'failed', error: { code: 1 } }),
      JSON.stringify({ key: 'k', status: 'done' }),
      'null',
      '[1,2]',
      '"text"',
    ];
    const ok = line({ key: 'ok', status: 'failed', files: [], error: { code: 'E_HTTP', message: 'x' } });
    const r = replayManifest(`${[...bad, ok].join('\n')}\n`);
    expect([...r.records.keys()]).toEqual(['ok']);
    expect(r.badLines).toEqual(bad.map((_, i) => i + 1));
  });

  it('counts a manifest of random bytes as unreadable, not as empty', () => {
    const junk = randomBytes(64).toString('latin1').replace(/[\n{]/g, 'x'); // no newline: all tail
    const r = replayManifest(junk);
    expect(r.records.size).toBe(0);
    expect(r.badLines).toEqual([1]);
    expect(r.torn).toBe(true); // cut off by open(), so the next append starts a fresh line
    // a torn record (a crash mid-write) is still ignored silently
    expect(replayManifest(`${line({})}\n${line({}).slice(0, 20)}`).badLines).toEqual([]);
  });

  it('open() on a corrupt manifest reports the lines and appends on a fresh line', async () => {
    const out = await tempDir();
    await mkdir(join(out, '.recpull'));
    await writeFile(manifestPath(out), `${line({ files: [null] })}\n\u0000\u00ff garbage`);
    const m = await Manifest.open(out);
    expect(m.badLines).toEqual([1, 2]);
    await m.append({ ...good, key: 'new' } as never);
    await m.close();
    const again = await readManifest(out);
    expect([...again.records.keys()]).toEqual(['new']);
  });

  it('recpull status reports a wrong-shaped or random manifest as unreadable lines, exit 0', async () => {
    const out = await tempDir();
    await mkdir(join(out, '.recpull'));
    await writeFile(
      manifestPath(out),
      `${line({ files: [null] })}\n${line({ key: 'x', files: [{ path: 'x.wav', bytes: 3, sha256: 'a', contentType: 'audio/wav' }] })}\n`,
    );
    const text = await status([out]);
    expect(text.out).toContain('done:   1');
    expect(text.out).toContain('unreadable manifest lines: 1');
    expect(text.exitCode).toBe(0);
    const json = JSON.parse((await status([out, '--json'])).out) as Record<string, unknown>;
    expect(json.unreadableLines).toEqual([1]);

    await writeFile(manifestPath(out), randomBytes(4096));
    const random = await status([out]);
    expect(random.out).not.toContain('no manifest yet');
    expect(random.out).toMatch(/unreadable manifest lines: \d+/);
    expect(random.exitCode).toBe(0);
  });

  it('recpull status still says "no manifest yet" for a folder without one', async () => {
    const out = await tempDir();
    expect((await status([out])).out).toContain('no manifest yet');
  });
});
