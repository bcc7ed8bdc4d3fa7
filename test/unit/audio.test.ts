import { describe, expect, it } from 'vitest';
import { RecpullError } from '../../src/core/errors.js';
import { AudioValidator, mpegFrameLength, extFromContentType, sniffKind } from '../../src/formats/audio.js';
import { makeMp3, makeWav } from '../../src/sandbox/catalogue.js';

// ---- builders --------------------------------------------------------------------------------------------

const ascii = (s: string) => Buffer.from(s, 'latin1');

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** One RIFF chunk: id, declared size (default: body length), body, pad byte when the body is odd. */
function chunk(id: string, body: Buffer, declared = body.length): Buffer {
  const pad = body.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0);
  return Buffer.concat([ascii(id), u32le(declared), body, pad]);
}

/** A 16-byte PCM `fmt ` body. */
function fmtBody(tag = 1, channels = 1, rate = 8000, bits = 16): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  const align = (channels * bits) / 8;
  b.writeUInt32LE(rate * align, 8);
  b.writeUInt16LE(align, 12);
  b.writeUInt16LE(bits, 14);
  return b;
}

/** RIFF/WAVE around `chunks`, with the RIFF size computed (or forced) — data last, no pad after it. */
function wav(chunks: Buffer[], riffSize?: number): Buffer {
  const body = Buffer.concat([ascii('WAVE'), ...chunks]);
  return Buffer.concat([ascii('RIFF'), u32le(riffSize ?? body.length), body]);
}

/** The data chunk header + `n` bytes of samples (no pad), with an optional declared size. */
function dataChunk(n: number, declared = n): Buffer {
  const samples = Buffer.alloc(n);
  for (let i = 0; i < n; i++) samples[i] = (i * 37) & 0xff;
  return Buffer.concat([ascii('data'), u32le(declared), samples]);
}

function run(bytes: Uint8Array, opts: { contentType?: string } = {}, chunkSize = bytes.length || 1) {
  const v = new AudioValidator(opts);
  for (let i = 0; i < bytes.length; i += chunkSize) v.push(bytes.subarray(i, i + chunkSize));
  return v.end();
}

function failure(fn: () => unknown): RecpullError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RecpullError);
    return err as RecpullError;
  }
  throw new Error('expected a RecpullError');
}

// ---- WAV -------------------------------------------------------------------------------------------------

