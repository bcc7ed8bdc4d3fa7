/**
 * Issue 7 §5: what reaches a terminal, a log or a file name. Control characters and bidi controls from
 * input values or servers are shown escaped; file names never hold them; template fields are own
 * properties only; redaction touches values, never JSON keys or the events' fixed vocabulary; short
 * secrets are reported.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { statusCommand } from '../../src/cli/status.js';
import type { RunEvent } from '../../src/core/events.js';
import { manifestPath } from '../../src/core/manifest.js';
import { clearSecrets, redact, registerSecret, shortSecretWarnings } from '../../src/core/redact.js';
import { renderTemplate, sanitizeSegment } from '../../src/core/template.js';
import { escapeControls } from '../../src/render/format.js';
import { createRenderer, redactEvent } from '../../src/render/index.js';
import { tempDir } from '../helpers/cli.js';

afterEach(() => {
  clearSecrets();
  vi.restoreAllMocks();
});

const AT = '2026-11-22T00:00:00.000Z';
/** A key that tries to fake a summary line, move the cursor and reverse the text. */
const EVIL = 'k1\n3 done, 0 skipped, 0 failed, 0 B in 0.1s\r\u001b[2K\u202egnp.exe\u2028x\u0085y';
const HOSTILE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

function fakeStream(isTTY = false): NodeJS.WriteStream & { text: () => string } {
  let text = '';
  const s = {
    isTTY,
    columns: 120,
    write(chunk: string | Uint8Array) {
      text += String(chunk);
      return true;
    },
    on: () => s,
    once: () => s,
    off: () => s,
    removeListener: () => s,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    clearScreenDown: () => true,
    text: () => text,
  };
  return s as unknown as NodeJS.WriteStream & { text: () => string };
}

/** A renderer writing to fake streams: `--json` or plain lines, or the progress display on a TTY. */
function renderTo(
  opts: { json?: boolean; verbose?: boolean; tty?: boolean; stdout?: ReturnType<typeof fakeStream> } = {},
) {
  const stdout = opts.stdout ?? fakeStream();
  const stderr = fakeStream(opts.tty ?? false);
  const r = createRenderer({
    json: opts.json ?? false,
    quiet: false,
    verbose: opts.verbose ?? false,
    progress: opts.tty ?? false,
    stdout,
    stderr,
  });
  return { r, stdout, stderr };
}

const failed: RunEvent = {
  type: 'item-failed',
  at: AT,
  key: EVIL,
  attempts: 2,
  error: { code: 'E_HTTP', message: `server said \u001b]0;pwned\u0007 ${EVIL}`, vendorCode: 'X\rY' },
};

