/**
 * Issue 7 §3: `recpull ... --json | head -c 10`. A closed stdout (EPIPE) must not crash the run: the
 * renderer stops writing and the run goes on. Node reports EPIPE as an 'error' event on the stream, which
 * throws when nobody listens.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/events.js';
import { createRenderer } from '../../src/render/index.js';

const AT = '2026-11-22T00:00:00.000Z';

/** A stream whose reader went away after `okWrites` writes: later writes report EPIPE asynchronously. */
function brokenPipe(okWrites: number): NodeJS.WriteStream & { writes: string[] } {
  const s = new EventEmitter() as EventEmitter & {
    writes: string[];
    isTTY: boolean;
    write: (c: string) => boolean;
  };
  s.writes = [];
  s.isTTY = false;
  s.write = (chunk: string) => {
    s.writes.push(chunk);
    if (s.writes.length > okWrites) {
      const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
      process.nextTick(() => s.emit('error', err));
    }
    return true;
  };
  return s as unknown as NodeJS.WriteStream & { writes: string[] };
}

const skipped = (key: string): RunEvent => ({ type: 'item-skipped', at: AT, key, reason: 'done' });

describe('EPIPE on stdout (issue 7 §3)', () => {
  it('--json: after EPIPE nothing more is written and nothing throws', async () => {
    const stdout = brokenPipe(1);
    const stderr = brokenPipe(1000);
    const r = createRenderer({ json: true, quiet: false, verbose: false, progress: false, stdout, stderr });
    r.emit(skipped('a'));
    r.emit(skipped('b')); // fails with EPIPE
    await new Promise((resolve) => setImmediate(resolve)); // the 'error' event is delivered here
    r.emit(skipped('c'));
    r.emit({
      type: 'run-end',
      at: AT,
      counts: { done: 0, skipped: 3, failed: 0, wouldFetch: 0, bytes: 0 },
      ms: 1,
      exitCode: 0,
      interrupted: false,
      out: '/o',
    });
    r.stop();
    expect(stdout.writes).toHaveLength(2);
    expect(stderr.writes).toEqual([]);
  });

  it('plain lines on a closed stderr: the same', async () => {
    const stderr = brokenPipe(0);
    const r = createRenderer({
      json: false,
      quiet: false,
      verbose: true,
      progress: false,
      stdout: brokenPipe(9),
      stderr,
    });
    r.emit(skipped('a'));
    await new Promise((resolve) => setImmediate(resolve));
    r.emit(skipped('b'));
    expect(stderr.writes).toHaveLength(1);
  });
});