describe('AudioValidator — WAV', () => {
  const pcm = wav([chunk('fmt ', fmtBody()), dataChunk(1000)]);

  it('accepts a valid WAV in one chunk', () => {
    const r = run(pcm, { contentType: 'audio/wav' });
    expect(r).toMatchObject({ format: 'wav', ext: 'wav', contentType: 'audio/wav', bytes: pcm.length });
    expect(r.mismatch).toBeUndefined();
    expect(r.wav).toMatchObject({
      container: 'RIFF',
      codec: 'PCM',
      channels: 1,
      sampleRate: 8000,
      bitsPerSample: 16,
    });
    expect(r.wav?.dataBytesDeclared).toBe(1000);
  });

  it('accepts the sandbox µ-law WAV (fmt 18 bytes + fact) split at every header offset', () => {
    const file = makeWav('rec-1', 58 + 400);
    for (let cut = 1; cut < 70; cut++) {
      const v = new AudioValidator();
      v.push(file.subarray(0, cut));
      expect(v.format).toBe(cut >= 12 ? 'wav' : undefined);
      v.push(file.subarray(cut));
      expect(v.end().wav).toMatchObject({ formatTag: 7, codec: 'mu-law', dataBytesDeclared: 400 });
    }
  });

  it('accepts a WAV pushed one byte at a time, format known at byte 12', () => {
    const file = makeWav('rec-2', 200);
    const v = new AudioValidator();
    for (let i = 0; i < file.length; i++) {
      v.push(file.subarray(i, i + 1));
      expect(v.format).toBe(i + 1 >= 12 ? 'wav' : undefined);
    }
    expect(v.end().format).toBe('wav');
  });

  it('rejects a truncated WAV (data shorter than declared) with a retryable E_TRUNCATED', () => {
    const cut = pcm.subarray(0, pcm.length - 10);
    for (const size of [cut.length, 1, 7]) {
      const err = failure(() => run(cut, {}, size));
      expect(err.code).toBe('E_TRUNCATED');
      expect(err.retryable).toBe(true);
      expect(err.message).toContain('declares 1000 bytes but 990 arrived');
    }
  });

  it('rejects a body that ends inside the header or before the data chunk', () => {
    for (const n of [4, 11, 12, 20, 30, 44]) {
      const err = failure(() => run(pcm.subarray(0, n)));
      expect(err.code).toBe('E_TRUNCATED');
      expect(err.retryable).toBe(true);
    }
    const noData = wav([chunk('fmt ', fmtBody()), chunk('LIST', Buffer.alloc(20))]);
    expect(failure(() => run(noData)).message).toMatch(/before the "data" chunk/);
  });

  it('rejects fewer bytes than the RIFF size declares, accepts extra trailing chunks', () => {
    const withList = wav([chunk('fmt ', fmtBody()), dataChunk(100), chunk('LIST', Buffer.alloc(30))]);
    expect(run(withList).format).toBe('wav');
    const cutList = withList.subarray(0, withList.length - 20);
    const err = failure(() => run(cutList));
    expect(err.code).toBe('E_TRUNCATED');
    expect(err.message).toMatch(/RIFF size declares \d+ bytes but \d+ arrived/);
    // trailing junk beyond the RIFF size is fine
    expect(run(Buffer.concat([pcm, Buffer.alloc(13)])).format).toBe('wav');
  });

  it('tolerates a missing pad byte after an odd-sized data chunk', () => {
    const odd = wav([chunk('fmt ', fmtBody(7, 1, 8000, 8)), dataChunk(101)]);
    // RIFF size as a writer that counts the pad byte would declare it
    odd.writeUInt32LE(odd.length - 8 + 1, 4);
    expect(run(odd).format).toBe('wav');
  });

  for (const sentinel of [0, 0xffffffff, 0x7ffff000]) {
    it(`accepts data size sentinel 0x${sentinel.toString(16)} with any length`, () => {
      for (const n of [0, 1, 999, 5000]) {
        const file = wav([chunk('fmt ', fmtBody()), dataChunk(n, sentinel)], sentinel);
        const r = run(file, {}, 13);
        expect(r.wav?.dataBytesDeclared).toBeUndefined();
        // a real RIFF size with a sentinel data size: length logic is off (SoX)
        const file2 = wav([chunk('fmt ', fmtBody()), dataChunk(n, sentinel)], 1_000_000);
        expect(run(file2).format).toBe('wav');
      }
    });
  }

  it('rejects a data chunk before fmt with E_BAD_AUDIO', () => {
    const file = wav([dataChunk(10), chunk('fmt ', fmtBody())]);
    const err = failure(() => run(file));
    expect(err.code).toBe('E_BAD_AUDIO');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/"data" chunk comes before any "fmt "/);
    // the error is raised by push, as soon as the data header arrives, and is sticky
    const v = new AudioValidator();
    expect(() => v.push(file)).toThrow(RecpullError);
    expect(() => v.end()).toThrow(/before any "fmt "/);
  });

  it('rejects a too-short fmt chunk and a corrupt chunk id', () => {
    expect(failure(() => run(wav([chunk('fmt ', Buffer.alloc(14)), dataChunk(4)]))).code).toBe('E_BAD_AUDIO');
    const corrupt = wav([chunk('fmt ', fmtBody()), Buffer.from([0, 1, 2, 3, 4, 0, 0, 0]), dataChunk(4)]);
    expect(failure(() => run(corrupt)).message).toMatch(/corrupt WAV header/);
  });

  it('walks LIST/JUNK chunks before fmt, including a large one split across many pushes', () => {
    const list = Buffer.alloc(70_001, 0x41); // odd: padded
    const file = wav([
      chunk('LIST', list),
      chunk('JUNK', Buffer.alloc(28)),
      chunk('fmt ', fmtBody(6, 2, 8000, 8)),
      dataChunk(64),
    ]);
    for (const size of [1, 7, 4096, file.length]) {
      const r = run(file, {}, size);
      expect(r.wav).toMatchObject({ codec: 'A-law', channels: 2, dataBytesDeclared: 64 });
    }
  });

  it('accepts RF64 with a ds64 chunk and checks the 64-bit data size', () => {
    const n = 300;
    const ds64 = Buffer.alloc(28);
    const build = (dataSize: bigint) => {
      const fmt = chunk('fmt ', fmtBody());
      const data = dataChunk(n, 0xffffffff);
      const riff = BigInt(4 + 36 + fmt.length + data.length);
      ds64.writeBigUInt64LE(riff, 0);
      ds64.writeBigUInt64LE(dataSize, 8);
      ds64.writeBigUInt64LE(dataSize / 2n, 16);
      return Buffer.concat([ascii('RF64'), u32le(0xffffffff), ascii('WAVE'), chunk('ds64', ds64), fmt, data]);
    };
    const ok = run(build(BigInt(n)), {}, 5);
    expect(ok.wav).toMatchObject({ container: 'RF64', dataBytesDeclared: n });
    const err = failure(() => run(build(5_000_000_000n)));
    expect(err.code).toBe('E_TRUNCATED');
    expect(err.message).toContain('declares 5000000000 bytes but 300 arrived');
    // RF64 without ds64
    const bad = Buffer.concat([
      ascii('RF64'),
      u32le(0xffffffff),
      ascii('WAVE'),
      chunk('fmt ', fmtBody()),
      dataChunk(4),
    ]);
    expect(failure(() => run(bad)).message).toMatch(/no "ds64"/);
  });

  it('reports a Content-Type mismatch but lets the bytes win', () => {
    const r = run(pcm, { contentType: 'audio/mpeg' });
    expect(r.format).toBe('wav');
    expect(r.mismatch).toMatch(/audio\/mpeg.*WAV/);
    expect(run(pcm, { contentType: 'application/octet-stream' }).mismatch).toBeUndefined();
    expect(run(pcm, { contentType: 'audio/x-wav; codec=1' }).mismatch).toBeUndefined();
  });
});

