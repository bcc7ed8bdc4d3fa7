/**
 * Issue 7 §5: nothing is written through a symlink inside `--out` (it may point anywhere), `.recpull` is
 * a real folder, and `--out` naming a file is a clear error.
 */
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PartJournal } from '../../src/core/journal.js';
import { checkOutFolder, makeParentFolders, resolveInsideOut } from '../../src/core/paths.js';

let tmp: string;
let out: string;
let elsewhere: string;

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'recpull-hpaths-'));
  out = join(tmp, 'out');
  elsewhere = join(tmp, 'elsewhere');
  await mkdir(out);
  await mkdir(elsewhere);
});

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return p.then(
    () => ({ message: 'resolved' }),
    (e: unknown) => e as { code?: string; message: string },
  );
}

describe('output folder checks (issue 7 §5)', () => {
  it('checkOutFolder: a file as --out, a symlinked or non-folder .recpull are E_USAGE', async () => {
    await checkOutFolder(join(tmp, 'not-yet'));
    await checkOutFolder(out);
    const file = join(tmp, 'file.txt');
    await writeFile(file, 'x');
    const e1 = await failure(checkOutFolder(file));
    expect(e1.code).toBe('E_USAGE');
    expect(e1.message).toContain(file);
    expect(e1.message).toMatch(/not a folder/);
    await symlink(elsewhere, join(out, '.recpull'));
    const e2 = await failure(checkOutFolder(out));
    expect(e2.code).toBe('E_USAGE');
    expect(e2.message).toMatch(/\.recpull is a symlink/);
    await rm(join(out, '.recpull'));
    await writeFile(join(out, '.recpull'), '');
    expect((await failure(checkOutFolder(out))).code).toBe('E_USAGE');
    // --out itself may be a symlink to a folder
    await rm(join(out, '.recpull'));
    await symlink(out, join(tmp, 'link'));
    await checkOutFolder(join(tmp, 'link'));
  });

  it('makeParentFolders refuses a symlink inside --out that points outside, creating nothing there', async () => {
    await symlink(elsewhere, join(out, 'evil'));
    const e = await failure(makeParentFolders(out, 'evil/sub/x.wav'));
    expect(e.code).toBe('E_IO');
    expect(e.message).toMatch(/symlink/);
    expect(await readdir(elsewhere)).toEqual([]);
    // a symlink as the file itself is refused too (a .part opened through it would write elsewhere)
    await symlink(join(elsewhere, 'target.wav'), join(out, 'f.wav'));
    expect((await failure(resolveInsideOut(out, 'f.wav'))).code).toBe('E_IO');
  });

  it('makeParentFolders creates real folders and returns the absolute path', async () => {
    const abs = await makeParentFolders(out, 'a/b/c.wav');
    expect(abs).toBe(join(out, 'a', 'b', 'c.wav'));
    expect((await stat(join(out, 'a', 'b'))).isDirectory()).toBe(true);
    expect((await failure(makeParentFolders(out, '../x.wav'))).code).toBe('E_IO');
  });

  it('journal recovery never deletes a .part through a symlink', async () => {
    await mkdir(join(out, '.recpull'));
    await symlink(elsewhere, join(out, 'evil'));
    await writeFile(join(elsewhere, 'x.wav.part'), 'precious');
    await writeFile(join(out, '.recpull', 'parts'), `${JSON.stringify({ key: 'k', path: 'evil/x.wav' })}\n`);
    const r = await new PartJournal(out).recover(() => false);
    expect(r.removed).toBe(0);
    expect(await readdir(elsewhere)).toEqual(['x.wav.part']);
  });
});
