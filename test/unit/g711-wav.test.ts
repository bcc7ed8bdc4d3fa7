/** The streaming G.711 → WAV wrapper: the header the sink's validator accepts, odd lengths, unknown lengths. */
import { describe, expect, it } from 'vitest';
import { AudioValidator } from '../../src/formats/audio.js';
import { G711_WAV_HEADER_BYTES, g711WavLength, wrapG711 } from '../../src/formats/g711-wav.js';

async function wrapped(body: Buffer, law: 'alaw' | 'mulaw', length?: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of wrapG711([body.subarray(0, 7), body.subarray(7)], law, length)) parts.push(c);
  return Buffer.concat(parts);
}

function validate(file: Buffer) {
  const v = new AudioValidator({ contentType: 'audio/wav' });
  v.push(file);
  return v.end();
}

describe('wrapG711', () => {
  it('writes an exact header for a known even length: A-law, 8 kHz mono, validated whole', async () => {
    const body = Buffer.alloc(1000, 0xd5);
    const file = await wrapped(body, 'alaw', body.length);
    expect(file.length).toBe(g711WavLength(1000));
    expect(file.readUInt16LE(20)).toBe(6);
    expect(file.readUInt32LE(24)).toBe(8000);
    expect(file.subarray(G711_WAV_HEADER_BYTES).equals(body)).toBe(true);
    expect(validate(file).wav).toMatchObject({
      codec: 'A-law',
      sampleRate: 8000,
      channels: 1,
      dataBytesDeclared: 1000,
    });
  });

  it('pads an odd length to a word boundary, and a short body is caught as truncated', async () => {
    const body = Buffer.alloc(1001, 0xff);
    const file = await wrapped(body, 'mulaw', 1001);
    expect(file.length).toBe(G711_WAV_HEADER_BYTES + 1002);
    expect(file.readUInt16LE(20)).toBe(7);
    expect(validate(file).bytes).toBe(file.length);
    const cut = await wrapped(body.subarray(0, 600), 'mulaw', 1001);
    expect(() => validate(cut)).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }));
  });

  it('uses the streaming size sentinel when the length is unknown', async () => {
    const file = await wrapped(Buffer.alloc(777, 0x55), 'alaw');
    expect(file.readUInt32LE(4)).toBe(0xffffffff);
    expect(file.readUInt32LE(54)).toBe(0xffffffff);
    expect(validate(file).wav?.dataBytesDeclared).toBeUndefined();
  });
});
