/**
 * The streaming base64 decoder: byte-identical to Node's decoder on valid text split anywhere, whitespace
 * skipped, and each kind of invalid text refused with its code (corrupt: E_PROTOCOL, cut: E_TRUNCATED).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isRecpullError } from '../../src/core/errors.js';
import { Base64Decoder, decodeBase64Stream } from '../../src/formats/base64-stream.js';

/** Decodes `text` fed as the given pieces. */
function decodePieces(pieces: string[]): Buffer {
  const d = new Base64Decoder();
  const out: Uint8Array[] = [];
  for (const p of pieces) out.push(d.push(Buffer.from(p, 'latin1')));
  out.push(d.end());
  return Buffer.concat(out);
}

/** Every way of splitting `text` in two, plus one byte at a time. */
function splits(text: string): string[][] {
  const all: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) all.push([text.slice(0, i), text.slice(i)]);
  return all;
}

function errorOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (isRecpullError(err)) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('Base64Decoder', () => {
  it('decodes lengths 0..20 (every padding case) split at every position', () => {
    for (let n = 0; n <= 20; n++) {
      const bytes = randomBytes(n);
      const text = bytes.toString('base64');
      for (const pieces of splits(text)) expect(decodePieces(pieces).equals(bytes)).toBe(true);
    }
  });

  it('skips CR, LF, spaces and tabs anywhere, including inside the padding', () => {
    const bytes = randomBytes(100);
    const wrapped = bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
    expect(decodePieces([wrapped]).equals(bytes)).toBe(true);
    const spaced = ` ${bytes.subarray(0, 4).toString('base64').split('').join('\t')} \n`;
    expect(decodePieces([spaced]).equals(bytes.subarray(0, 4))).toBe(true);
    expect(decodePieces(['QQ= =\n'])).toEqual(Buffer.from('A'));
  });

  it('refuses an invalid character with E_PROTOCOL (not retryable) and its offset, wherever the split is', () => {
    const text = 'QUJD\nRE-F';
    for (const pieces of splits(text)) {
      const err = errorOf(() => decodePieces(pieces));
      expect(err.code).toBe('E_PROTOCOL');
      expect(err.retryable).toBe(false);
      expect(err.message).toContain('invalid character "-" at character 7');
    }
    expect(errorOf(() => decodePieces(['QUJD\u0000'])).message).toContain('0x00');
    expect(errorOf(() => decodePieces(['QUJD_'])).code).toBe('E_PROTOCOL'); // base64url is not accepted
  });

  it('refuses bad padding and data after the padding', () => {
    for (const text of ['=AAA', 'A===', 'QQ==A', 'QUI=QUJD', 'QQ=A', 'QQ===', 'QUI==']) {
      for (const pieces of splits(text)) {
        const err = errorOf(() => decodePieces(pieces));
        expect([text, err.code, err.retryable]).toEqual([text, 'E_PROTOCOL', false]);
      }
    }
  });

  it('refuses a text that ends mid-quantum with retryable E_TRUNCATED', () => {
    for (const text of ['Q', 'QU', 'QUJ', 'QUJDR', 'QQ=']) {
      const err = errorOf(() => decodePieces([text]));
      expect([text, err.code, err.retryable]).toEqual([text, 'E_TRUNCATED', true]);
    }
  });

  it('decodes a large text in big chunks with output of ¾ of each chunk at most', async () => {
    const bytes = randomBytes(3 * 100_000 + 1);
    const text = Buffer.from(bytes.toString('base64'));
    async function* chunks() {
      for (let i = 0; i < text.length; i += 65_537) yield text.subarray(i, i + 65_537);
    }
    const out: Uint8Array[] = [];
    for await (const c of decodeBase64Stream(chunks())) {
      expect(c.length).toBeLessThanOrEqual(Math.ceil((65_537 * 3) / 4) + 3);
      out.push(c);
    }
    expect(Buffer.concat(out).equals(bytes)).toBe(true);
  });
});
