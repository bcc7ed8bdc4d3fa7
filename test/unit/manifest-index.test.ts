/**
 * The manifest index (issue 11): `<out>/.recpull/index.sqlite` kept in step with `manifest.jsonl` —
 * catch-up from the stored offset, rebuild when the JSONL was replaced or truncated, a torn last line,
 * the last line per key, read-only opens that write nothing, duplicate keys within a run, the path
 * owners the PathAllocator asks, and the skip pass's concurrent presence checks.
 */
import {
  appendFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/events.js';
import {
  indexPath,
  Manifest,
  type ManifestRecord,
  manifestPath,
  openManifestView,
} from '../../src/core/manifest.js';
import { parseFiles } from '../../src/core/manifest-index.js';
import { PathAllocator } from '../../src/core/paths.js';
import type { PresenceOptions } from '../../src/core/presence.js';
import { openFolder } from '../../src/core/recovery.js';
import { runDownloads } from '../../src/core/run.js';
import type { RecordingRef, Source } from '../../src/core/source.js';
import { makeWav } from '../../src/sandbox/catalogue.js';
import { tempDir } from '../helpers/cli.js';

const { DatabaseSync } = createRequire(import.meta.url)('node:sqlite') as typeof import('node:sqlite');

const rec = (key: string, status: 'done' | 'failed' = 'done', path = `${key}.wav`): ManifestRecord => ({
  key,
  status,
  files: status === 'done' ? [{ path, bytes: 3, sha256: 'x', contentType: 'audio/wav' }] : [],
  attempts: 1,
  ...(status === 'failed' ? { error: { code: 'E_HTTP' as const, message: 'HTTP 503' } } : {}),
  at: '2026-11-22T00:00:00Z',
});
const line = (r: ManifestRecord) => `${JSON.stringify(r)}\n`;

/** Adds a row to the index behind the manifest's back: it survives a catch-up, not a rebuild. */
function plantSentinel(out: string): void {
  const db = new DatabaseSync(indexPath(out));
  db.prepare("INSERT OR REPLACE INTO records VALUES ('sentinel', 1, '[]', 0, 0, 0, 1000000)").run();
  db.close();
}

async function withManifest<T>(out: string, fn: (m: Manifest) => T | Promise<T>): Promise<T> {
  const m = await Manifest.open(out);
  try {
    return await fn(m);
  } finally {
    await m.close();
  }
}

/** Every file below `dir` with its size and mtime, to tell that nothing was written. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    const s = await stat(join(dir, f));
    out[f] = `${s.size}:${s.mtimeMs}`;
  }
  return out;
}

describe('manifest index', () => {
  it('is built from an existing JSONL and caught up from its offset on the next open', async () => {
    const out = await tempDir();
    await mkdir(join(out, '.recpull'));
    await writeFile(manifestPath(out), line(rec('a')) + line(rec('b', 'failed')));
    await withManifest(out, (m) => {
      expect(m.entry('a')).toMatchObject({ status: 'done', files: [{ path: 'a.wav', bytes: 3 }] });
      expect(m.get('b')).toMatchObject({ status: 'failed', error: { code: 'E_HTTP' } });
    });
    plantSentinel(out);
    // lines the index has not seen (a crash after the JSONL's fsync, before the index's commit)
    await appendFile(manifestPath(out), line(rec('c')) + line(rec('b')));
    await withManifest(out, (m) => {
      expect(m.entry('sentinel')).toBeDefined(); // caught up, not rebuilt
      expect(m.entry('c')?.status).toBe('done');
      expect(m.entry('b')?.status).toBe('done');
      expect(m.index.ownerOf('b.wav')).toBe('b');
    });
  });

  it('appends go to the JSONL first and the index in step; a reopen needs no rebuild', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      await Promise.all([m.append(rec('x')), m.append(rec('y', 'failed'))]);
      expect(m.get('x')?.files[0]?.path).toBe('x.wav');
    });
    plantSentinel(out);
    await withManifest(out, (m) => {
      expect(m.entry('sentinel')).toBeDefined();
      expect(m.entry('x')?.status).toBe('done');
      expect(m.get('y')).toMatchObject({ key: 'y', status: 'failed' });
    });
    const lines = (await readFile(manifestPath(out), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).key)).toEqual(['x', 'y']);
  });

  it('is rebuilt when it was made by an older recpull (schema 1: records without ids)', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      await m.append(rec('a'));
      await m.append(rec('b'));
    });
    // the layout and version mark of schema 1, with the offset and fingerprint left as they were
    const db = new DatabaseSync(indexPath(out));
    db.exec(`DROP TABLE records;
      CREATE TABLE records (key TEXT PRIMARY KEY, status INTEGER NOT NULL, files TEXT NOT NULL,
        bytes INTEGER NOT NULL, pos INTEGER NOT NULL, len INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO records VALUES ('sentinel', 1, '[]', 0, 0, 0);
      UPDATE meta SET v = '1' WHERE k = 'version'; DELETE FROM meta WHERE k = 'nextId';`);
    db.close();
    await withManifest(out, (m) => {
      expect(m.entry('sentinel')).toBeUndefined(); // rebuilt from the JSONL
      expect(m.index.lookup('a')).toMatchObject({ first: true, entry: { status: 'done' } });
      expect(m.index.lookup('a').first).toBe(false);
      expect(m.index.lookup('b').first).toBe(true);
    });
    // the version mark alone (a layout that would still load) is enough to rebuild
    plantSentinel(out);
    const again = new DatabaseSync(indexPath(out));
    again.exec(`UPDATE meta SET v = '1' WHERE k = 'version'`);
    again.close();
    await withManifest(out, (m) => expect(m.entry('sentinel')).toBeUndefined());
  });

  it('is rebuilt when the JSONL was replaced (same length, other content)', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      await m.append(rec('aa'));
      await m.append(rec('bb'));
    });
    plantSentinel(out);
    await writeFile(manifestPath(out), line(rec('cc')) + line(rec('dd')));
    await withManifest(out, (m) => {
      expect(m.entry('sentinel')).toBeUndefined();
      expect(m.entry('aa')).toBeUndefined();
      expect(m.entry('cc')?.status).toBe('done');
      expect(m.index.ownerOf('aa.wav')).toBeUndefined();
    });
  });

  it('is rebuilt when a line in the middle was edited to the same length, in place or as a new file', async () => {
    for (const how of ['in place', 'new file'] as const) {
      const out = await tempDir();
      await withManifest(out, async (m) => {
        for (let i = 0; i < 200; i++) await m.append(rec(`k${String(i).padStart(3, '0')}`));
      });
      plantSentinel(out);
      // k100's size 3 -> 4: same length, away from the first and last 4 KiB the fingerprint covers
      const text = await readFile(manifestPath(out), 'utf8');
      const at = text.indexOf('"bytes":3', text.indexOf('"key":"k100"'));
      expect(at).toBeGreaterThan(4096);
      expect(at).toBeLessThan(text.length - 4096 - 9);
      const before = await stat(manifestPath(out));
      if (how === 'in place') {
        const fh = await open(manifestPath(out), 'r+');
        await fh.write('"bytes":4', at);
        await fh.close();
        const after = await stat(manifestPath(out));
        if (after.mtimeMs === before.mtimeMs) {
          const later = new Date(before.mtimeMs + 1000);
          await utimes(manifestPath(out), later, later); // a file system with coarse timestamps
        }
        expect((await stat(manifestPath(out))).ino).toBe(before.ino);
      } else {
        await writeFile(`${manifestPath(out)}.tmp`, `${text.slice(0, at)}"bytes":4${text.slice(at + 9)}`);
        await rename(`${manifestPath(out)}.tmp`, manifestPath(out)); // what sed -i and most editors do
      }
      expect((await stat(manifestPath(out))).size).toBe(before.size);
      await withManifest(out, (m) => {
        expect(m.entry('sentinel'), how).toBeUndefined(); // rebuilt from the JSONL
        expect(m.entry('k100')?.files, how).toEqual([{ path: 'k100.wav', bytes: 4 }]);
        expect(m.entry('k101')?.files, how).toEqual([{ path: 'k101.wav', bytes: 3 }]);
      });
      // and the rebuilt index is trusted again: the next open keeps what is planted
      plantSentinel(out);
      await withManifest(out, (m) => expect(m.entry('sentinel'), how).toBeDefined());
    }
  });

  it('is not rebuilt for cutting off a torn last line itself (a run killed mid-append)', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      for (let i = 0; i < 3; i++) await m.append(rec(`t${i}`));
    });
    await appendFile(manifestPath(out), line(rec('t3')).slice(0, 40)); // killed while appending
    plantSentinel(out);
    await withManifest(out, (m) => {
      expect(m.entry('sentinel')).toBeDefined(); // caught up
      expect(m.entry('t3')).toBeUndefined();
    });
    plantSentinel(out);
    // the cut changed the JSONL's mtime and brought it back to its committed size: still no rebuild
    await withManifest(out, (m) => expect(m.entry('sentinel')).toBeDefined());
  });

  it('is rebuilt when the JSONL was truncated, even to a longer rewrite', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      for (const k of ['a', 'b', 'c']) await m.append(rec(k));
    });
    plantSentinel(out);
    await truncate(manifestPath(out), Buffer.byteLength(line(rec('a'))));
    await withManifest(out, (m) => {
      expect(m.entry('sentinel')).toBeUndefined();
      expect(m.entry('a')?.status).toBe('done');
      expect(m.entry('b')).toBeUndefined();
    });
    // cut back to `a`, then other lines appended past the old length: the fingerprint tells
    await withManifest(out, async (m) => {
      for (const k of ['b', 'c']) await m.append(rec(k));
    });
    plantSentinel(out);
    await writeFile(manifestPath(out), line(rec('a')) + line(rec('zzzz')) + line(rec('q')) + line(rec('r')));
    await withManifest(out, (m) => {
      expect(m.entry('sentinel')).toBeUndefined();
      expect(m.entry('b')).toBeUndefined();
      expect(m.entry('zzzz')?.status).toBe('done');
    });
  });

  it('is rebuilt when the index file is garbage', async () => {
    const out = await tempDir();
    await withManifest(out, (m) => m.append(rec('a')));
    await writeFile(indexPath(out), 'not a database at all');
    await withManifest(out, (m) => expect(m.entry('a')?.status).toBe('done'));
  });

  it('ignores a torn last line, which the writer cuts off; unreadable lines are reported', async () => {
    const out = await tempDir();
    await mkdir(join(out, '.recpull'));
    await writeFile(manifestPath(out), `${line(rec('a'))}{nonsense\n${line(rec('b')).slice(0, 30)}`);
    const view = await openManifestView(out);
    expect(view.torn).toBe(true);
    expect(view.badLines).toEqual([2]);
    expect(view.index.entry('b')).toBeUndefined();
    await view.close();
    await withManifest(out, async (m) => {
      expect(m.badLines).toEqual([2]);
      expect(m.entry('b')).toBeUndefined();
      await m.append(rec('c'));
    });
    const keys = (await readFile(manifestPath(out), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (l.startsWith('{"') ? JSON.parse(l).key : l));
    expect(keys).toEqual(['a', '{nonsense', 'c']);
    await withManifest(out, (m) => {
      expect(m.badLines).toEqual([2]); // remembered by the index across opens
      expect(m.entry('c')?.status).toBe('done');
    });
  });

  it('lets the last line of a key win, and moves path ownership with it', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      await m.append(rec('k', 'done', 'old.wav'));
      await m.append(rec('k', 'done', 'new.wav'));
      expect(m.index.ownerOf('old.wav')).toBeUndefined();
      expect(m.index.ownerOf('new.wav')).toBe('k');
      await m.append(rec('k', 'failed'));
      expect(m.entry('k')?.status).toBe('failed');
      expect(m.index.ownerOf('new.wav')).toBeUndefined();
    });
    // the same from a rebuild
    await rm(indexPath(out));
    await withManifest(out, (m) => {
      expect(m.get('k')?.status).toBe('failed');
      expect(m.index.summary()).toEqual({ done: 0, failed: 1, bytes: 0 });
    });
  });

  it('a read-only view writes nothing, whether the index is current, stale or missing', async () => {
    const out = await tempDir();
    await withManifest(out, (m) => m.append(rec('a')));
    for (const prepare of [
      async () => {}, // current
      () => appendFile(manifestPath(out), line(rec('b'))), // stale: a line the index lacks
      () => rm(indexPath(out)), // missing
      () => writeFile(indexPath(out), 'garbage'), // unreadable
    ]) {
      await prepare();
      const before = await snapshot(out);
      const view = await openManifestView(out);
      expect(view.index.entry('a')?.status).toBe('done');
      expect(view.index.lookup('a').first).toBe(true);
      expect(view.index.lookup('a').first).toBe(false);
      await view.close();
      expect(await snapshot(out)).toEqual(before);
    }
    const view = await openManifestView(out);
    expect(view.index.entry('b')?.status).toBe('done');
    await view.close();
  });

  it('a dry run creates nothing in a folder that does not exist', async () => {
    const out = join(await tempDir(), 'nothing-yet');
    const folder = await openFolder({ out, dryRun: true, emit: () => {}, onLockLost: () => {} });
    expect(folder.index.entry('a')).toBeUndefined();
    expect(folder.index.lookup('a').first).toBe(true);
    await folder.release();
    await expect(stat(out)).rejects.toThrow();
  });

  it('a run that only looks keys up (a re-run skipping everything) writes nothing to the index', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      for (const k of ['a', 'b']) await m.append(rec(k));
    });
    const before = await snapshot(join(out, '.recpull'));
    await new Promise((r) => setTimeout(r, 20)); // a rewrite would show in the mtime
    await withManifest(out, (m) => {
      expect(m.index.lookup('a').entry?.status).toBe('done');
      expect(m.index.lookup('b').first).toBe(true);
      expect(m.index.lookup('new').entry).toBeUndefined();
    });
    expect(await snapshot(join(out, '.recpull'))).toEqual(before);
    await withManifest(out, (m) => expect(m.entry('b')?.status).toBe('done')); // still current
  });

  it('tells duplicate keys in a run exactly, per connection', async () => {
    const out = await tempDir();
    await withManifest(out, (m) => {
      const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`);
      expect(keys.map((k) => m.index.lookup(k).first).every(Boolean)).toBe(true);
      expect(keys.map((k) => m.index.lookup(k).first).some(Boolean)).toBe(false);
      expect(m.index.lookup('K0').first).toBe(true); // keys are compared exactly
    });
    await withManifest(out, (m) => expect(m.index.lookup('k0').first).toBe(true)); // a new run
  });

  it('tells repeats the same way for keys indexed before the run, new keys, and keys recorded in it', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      for (const k of ['a', 'b', 'c']) await m.append(rec(k, k === 'c' ? 'failed' : 'done'));
    });
    await withManifest(out, async (m) => {
      const a = m.index.lookup('a');
      expect(a).toMatchObject({
        first: true,
        entry: { status: 'done', files: [{ path: 'a.wav', bytes: 3 }] },
      });
      expect(m.index.lookup('a')).toEqual({ first: false, entry: undefined });
      expect(m.index.lookup('b').first).toBe(true);
      expect(m.index.lookup('b').first).toBe(false);
      expect(m.index.lookup('new')).toEqual({ first: true, entry: undefined });
      await m.append(rec('new')); // recorded during the run: still a repeat afterwards
      expect(m.index.lookup('new').first).toBe(false);
      await m.append(rec('c')); // failed before, done now: its row keeps its id
      expect(m.index.lookup('c')).toMatchObject({ first: true, entry: { status: 'done' } });
      expect(m.index.lookup('c').first).toBe(false);
      await m.append(rec('later')); // indexed in this run, first looked up after it
      expect(m.index.lookup('later')).toMatchObject({ first: true, entry: { status: 'done' } });
      expect(m.index.lookup('later').first).toBe(false);
    });
    await withManifest(out, (m) => {
      for (const k of ['a', 'b', 'c', 'new', 'later']) expect(m.index.lookup(k).first).toBe(true); // a new run
      expect(m.index.summary()).toEqual({ done: 5, failed: 0, bytes: 15 });
    });
  });

  it('gives back every path and size as appended, before and after a reopen (escapes, quotes, several files)', async () => {
    const out = await tempDir();
    const paths = [
      'a/b.wav',
      'q"uote.wav',
      'back\\slash.wav',
      'tab\there.wav',
      'lone\ud800.wav',
      'ütf/日本.wav',
      '0.wav',
      '',
    ];
    const records = paths.map((p, i) => ({
      ...rec(`k${i}`, 'done', p),
      files: [{ ...rec('x').files[0]!, path: p, bytes: i * 1000 }],
    }));
    const two: ManifestRecord = {
      ...rec('two'),
      files: [
        { path: 'one.wav', bytes: 5, sha256: 'x', contentType: 'audio/wav' },
        { path: 'one.json', bytes: 70, sha256: 'y', contentType: 'application/json' },
      ],
    };
    const expected = (r: ManifestRecord) => r.files.map(({ path, bytes }) => ({ path, bytes }));
    await withManifest(out, async (m) => {
      for (const r of [...records, two]) await m.append(r);
      for (const r of [...records, two]) expect(m.index.entry(r.key)?.files).toEqual(expected(r));
    });
    await withManifest(out, (m) => {
      for (const r of [...records, two]) expect(m.index.entry(r.key)?.files).toEqual(expected(r));
    });
  });

  it('parseFiles reads what JSON.parse reads, and leaves non-canonical JSON to it', () => {
    const cases = [
      '[["a/b.wav",262188]]',
      '[["a/b.wav",0]]',
      '[["a\\"b.wav",1]]',
      '[["a\\\\b.wav",1]]',
      '[["a\\u0000b.wav",7]]',
      '[["a.wav",1],["b.json",2]]',
      '[["",3]]',
      '[]',
      '[["a.wav",1.5]]',
      '[["a.wav",1e3]]',
      '[["a.wav",123456789012345678]]',
      '[["a.wav",-1]]',
    ];
    for (const json of cases) {
      const want = (JSON.parse(json) as [string, number][]).map(([path, bytes]) => ({ path, bytes }));
      expect(parseFiles(json), json).toEqual(want);
    }
    // not JSON at all (a leading zero, no number): never read by position
    for (const json of ['[["a.wav",012]]', '[["a.wav",]]']) expect(() => parseFiles(json)).toThrow();
  });

  it('gives the PathAllocator the owners of done files without loading them', async () => {
    const out = await tempDir();
    await withManifest(out, async (m) => {
      await m.append(rec('a', 'done', 'Calls/One.wav'));
      const paths = new PathAllocator(out, (p) => m.index.ownerOf(p));
      expect(await paths.claim('calls/one.wav', 'a')).toBe('calls/one.wav'); // its own, any case
      expect(await paths.claim('calls/ONE.wav', 'b')).toBe('calls/ONE-2.wav');
    });
  });
});

describe('skip pass', () => {
  const ref = (id: string): RecordingRef => ({ key: `mem:${id}`, vendor: 'mem', meta: { id } });
  function source(ids: string[], fetched: string[]): Source {
    return {
      vendor: 'mem',
      fields: ['id'],
      defaultTemplate: '{id}.{ext}',
      async *refs() {
        for (const id of ids) yield ref(id);
      },
      async fetch(r) {
        fetched.push(r.key);
        const b = makeWav(r.key, 500);
        return { body: Readable.from([b]), contentType: 'audio/wav', length: b.length };
      },
    };
  }
  async function run(
    out: string,
    ids: string[],
    dryRun = false,
    presence?: PresenceOptions,
    metadata = false,
  ) {
    const events: RunEvent[] = [];
    const fetched: string[] = [];
    const result = await runDownloads(source(ids, fetched), {
      out,
      profile: 'test',
      concurrency: 2,
      retries: 0,
      force: false,
      dryRun,
      metadata,
      signal: new AbortController().signal,
      emit: (e) => events.push(e),
      ...(presence ? { presence } : {}),
    });
    return { events, fetched, result };
  }

  // synchronous stats only; a worker from the first check; a worker after 5, in batches of 3
  it.each([
    undefined,
    { workerAfter: 0, batchSize: 7, syncWhileStarting: false },
    { workerAfter: 5, batchSize: 3, syncWhileStarting: false },
  ])(
    'skips done items in input order, and fetches again a vanished or resized file (presence %j)',
    async (presence) => {
      const out = await tempDir();
      const ids = Array.from({ length: 100 }, (_, i) => `r${String(i).padStart(3, '0')}`);
      await run(out, ids);
      await rm(join(out, 'r010.wav'));
      await writeFile(join(out, 'r020.wav'), 'short');
      const again = await run(out, [...ids.slice(0, 50), 'new', ...ids.slice(50), 'r005'], false, presence);
      expect(again.fetched.sort()).toEqual(['mem:new', 'mem:r010', 'mem:r020']);
      const skipped = again.events.filter((e) => e.type === 'item-skipped').map((e) => e.key);
      expect(skipped).toEqual(ids.filter((id) => id !== 'r010' && id !== 'r020').map((id) => `mem:${id}`));
      // a dry run hands every item over in input order, skips done and would-fetch items alike
      await rm(join(out, 'r030.wav'));
      const input = [...ids.slice(0, 50), 'new2', ...ids.slice(50), 'r005', 'new3'];
      const dry = await run(out, input, true, presence);
      const handed = dry.events.filter((e) => e.type === 'item-skipped').map((e) => `${e.key}:${e.reason}`);
      const expected = input
        .slice(0, -2)
        .concat('new3')
        .map((id) => `mem:${id}:${['new2', 'new3', 'r030'].includes(id) ? 'dry-run' : 'done'}`);
      expect(handed).toEqual(expected);
      expect(again.result.counts).toMatchObject({ done: 3, skipped: 98, failed: 0, wouldFetch: 0 });
    },
  );

  it('a dry run counts what it would fetch as wouldFetch, apart from skipped', async () => {
    const out = await tempDir();
    await run(out, ['a', 'b']);
    const before = await snapshot(out);
    const dry = await run(out, ['a', 'b', 'c', 'd', 'c'], true);
    expect(dry.fetched).toEqual([]);
    expect(dry.result.counts).toMatchObject({ done: 0, skipped: 2, wouldFetch: 2, failed: 0 });
    expect(dry.events.at(-1)).toMatchObject({ type: 'run-end', counts: { skipped: 2, wouldFetch: 2 } });
    expect(await snapshot(out)).toEqual(before);
  });

  it('after the manifest was lost, a download identical to the file at its path takes that file, not a -2 copy', async () => {
    const out = await tempDir();
    await run(out, ['a', 'b', 'c']);
    await rm(join(out, '.recpull'), { recursive: true });
    const other = makeWav('someone else', 500); // c.wav now holds other bytes of the same size
    expect(other.length).toBe((await stat(join(out, 'c.wav'))).size);
    await writeFile(join(out, 'c.wav'), other);
    const again = await run(out, ['a', 'b', 'c']);
    expect(again.fetched.sort()).toEqual(['mem:a', 'mem:b', 'mem:c']); // nothing says they are done
    expect(again.result.counts).toMatchObject({ done: 3, failed: 0 });
    expect((await readdir(out)).filter((f) => !f.startsWith('.')).sort()).toEqual([
      'a.wav',
      'b.wav',
      'c-2.wav',
      'c.wav',
    ]);
    expect(await readFile(join(out, 'c.wav'))).toEqual(other); // never overwritten
    await withManifest(out, (m) => {
      expect(m.entry('mem:a')?.files).toEqual([{ path: 'a.wav', bytes: 500 }]);
      expect(m.entry('mem:c')?.files).toEqual([{ path: 'c-2.wav', bytes: 500 }]);
      expect(m.index.ownerOf('b.wav')).toBe('mem:b');
    });
    // and the next run skips all three
    const third = await run(out, ['a', 'b', 'c']);
    expect(third.fetched).toEqual([]);
    expect(third.result.counts).toMatchObject({ skipped: 3 });
  });

  it('after the manifest was lost, identical --metadata sidecars are taken too, not copied', async () => {
    const out = await tempDir();
    await run(out, ['a', 'b'], false, undefined, true);
    await rm(join(out, '.recpull'), { recursive: true });
    await writeFile(join(out, 'b.json'), '{"someone":"else"}\n');
    const again = await run(out, ['a', 'b'], false, undefined, true);
    expect(again.result.counts).toMatchObject({ done: 2, failed: 0 });
    expect((await readdir(out)).filter((f) => !f.startsWith('.')).sort()).toEqual([
      'a.json',
      'a.wav',
      'b-2.json',
      'b.json',
      'b.wav',
    ]);
    await withManifest(out, (m) => {
      expect(m.entry('mem:a')?.files.map((f) => f.path)).toEqual(['a.wav', 'a.json']);
      expect(m.entry('mem:b')?.files.map((f) => f.path)).toEqual(['b.wav', 'b-2.json']);
    });
  });

  it('a dry run after a crash skips the whole files the real run adopts, as the real run does', async () => {
    const out = await tempDir();
    await run(out, ['a', 'b']);
    // a run killed after renaming c.wav into place, before its manifest line: only the journal knows it
    const c = makeWav('mem:c', 500);
    await writeFile(join(out, 'c.wav'), c);
    await appendFile(join(out, '.recpull', 'parts'), `${JSON.stringify({ key: 'mem:c', path: 'c.wav' })}\n`);
    const before = await snapshot(out);
    const dry = await run(out, ['a', 'b', 'c', 'd'], true);
    expect(dry.result.counts).toMatchObject({ skipped: 3, wouldFetch: 1 });
    expect(dry.events.filter((e) => e.type === 'notice').map((e) => e.message)).toEqual([
      expect.stringMatching(/^an interrupted run left 1 whole file/),
    ]);
    expect(await snapshot(out)).toEqual(before); // the journal and the manifest untouched
    const real = await run(out, ['a', 'b', 'c', 'd']);
    expect(real.fetched).toEqual(['mem:d']);
    expect(real.result.counts).toMatchObject({ done: 1, skipped: 3 });
  });
});
