import { describe, expect, it } from 'vitest';
import {
  checkTemplate,
  missingField,
  renderTemplate,
  rendersSomething,
  sanitizeSegment,
  truncateBytes,
  withSuffix,
} from '../../src/core/template.js';

describe('sanitizeSegment', () => {
  it('never yields . or .. or an empty segment', () => {
    expect(sanitizeSegment('..')).toBe('_');
    expect(sanitizeSegment('.')).toBe('_');
    expect(sanitizeSegment('')).toBe('_');
    expect(sanitizeSegment('   ')).toBe('_');
  });

  it('replaces separators, Windows-reserved characters and control characters', () => {
    expect(sanitizeSegment('a/b\\c')).toBe('a_b_c');
    expect(sanitizeSegment('a<b>c:d"e|f?g*h')).toBe('a_b_c_d_e_f_g_h');
    expect(sanitizeSegment('x\u0000y\u001fz\u007f')).toBe('x_y_z_');
  });

  it('defuses Windows-reserved device names, with or without an extension', () => {
    for (const name of ['CON', 'prn', 'Aux', 'NUL', 'COM1', 'lpt9', 'con.wav', 'AUX.txt.wav']) {
      expect(sanitizeSegment(name)).toBe(`_${name}`);
    }
    expect(sanitizeSegment('console')).toBe('console');
  });

  it('drops trailing dots and spaces, and never starts with a dot', () => {
    expect(sanitizeSegment('name. ')).toBe('name_');
    expect(sanitizeSegment('.recpull')).toBe('_recpull');
    expect(sanitizeSegment('.hidden.wav')).toBe('_hidden.wav');
  });

  it('keeps segments within 200 bytes of UTF-8 without splitting characters, keeping the extension', () => {
    const long = `${'é'.repeat(300)}.wav`;
    const s = sanitizeSegment(long);
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(200);
    expect(s.endsWith('.wav')).toBe(true);
    expect(s).not.toContain('\uFFFD');
    expect(truncateBytes('😀😀😀', 5)).toBe('😀');
  });
});

describe('renderTemplate', () => {
  it('fills fields and keeps the template folders', () => {
    expect(
      renderTemplate('{vendor}/{datasource}/{voicefilename}.{ext}', {
        vendor: 'timplus',
        datasource: '3',
        voicefilename: 'abc',
        ext: 'wav',
      }),
    ).toBe('timplus/3/abc.wav');
  });

  it('never lets a value create folders or climb out', () => {
    const p = renderTemplate('{a}/{b}.{ext}', { a: '../../etc', b: '/abs/x', ext: 'wav' });
    expect(p).toBe('.._.._etc/_abs_x.wav'.replace(/^\.\./, '_.'));
    for (const seg of p.split('/')) expect(seg === '..' || seg === '.' || seg === '').toBe(false);
    expect(renderTemplate('{a}.{ext}', { a: '\\3\\', ext: 'wav' })).toBe('_3_.wav');
  });

  it('fails an item whose recording lacks a field', () => {
    expect(() => renderTemplate('{agent}/{x}.{ext}', { x: '1', ext: 'wav' })).toThrow(
      expect.objectContaining({ code: 'E_TEMPLATE' }),
    );
  });

  it('withSuffix inserts before the extension', () => {
    expect(withSuffix('a/b.wav', 2)).toBe('a/b-2.wav');
    expect(withSuffix('a.b/c', 3)).toBe('a.b/c-3');
  });
});

describe('checkTemplate', () => {
  it('refuses absolute, empty, folder-only and unknown-field templates', () => {
    const known = ['vendor', 'ext', 'datasource'];
    expect(() => checkTemplate('/x/{ext}', known, false)).toThrow(/relative/);
    expect(() => checkTemplate('C:\\x', known, false)).toThrow(/relative/);
    expect(() => checkTemplate('', known, false)).toThrow(/empty/);
    expect(() => checkTemplate('{vendor}/', known, false)).toThrow(/file name/);
    expect(() => checkTemplate('{vendr}.{ext}', known, false)).toThrow(/\{vendr\}/);
    expect(() => checkTemplate('{agent}.{ext}', known, true)).not.toThrow();
  });
});

describe('the checks a run makes before fetching', () => {
  it('rendersSomething agrees with renderTemplate on templates without a segment', () => {
    for (const t of ['.', './.', '//', '{vendor}.{ext}', './{key}', 'a/./b']) {
      let rendered = true;
      try {
        renderTemplate(t, { vendor: 'v', key: 'k', ext: 'wav' });
      } catch {
        rendered = false;
      }
      expect(rendersSomething(t)).toBe(rendered);
    }
  });

  it('missingField is the error renderTemplate throws for a missing field', () => {
    expect(() => renderTemplate('{agent}.{ext}', { ext: 'wav' })).toThrow(missingField('agent').message);
    expect(missingField('agent').code).toBe('E_TEMPLATE');
  });
});