describe('escaping what reaches a terminal (issue 7 §5)', () => {
  it('escapeControls shows C0, C1, DEL and bidi controls as escapes, and keeps ordinary text', () => {
    expect(escapeControls('a\nb\rc\td\u001b[0m\u007f\u0085\u202e\u2066\u2028é 日本')).toBe(
      'a\\nb\\rc\\td\\x1b[0m\\x7f\\x85\\u202e\\u2066\\u2028é 日本',
    );
  });

  it('plain lines: a FAILED line stays one line, with no raw control or bidi character', () => {
    const { r, stderr } = renderTo({ verbose: true });
    r.emit(failed);
    r.emit({ type: 'notice', at: AT, level: 'warn', message: `bad value ${EVIL}` });
    r.emit({ type: 'item-skipped', at: AT, key: EVIL, reason: 'dry-run' });
    r.emit({
      type: 'item-done',
      at: AT,
      key: EVIL,
      files: [{ path: `a/${EVIL}.wav`, bytes: 1, sha256: 'x', contentType: 'audio/wav' }],
      attempts: 1,
      ms: 1,
    });
    r.stop();
    const lines = stderr.text().split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1)).toHaveLength(4);
    for (const line of lines) expect(line).not.toMatch(HOSTILE);
    expect(lines[0]).toContain('FAILED k1\\n3 done');
  });

  it('progress display: logged lines are escaped', () => {
    const { r, stderr } = renderTo({ verbose: true, tty: true });
    r.emit({
      type: 'run-start',
      at: AT,
      vendor: 'v',
      profile: 'p\u202e',
      out: '/o\n',
      concurrency: 1,
      dryRun: false,
    });
    r.emit({ type: 'item-start', at: AT, key: EVIL, attempt: 1 });
    r.emit(failed);
    r.emit({ type: 'notice', at: AT, level: 'warn', message: EVIL });
    r.emit({
      type: 'run-end',
      at: AT,
      counts: { done: 0, skipped: 0, failed: 1, wouldFetch: 0, bytes: 0 },
      ms: 5,
      exitCode: 1,
      interrupted: false,
      out: '/o',
    });
    r.stop();
    // cursor movement of the bars is the display's own; the values must not carry any
    const text = stderr.text();
    expect(text).toContain('FAILED k1\\n3 done');
    expect(text).not.toContain('\u202e');
    expect(text).not.toContain('\u001b]0;pwned');
    expect(text).not.toMatch(/\n3 done, 0 skipped/);
  });

  it('recpull status escapes keys and messages from the manifest', async () => {
    const out = await tempDir();
    await mkdir(join(out, '.recpull'));
    const rec = {
      key: EVIL,
      status: 'failed',
      files: [],
      attempts: 1,
      at: AT,
      error: failed.type === 'item-failed' ? failed.error : undefined,
    };
    await writeFile(manifestPath(out), `${JSON.stringify(rec)}\n`);
    let text = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      text += String(c);
      return true;
    });
    await statusCommand({ exitCode: 0, stop: new AbortController().signal, vendors: [] }).parseAsync([out], {
      from: 'user',
    });
    vi.restoreAllMocks();
    expect(text).toContain('k1\\n3 done');
    for (const line of text.split('\n')) expect(line).not.toMatch(HOSTILE);
  });
});

describe('file names (issue 7 §5)', () => {
  it('replaces control characters, bidi controls and line separators', () => {
    expect(sanitizeSegment('a\u202egnp.exe')).toBe('a_gnp.exe');
    for (const ch of [
      '\u061c',
      '\u200e',
      '\u200f',
      '\u202a',
      '\u202d',
      '\u2066',
      '\u2069',
      '\u2028',
      '\u2029',
      '\u0085',
      '\u001b',
    ])
      expect(sanitizeSegment(`x${ch}y`)).toBe('x_y');
    expect(renderTemplate('{id}.wav', { id: EVIL })).not.toMatch(HOSTILE);
  });

  it('looks template fields up as own properties only', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(() => renderTemplate(`{${name}}.wav`, { id: 'x' })).toThrow(
        expect.objectContaining({ code: 'E_TEMPLATE' }) as Error,
      );
    expect(renderTemplate('{constructor}.wav', { constructor: 'c' } as never)).toBe('c.wav');
  });
});

