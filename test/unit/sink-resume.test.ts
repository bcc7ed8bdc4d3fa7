/**
 * The sink continues a `.part` after a cut-off body: the resumed bytes are appended after the kept ones
 * (FetchedBody.rangeStart === PartState.bytes) and the finished file is the whole recording.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { RecpullError } from '../../src/core/errors.js';
import { FdFile } from '../../src/core/fd-file.js';
import { PartJournal } from '../../src/core/journal.js';
import { type PartState, writeRecording } from '../../src/core/sink.js';
import { makeWav } from '../../src/sandbox/catalogue.js';
import { tempDir } from '../helpers/cli.js';

async function* chunks(buf: Buffer, size: number, failAfter?: number): AsyncIterable<Uint8Array> {
  for (let off = 0; off < buf.length; off += size) {
    if (failAfter !== undefined && off >= failAfter)
      throw new RecpullError('E_NETWORK', 'ECONNRESET', { retryable: true });
    yield buf.subarray(off, Math.min(off + size, buf.length));
  }
}

/** An output folder, a fresh part state, and the sink's inputs but the body (the path claimed: `rel`). */
async function setup(rel: string) {
  const out = await tempDir('recpull-sink-');
  await mkdir(join(out, '.recpull'), { recursive: true });
  const state: PartState = { bytes: 0, resumable: false };
  const common = {
    out,
    state,
    journal: new PartJournal(out),
    key: 'k',
    signal: new AbortController().signal,
    claimPath: async () => rel,
  };
  return { out, state, common };
}

describe('sink: resuming a .part', () => {
  it('appends the rest of the body after the bytes kept, and the file is identical', async () => {
    const { out, state, common } = await setup('a/rec.wav');
    const wav = makeWav('resume', 40_000);
    await expect(
      writeRecording({
        ...common,
        fetched: {
          body: chunks(wav, 4096, 16_384),
          contentType: 'audio/wav',
          length: wav.length,
          resumable: true,
        },
      }),
    ).rejects.toMatchObject({ code: 'E_NETWORK' });
    expect(state.bytes).toBe(16_384);
    const file = await writeRecording({
      ...common,
      fetched: {
        body: chunks(wav.subarray(state.bytes), 4096),
        contentType: 'audio/wav',
        length: wav.length - state.bytes,
        rangeStart: state.bytes,
      },
    });
    expect(file.bytes).toBe(wav.length);
    expect((await readFile(join(out, 'a/rec.wav'))).equals(wav)).toBe(true);
  });

  it('keeps every batch of a long body in order while the next is read, and all of them at a cut', async () => {
    const { out, state, common } = await setup('b/rec.wav');
    const wav = makeWav('batches', 3_500_000); // more than three 1 MiB write batches
    const cut = 40 * 65_536; // 2.5 MiB: two whole batches written, the third cut short
    await expect(
      writeRecording({
        ...common,
        fetched: {
          body: chunks(wav, 65_536, cut),
          contentType: 'audio/wav',
          length: wav.length,
          resumable: true,
        },
      }),
    ).rejects.toMatchObject({ code: 'E_NETWORK' });
    expect(state.bytes).toBe(cut);
    expect((await readFile(join(out, 'b/rec.wav.part'))).equals(wav.subarray(0, cut))).toBe(true);
    const file = await writeRecording({
      ...common,
      fetched: {
        body: chunks(wav.subarray(cut), 65_536),
        contentType: 'audio/wav',
        length: wav.length - cut,
        rangeStart: cut,
      },
    });
    expect(file.bytes).toBe(wav.length);
    expect((await readFile(join(out, 'b/rec.wav'))).equals(wav)).toBe(true);
  });

  it('writes a recording under 1 MiB with one writev, the format-sniffing chunk included, and keeps it at a cut', async () => {
    const writev = vi.spyOn(FdFile.prototype, 'writev');
    const write = vi.spyOn(FdFile.prototype, 'write');
    try {
      const { out, common } = await setup('c/rec.wav');
      const wav = makeWav('one-writev', 262_144);
      const file = await writeRecording({
        ...common,
        fetched: { body: chunks(wav, 65_536), contentType: 'audio/wav', length: wav.length },
      });
      expect(file.bytes).toBe(wav.length);
      expect((await readFile(join(out, 'c/rec.wav'))).equals(wav)).toBe(true);
      // the journal's line is the only other write; the recording's bytes go out in one system call
      const partWrites = writev.mock.calls.map((c) => c[0].reduce((n, b) => n + b.byteLength, 0));
      expect(partWrites).toEqual([wav.length]);
      expect(write.mock.calls.filter((c) => c[2] > 200)).toEqual([]);

      // cut right after the first chunk (the one read to learn the format): its bytes are kept for a resume
      const cutAt = await setup('d/rec.wav');
      await expect(
        writeRecording({
          ...cutAt.common,
          fetched: {
            body: chunks(wav, 65_536, 65_536),
            contentType: 'audio/wav',
            length: wav.length,
            resumable: true,
          },
        }),
      ).rejects.toMatchObject({ code: 'E_NETWORK' });
      expect(cutAt.state.bytes).toBe(65_536);
      expect((await readFile(join(cutAt.out, 'd/rec.wav.part'))).equals(wav.subarray(0, 65_536))).toBe(true);
    } finally {
      writev.mockRestore();
      write.mockRestore();
    }
  });
});
