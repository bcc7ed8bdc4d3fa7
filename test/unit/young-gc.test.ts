/**
 * The sink's paced young-generation collections (src/core/young-gc.ts): one per 4 MiB streamed, shared by
 * every download of the process; a collector that throws turns the pacing off; without V8's `gc` (no
 * --expose-gc, as in this test process) nothing is collected and nothing throws.
 */
import { describe, expect, it } from 'vitest';
import { BYTES_PER_COLLECTION, YoungCollections } from '../../src/core/young-gc.js';

const MiB = 1024 * 1024;

describe('young-generation collections paced by bytes streamed', () => {
  it('asks once per 4 MiB, counting every caller towards one budget', () => {
    let calls = 0;
    const young = new YoungCollections(() => calls++);
    for (let i = 0; i < 9; i++) young.streamed(MiB); // 9 MiB in 1 MiB batches
    expect(calls).toBe(2);
    young.streamed(256 * 1024); // small files add up too
    for (let i = 0; i < 11; i++) young.streamed(256 * 1024);
    expect(calls).toBe(3); // 1 MiB left over + 3 MiB = the third 4 MiB
    young.streamed(BYTES_PER_COLLECTION * 3); // one large batch is one request, not three
    expect(calls).toBe(4);
  });

  it('stops asking after a collector throws, and a missing one is never looked for again', () => {
    let calls = 0;
    const young = new YoungCollections(() => {
      calls++;
      throw new TypeError('unknown option');
    });
    expect(() => young.streamed(BYTES_PER_COLLECTION * 2)).not.toThrow();
    expect(() => young.streamed(BYTES_PER_COLLECTION * 2)).not.toThrow();
    expect(calls).toBe(1);
    const never = new YoungCollections(null);
    expect(() => never.streamed(BYTES_PER_COLLECTION * 5)).not.toThrow();
  });

  it("takes V8's gc from a new context only when --expose-gc is set (here it is not: a no-op)", () => {
    const young = new YoungCollections();
    expect(() => young.streamed(BYTES_PER_COLLECTION)).not.toThrow();
    expect(() => young.streamed(BYTES_PER_COLLECTION)).not.toThrow();
  });
});
