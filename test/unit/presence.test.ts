/**
 * The skip pass's presence checks (src/core/presence.ts): answers from synchronous stats and from the
 * worker agree, come back in the order added, and a run hands over what it holds before it waits on a
 * slow source.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/events.js';
import type { IndexedFile } from '../../src/core/manifest-index.js';
import { type PresenceOptions, PresencePipeline } from '../../src/core/presence.js';
import { runDownloads } from '../../src/core/run.js';
import type { RecordingRef, Source } from '../../src/core/source.js';
import { makeWav } from '../../src/sandbox/catalogue.js';
import { tempDir } from '../helpers/cli.js';

/** Cases: [name, files, present?] over a folder holding a.wav (3 bytes) and sub/b.wav (5 bytes). */
const CASES: [string, IndexedFile[], boolean][] = [
  ['whole', [{ path: 'a.wav', bytes: 3 }], true],
  [
    'two files',
    [
      { path: 'a.wav', bytes: 3 },
      { path: 'sub/b.wav', bytes: 5 },
    ],
    true,
  ],
  ['resized', [{ path: 'a.wav', bytes: 4 }], false],
  ['missing', [{ path: 'gone.wav', bytes: 3 }], false],
  [
    'one of two missing',
    [
      { path: 'sub/b.wav', bytes: 5 },
      { path: 'sub/c.wav', bytes: 1 },
    ],
    false,
  ],
  ['outside the folder', [{ path: '../a.wav', bytes: 3 }], false],
  // the worker's message is split at NULs: a NUL in a path must not shift the answers after it
  [
    'a NUL in a path, then a present file',
    [
      { path: 'a.wav\0b', bytes: 3 },
      { path: 'a.wav', bytes: 3 },
    ],
    false,
  ],
  ['after a NUL', [{ path: 'sub/b.wav', bytes: 5 }], true],
  ['a folder, not a file', [{ path: 'sub', bytes: 0 }], false],
  ['no files', [], true],
];

async function check(opts: PresenceOptions, rounds: number): Promise<[string, boolean][]> {
  const out = await tempDir();
  await mkdir(join(out, 'sub'));
  await writeFile(join(out, 'a.wav'), 'abc');
  await writeFile(join(out, 'sub', 'b.wav'), 'abcde');
  const got: [string, boolean][] = [];
  const p = new PresencePipeline<string>(
    out,
    (name, present) => {
      got.push([name, present]);
      return undefined;
    },
    opts,
  );
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [name, files] of CASES) {
        const waiting = p.add(`${r}:${name}`, files);
        if (waiting) await waiting;
      }
    }
    await p.flush();
  } finally {
    p.close();
  }
  return got;
}

describe('PresencePipeline', () => {
  const expected = (rounds: number) =>
    Array.from({ length: rounds }, (_, r) =>
      CASES.map(([n, , ok]): [string, boolean] => [`${r}:${n}`, ok]),
    ).flat();

  it('answers each value in the order added, synchronously', async () => {
    expect(await check({}, 3)).toEqual(expected(3));
  });

  it.each([
    { workerAfter: 0, batchSize: 1, syncWhileStarting: false },
    { workerAfter: 0, batchSize: 5, syncWhileStarting: false },
    { workerAfter: 4, batchSize: 3, syncWhileStarting: false },
  ])('answers the same through the worker (%j)', async (opts) => {
    expect(await check(opts, 7)).toEqual(expected(7));
  });

  it('checks synchronously while the worker starts, then hands batches to it', async () => {
    const out = await tempDir();
    await writeFile(join(out, 'a.wav'), 'abc');
    const got: [number, boolean][] = [];
    const p = new PresencePipeline<number>(out, (n, present) => void got.push([n, present]), {
      workerAfter: 0,
      batchSize: 2,
    });
    let n = 0;
    let firstQueued: number | undefined;
    try {
      // until the worker is up each add is answered before it returns; the first that is not went to it
      for (const deadline = Date.now() + 10_000; firstQueued === undefined && Date.now() < deadline;) {
        const before = got.length;
        const waiting = p.add(n++, [{ path: n % 2 ? 'a.wav' : 'b.wav', bytes: 3 }]);
        if (waiting) await waiting;
        if (got.length === before) firstQueued = n - 1;
        else await new Promise((resolve) => setTimeout(resolve, 5));
      }
      for (let i = 0; i < 5; i++) await p.add(n++, [{ path: n % 2 ? 'a.wav' : 'b.wav', bytes: 3 }]);
      await p.flush();
    } finally {
      p.close();
    }
    expect(got[0]).toEqual([0, true]); // the first one, at once: the worker was not up yet
    expect(firstQueued).toBeGreaterThan(0);
    expect(got).toEqual(Array.from({ length: n }, (_, i): [number, boolean] => [i, i % 2 === 0]));
  });

  it('hands nothing over after close()', async () => {
    const out = await tempDir();
    const got: string[] = [];
    const p = new PresencePipeline<string>(out, (name) => void got.push(name), {
      workerAfter: 0,
      batchSize: 2,
      syncWhileStarting: false,
    });
    for (const name of ['a', 'b', 'c']) await p.add(name, [{ path: 'x', bytes: 1 }]);
    p.close();
    await p.flush();
    expect(got).toEqual([]);
    expect(p.pending).toBe(0);
  });
});

describe('skip pass over a slow source', () => {
  it('hands over the done keys it holds before it waits on the source', async () => {
    const out = await tempDir();
    const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);
    const ref = (id: string): RecordingRef => ({ key: `mem:${id}`, vendor: 'mem', meta: { id } });
    let phase: 'first' | 'second' = 'first';
    let opened: () => void = () => {};
    // the source's second part waits until the first part's 20 skips are out (or 5 s, so a bug fails the
    // assertions below instead of hanging the suite)
    const gate = new Promise<void>((resolve) => {
      opened = resolve;
      setTimeout(resolve, 5000).unref();
    });
    const log: string[] = [];
    const source = (wait: boolean): Source => ({
      vendor: 'mem',
      fields: ['id'],
      defaultTemplate: '{id}.{ext}',
      async *refs() {
        for (const id of ids) yield ref(id);
        if (wait) {
          log.push('source waits');
          await gate;
          log.push('source goes on');
        }
        yield ref('late');
      },
      async fetch(r) {
        const b = makeWav(r.key, 300);
        return { body: Readable.from([b]), contentType: 'audio/wav', length: b.length };
      },
    });
    const runOnce = (wait: boolean, presence?: PresenceOptions) => {
      const events: RunEvent[] = [];
      return runDownloads(source(wait), {
        out,
        profile: 'test',
        concurrency: 2,
        retries: 0,
        force: false,
        dryRun: false,
        metadata: false,
        signal: new AbortController().signal,
        emit: (e) => {
          events.push(e);
          if (e.type === 'item-skipped') {
            log.push(`skip ${e.key}`);
            if (phase === 'second' && log.filter((l) => l.startsWith('skip')).length === ids.length) opened();
          }
        },
        ...(presence ? { presence } : {}),
      }).then((result) => ({ result, events }));
    };
    await runOnce(false);
    phase = 'second';
    const { result } = await runOnce(true, { workerAfter: 0, batchSize: 1000, syncWhileStarting: false });
    expect(result.counts).toMatchObject({ skipped: 21, done: 0, failed: 0 });
    const waits = log.indexOf('source waits');
    const goesOn = log.indexOf('source goes on');
    expect(log.slice(waits + 1, goesOn)).toEqual(ids.map((id) => `skip mem:${id}`));
  });
});