// ---- MP3 -------------------------------------------------------------------------------------------------

describe('AudioValidator — MP3', () => {
  // One whole MPEG-1 Layer III frame: 128 kbit/s, 44.1 kHz, no padding = 417 bytes.
  const frame = Buffer.from([0xff, 0xfb, 0x90, 0xc4, ...new Array(413).fill(0x55)]);

  it('accepts an MP3 with an ID3v2 tag, at any split', () => {
    const file = makeMp3('m1', 5000);
    for (const size of [1, 2, 3, 11, 43, file.length]) {
      const r = run(file, { contentType: 'audio/mpeg' }, size);
      expect(r).toMatchObject({ format: 'mp3', ext: 'mp3', contentType: 'audio/mpeg' });
      expect(r.mismatch).toBeUndefined();
    }
    const v = new AudioValidator();
    v.push(file.subarray(0, 2));
    expect(v.format).toBeUndefined();
    v.push(file.subarray(2, 3));
    expect(v.format).toBe('mp3');
  });

  it('accepts a bare frame sync; format known at 3 bytes', () => {
    expect(run(frame).format).toBe('mp3');
    const v = new AudioValidator({ contentType: 'audio/wav' });
    v.push(frame.subarray(0, 2));
    expect(v.format).toBeUndefined();
    v.push(frame.subarray(2));
    expect(v.format).toBe('mp3');
    expect(v.end().mismatch).toMatch(/audio\/wav.*MP3/);
  });

  it('requires a frame sync after the ID3v2 tag (syncsafe size), allows a second tag', () => {
    const tag = (size: number) =>
      Buffer.concat([
        Buffer.from([
          0x49,
          0x44,
          0x33,
          4,
          0,
          0,
          (size >> 21) & 0x7f,
          (size >> 14) & 0x7f,
          (size >> 7) & 0x7f,
          size & 0x7f,
        ]),
        Buffer.alloc(size),
      ]);
    expect(run(Buffer.concat([tag(300), frame]), {}, 7).format).toBe('mp3');
    expect(run(Buffer.concat([tag(10), tag(200), frame]), {}, 1).format).toBe('mp3');
    const err = failure(() => run(Buffer.concat([tag(300), ascii('<html>nope</html>')])));
    expect(err.code).toBe('E_BAD_AUDIO');
    expect(err.message).toMatch(/310-byte ID3v2 tag is not followed by an MPEG audio frame/);
    expect(failure(() => run(tag(300))).code).toBe('E_TRUNCATED');
    expect(failure(() => run(tag(300).subarray(0, 100))).code).toBe('E_TRUNCATED');
  });

  it('follows the frame chain: a body cut inside a frame is truncated, whatever Content-Length said', () => {
    const file = makeMp3('cut', 20_000);
    for (const size of [1, 7, 417, 4096]) expect(run(file, {}, size).format).toBe('mp3');
    const cut = file.subarray(0, file.length - 100);
    for (const size of [1, 7, 417, 4096]) {
      const err = failure(() => run(cut, { contentType: 'audio/mpeg' }, size));
      expect(err.code).toBe('E_TRUNCATED');
      expect(err.message).toMatch(/in the middle of frame \d+ \(100 bytes short\)/);
    }
    const withV1 = Buffer.concat([file, Buffer.from('TAG'), Buffer.alloc(125)]);
    expect(run(withV1, {}, 50).format).toBe('mp3');
    expect(failure(() => run(withV1.subarray(0, withV1.length - 20))).code).toBe('E_TRUNCATED');
    expect(mpegFrameLength(Buffer.from([0xff, 0xfb, 0x92, 0xc4]))).toBe(418); // padded
    expect(mpegFrameLength(Buffer.from([0xff, 0xe3, 0x18, 0xc4]))).toBe(72); // MPEG-2.5 L3 8 kHz 8 kbit/s
    expect(mpegFrameLength(Buffer.from([0xff, 0xf3, 0x48, 0xc4]))).toBe(144); // MPEG-2 L3 16 kHz 32 kbit/s
  });
});