describe('redaction of events (issue 7 §5)', () => {
  it('--json redacts values, never keys or the fixed vocabulary', () => {
    registerSecret('type');
    registerSecret('item-failed');
    registerSecret('E_HTTP');
    const { r, stdout } = renderTo({ json: true });
    r.emit({
      ...failed,
      key: 'timplus:type:1',
      error: { code: 'E_HTTP', message: 'bad type E_HTTP item-failed' },
    } as RunEvent);
    r.emit({ type: 'notice', at: AT, level: 'warn', message: 'the type is wrong' });
    r.stop(); // --json lines are written at the end of the turn, or by stop()
    const lines = stdout
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      type: 'item-failed',
      key: 'timplus:***:1',
      error: { code: 'E_HTTP', message: 'bad *** *** ***' },
    });
    expect(lines[1]).toMatchObject({ type: 'notice', level: 'warn', message: 'the *** is wrong' });
  });

  it('a `__proto__` key in a value is copied as data and redacted, not turned into a prototype', () => {
    registerSecret('s3cret-pw');
    const value = JSON.parse('{"detail":{"__proto__":{"token":"s3cret-pw"},"ok":"s3cret-pw!"}}') as object;
    const copy = redactEvent(value);
    expect(JSON.stringify(copy)).toBe('{"detail":{"__proto__":{"token":"***"},"ok":"***!"}}');
    expect(Object.getPrototypeOf((copy as { detail: object }).detail)).toBe(Object.prototype);
  });

  it('copies only what changes: a value with nothing to redact is returned as it is, and none is modified', () => {
    registerSecret('s3cret-pw');
    const clean = {
      type: 'item-skipped',
      at: AT,
      key: 'timplus:1:L0:a',
      reason: 'done',
      list: ['x', { y: 1 }],
    };
    expect(redactEvent(clean)).toBe(clean);
    const text = '{"a":1,"__proto__":{"k":"v"},"b":["ok","s3cret-pw"],"c":{"d":"s3cret-pw"},"e":"x"}';
    const dirty = JSON.parse(text) as Record<string, unknown>;
    const copy = redactEvent(dirty);
    expect(JSON.stringify(copy)).toBe(
      '{"a":1,"__proto__":{"k":"v"},"b":["ok","***"],"c":{"d":"***"},"e":"x"}',
    );
    expect(JSON.stringify(dirty)).toBe(text); // the original is untouched
    expect(copy.c).not.toBe(dirty.c);
    expect(copy.__proto__).toBe(dirty.__proto__); // unchanged parts are shared
  });

  it('item-skipped takes a short way through redaction and --json, to the same line as the general one', () => {
    registerSecret('s3cret-pw');
    const keys = [
      'timplus:1:L0:rec-0000001',
      EVIL,
      'q"uo\\te\t\u0000\u001f\u007f',
      'lone \ud800 surrogate \udfff',
      'ünïcødé 🎧 \u2028\u2029',
      'timplus:s3cret-pw:1',
      's3cret-pw',
    ];
    const { r, stdout } = renderTo({ json: true });
    const events = keys.flatMap((key) =>
      (['done', 'dry-run'] as const).map((reason) => ({
        type: 'item-skipped' as const,
        at: AT,
        key,
        reason,
      })),
    );
    for (const e of events) r.emit(e);
    r.stop();
    const expected = events.map((e) => JSON.stringify(redactEvent(e)));
    expect(stdout.text().trimEnd().split('\n')).toEqual(expected);
    expect(expected.filter((l) => l.includes('s3cret-pw'))).toEqual([]);
    expect(expected.filter((l) => l.includes('***'))).toHaveLength(4);
  });

  it('--json lines gathered into batches come out whole and in order: multi-byte text, a line longer than a batch', () => {
    const chunks: Uint8Array[] = [];
    const stdout = Object.assign(fakeStream(), {
      write(chunk: string | Uint8Array) {
        chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk)); // a copy, as written
        return true;
      },
    });
    const { r } = renderTo({ json: true, stdout });
    const events: RunEvent[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = `k${i}:${'é日🎧'.repeat(i % 7)}\ud800`; // 2-, 3- and 4-byte UTF-8, a lone surrogate
      events.push({ type: 'item-skipped', at: AT, key, reason: 'done' });
      if (i === 1500) events.push({ type: 'notice', at: AT, level: 'warn', message: '日'.repeat(70_000) });
    }
    for (const e of events) r.emit(e);
    r.stop();
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text).toBe(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    expect(chunks.length).toBeGreaterThan(3); // written in batches, not all at once
    for (const c of chunks) expect(c[c.length - 1]).toBe(0x0a); // every write ends a line
  });

  it('plain lines are redacted too', () => {
    registerSecret('s3cret-pw');
    const { r, stderr } = renderTo();
    r.emit({ ...failed, key: 'k', error: { code: 'E_AUTH', message: 'refused s3cret-pw' } } as RunEvent);
    r.stop(); // lines are written at the end of the turn, or by stop()
    expect(stderr.text()).toContain('refused ***');
    expect(stderr.text()).not.toContain('s3cret-pw');
  });

  it('a secret shorter than 6 characters is redacted and reported', () => {
    expect(shortSecretWarnings()).toEqual([]);
    const warning = registerSecret('pw123');
    expect(warning).toMatch(/cannot be redacted safely/);
    expect(shortSecretWarnings()).toEqual([warning]);
    registerSecret('pw123');
    expect(shortSecretWarnings()).toHaveLength(1);
    expect(redact('x pw123 y')).toBe('x *** y');
    expect(registerSecret('long-enough-secret')).toBeUndefined();
    expect(shortSecretWarnings()).toHaveLength(1);
    clearSecrets();
    expect(shortSecretWarnings()).toEqual([]);
  });
});