// ---- not audio -------------------------------------------------------------------------------------------

describe('AudioValidator — error pages', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['html', '<!DOCTYPE html><html><body>Session expired</body></html>', /HTML page/],
    ['html', '\r\n  \t<html lang="en"><head><title>401</title></head></html>', /HTML page/],
    ['html', '\uFEFF<!doctype html>\n<title>Error</title>', /HTML page/],
    ['xml', '<?xml version="1.0"?><error code="104-005"/>', /XML document/],
    ['xml', '<soap:Envelope xmlns:soap="http://x">', /XML document/],
    ['json', '{"errorCode":"CMN-301","message":"Rate limit"}', /JSON document/],
    ['json', '  [1, 2, 3]', /JSON document/],
    ['text', 'Internal Server Error: something went wrong here', /plain text/],
  ];
  for (const [kind, body, re] of cases) {
    it(`rejects ${kind}: ${JSON.stringify(body.slice(0, 24))}`, () => {
      const bytes = Buffer.from(body, 'utf8');
      expect(sniffKind(bytes)).toBe(kind);
      const err = failure(() => run(bytes, { contentType: 'text/html; charset=utf-8' }));
      expect(err.code).toBe('E_BAD_AUDIO');
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(re);
      expect(err.message).toContain('Content-Type: text/html; charset=utf-8');
      // thrown by push (not only by end), even when bytes trickle in
      const v = new AudioValidator();
      let thrown: unknown;
      try {
        for (let i = 0; i < bytes.length; i++) v.push(bytes.subarray(i, i + 1));
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(RecpullError);
      expect((thrown as RecpullError).message).toMatch(re);
    });
  }

  it('rejects UTF-16 (BOM) HTML and unknown binary bytes', () => {
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('<html><body>x</body></html>', 'utf16le'),
    ]);
    expect(sniffKind(utf16)).toBe('html');
    expect(failure(() => run(utf16)).code).toBe('E_BAD_AUDIO');
    const bin = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    expect(sniffKind(bin)).toBe('unknown');
    expect(failure(() => run(bin)).message).toMatch(/unknown binary data/);
    const avi = Buffer.concat([ascii('RIFF'), u32le(100), ascii('AVI LIST')]);
    expect(failure(() => run(avi)).code).toBe('E_BAD_AUDIO');
  });

  it('short non-audio bodies are classified at end()', () => {
    expect(failure(() => run(ascii('{}'))).message).toMatch(/JSON/);
    expect(failure(() => run(ascii('<a'))).message).toMatch(/XML|HTML/);
    expect(failure(() => run(ascii('OK'))).message).toMatch(/plain text/);
    expect(failure(() => run(ascii(' \n'))).code).toBe('E_BAD_AUDIO');
  });

  it('an empty body is E_TRUNCATED (retryable): no bytes say it is an error page', () => {
    const err = failure(() => new AudioValidator().end());
    expect(err.code).toBe('E_TRUNCATED');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/empty body/);
    // a body ending on a prefix of an audio signature is a cut too
    expect(failure(() => run(ascii('RIF'))).code).toBe('E_TRUNCATED');
    expect(failure(() => run(Buffer.from([0xff, 0xfb]))).code).toBe('E_TRUNCATED');
  });
});

describe('extFromContentType / sniffKind', () => {
  it('maps content types', () => {
    expect(extFromContentType('audio/wav')).toBe('wav');
    expect(extFromContentType('Audio/X-WAV; charset=binary')).toBe('wav');
    expect(extFromContentType('audio/wave')).toBe('wav');
    expect(extFromContentType('audio/vnd.wave')).toBe('wav');
    expect(extFromContentType('audio/mpeg')).toBe('mp3');
    expect(extFromContentType('audio/mp3')).toBe('mp3');
    expect(extFromContentType('text/html')).toBeUndefined();
    expect(extFromContentType(undefined)).toBeUndefined();
  });

  it('sniffs audio heads', () => {
    expect(sniffKind(makeWav('a', 100).subarray(0, 12))).toBe('wav');
    expect(sniffKind(makeMp3('a', 1000).subarray(0, 3))).toBe('mp3');
    expect(sniffKind(Buffer.from([0xff, 0xfb, 0x90]))).toBe('mp3');
    expect(sniffKind(Buffer.from([0xff, 0xfe, 0x7b, 0x00]))).toBe('json'); // UTF-16LE BOM, not a Layer I frame
    expect(sniffKind(new Uint8Array(0))).toBe('unknown');
  });
});
