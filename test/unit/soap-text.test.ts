/**
 * SOAP/base64 body decoding: the three body styles split at every position, namespace prefixes varied,
 * wrapped and entity-escaped base64, faults, plain text and HTML answers, corrupt and cut-off bodies, and
 * a large payload that reaches the output while it streams (never collected in one text node).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isRecpullError, type RecpullError } from '../../src/core/errors.js';
import { decodeSoapBase64, detectBodyStyle, SoapAnswerError } from '../../src/formats/soap-text.js';

const WAV = Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'), randomBytes(29)]);
const B64 = WAV.toString('base64');

const axis1 = (payload: string, env = 'soapenv') =>
  `<?xml version="1.0" encoding="UTF-8"?><${env}:Envelope xmlns:${env}="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><${env}:Body><retrieveResponse ${env}:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><retrieveReturn xsi:type="xsd:base64Binary">${payload}</retrieveReturn></retrieveResponse></${env}:Body></${env}:Envelope>`;
const axis2 = (payload: string, ns = 'ns') =>
  `<${ns}:retrieveByUniqueIdResponse xmlns:${ns}="http://api.recording.njadmin.noojee.com.au"><${ns}:return>${payload}</${ns}:return></${ns}:retrieveByUniqueIdResponse>`;
const fault = (text: string, env = 'soapenv') =>
  `<?xml version="1.0" encoding="utf-8"?><${env}:Envelope xmlns:${env}="http://schemas.xmlsoap.org/soap/envelope/"><${env}:Body><${env}:Fault><faultcode>${env}:Server.userException</faultcode><faultstring>${text}</faultstring><detail><ns1:hostname xmlns:ns1="http://xml.apache.org/axis/">pbx</ns1:hostname></detail></${env}:Fault></${env}:Body></${env}:Envelope>`;

async function decode(pieces: (string | Buffer)[]): Promise<Buffer> {
  async function* body() {
    for (const p of pieces) yield typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
  }
  const out: Uint8Array[] = [];
  for await (const c of decodeSoapBase64(body())) out.push(c);
  return Buffer.concat(out);
}

/** Every split of `text` into two pieces, three pieces around the middle, and one byte at a time. */
function splits(text: string): string[][] {
  const all: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) all.push([text.slice(0, i), text.slice(i)]);
  const mid = text.length >> 1;
  for (let i = 1; i < mid; i++) all.push([text.slice(0, i), text.slice(i, mid), text.slice(mid)]);
  return all;
}

async function errorOf(pieces: string[]): Promise<RecpullError> {
  try {
    await decode(pieces);
  } catch (err) {
    if (isRecpullError(err)) return err;
    throw err;
  }
  throw new Error(`expected an error for ${pieces.join('|').slice(0, 80)}`);
}

describe('detectBodyStyle', () => {
  it('tells XML, HTML, base64 and text from the first bytes', () => {
    const d = (s: string, final = false) => detectBodyStyle(Buffer.from(s), final);
    expect(d(axis1(B64))).toBe('xml');
    expect(d(`\uFEFF \r\n${axis2(B64)}`)).toBe('xml');
    expect(d('<!DOCTYPE html><html><body>x</body></html>')).toBe('html');
    expect(d('<h2>Error: no method</h2>', true)).toBe('html');
    expect(d(B64.repeat(3))).toBe('base64');
    expect(d('UklGR', true)).toBe('base64');
    expect(d('UklGR')).toBeUndefined(); // not enough to tell yet
    expect(d('Recording not found', true)).toBe('text');
    expect(d('{"Code":1,"Message":"x"}', true)).toBe('text');
  });
});

describe('decodeSoapBase64', () => {
  it('decodes an Axis 1 envelope, an Axis 2 response and bare base64 split at every position', async () => {
    for (const body of [axis1(B64), axis1(B64, 'SOAP-ENV'), axis2(B64), axis2(B64, 'ax21'), B64]) {
      for (const pieces of splits(body)) expect((await decode(pieces)).equals(WAV)).toBe(true);
    }
  });

  it('accepts wrapped lines, indentation and character references inside the payload', async () => {
    const wrapped = B64.replace(/.{16}/g, '$&&#13;\n  ').replace(/\+/g, '&#x2B;');
    for (const pieces of splits(axis2(wrapped))) expect((await decode(pieces)).equals(WAV)).toBe(true);
    expect((await decode([B64.replace(/.{20}/g, '$&\r\n')])).equals(WAV)).toBe(true);
  });

  it('follows an Axis 1 multiRef (href="#id0")', async () => {
    const body = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ns1:retrieveResponse xmlns:ns1="urn:x"><retrieveReturn href="#id0"/></ns1:retrieveResponse><multiRef id="id0" xsi:type="xsd:base64Binary" xmlns:xsi="urn:xsi">${B64}</multiRef></soapenv:Body></soapenv:Envelope>`;
    expect((await decode([body])).equals(WAV)).toBe(true);
  });

  it('yields the payload while it streams: the first bytes arrive before the body ends', async () => {
    const big = randomBytes(3 * 200_000);
    const text = Buffer.from(axis1(big.toString('base64')));
    let sent = 0;
    async function* body() {
      for (let i = 0; i < text.length; i += 50_000) {
        sent = i + 50_000;
        yield text.subarray(i, i + 50_000);
      }
    }
    const out: Uint8Array[] = [];
    let sentAtFirst = -1;
    for await (const c of decodeSoapBase64(body())) {
      if (sentAtFirst < 0) sentAtFirst = sent;
      out.push(c);
    }
    expect(sentAtFirst).toBeLessThanOrEqual(100_000);
    expect(Buffer.concat(out).equals(big)).toBe(true);
  });

  it('throws a SOAP fault with its faultstring and faultcode, whatever the prefix and split', async () => {
    for (const env of ['soapenv', 'S', 'SOAP-ENV']) {
      for (const pieces of splits(fault('No recording found for tag &apos;A&amp;B&apos;', env))) {
        const err = await errorOf(pieces);
        expect(err).toBeInstanceOf(SoapAnswerError);
        const e = err as SoapAnswerError;
        expect([e.kind, e.text, e.faultcode, e.retryable]).toEqual([
          'fault',
          "No recording found for tag 'A&B'",
          `${env}:Server.userException`,
          false,
        ]);
      }
    }
  });

  it('reads a SOAP 1.2 fault (Code/Value, Reason/Text)', async () => {
    const body =
      '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="en">The call is still in progress</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>';
    const e = (await errorOf([body])) as SoapAnswerError;
    expect([e.kind, e.text, e.faultcode]).toEqual(['fault', 'The call is still in progress', 'env:Receiver']);
  });

  it('throws plain text and HTML answers with their words; a short base64-looking word is text too', async () => {
    const t = (await errorOf(['Recording is ', 'private'])) as SoapAnswerError;
    expect([t.kind, t.text]).toEqual(['text', 'Recording is private']);
    const h = (await errorOf(['<html><body><h2>Error: No method</h2></body></html>'])) as SoapAnswerError;
    expect([h.kind, h.text]).toEqual(['html', 'Error: No method']);
    const w = (await errorOf(['NotFound\n'])) as SoapAnswerError;
    expect([w.kind, w.text]).toEqual(['text', 'NotFound']);
  });

  it('throws "empty" for an empty or nil result', async () => {
    for (const body of [
      axis2(''),
      '<ns:rResponse xmlns:ns="u"><ns:return/></ns:rResponse>',
      axis1('').replace(
        '<retrieveReturn xsi:type="xsd:base64Binary"></retrieveReturn>',
        '<retrieveReturn xsi:nil="true"/>',
      ),
    ]) {
      const e = (await errorOf([body])) as SoapAnswerError;
      expect(e.kind).toBe('empty');
    }
  });

  it('refuses an invalid character or bad padding in the payload (E_PROTOCOL, not retryable), any split', async () => {
    const long = Buffer.concat([WAV, randomBytes(300)]).toString('base64');
    for (const body of [
      axis1(`${B64.slice(0, 8)}*${B64.slice(8)}`),
      axis2(`${B64}=`),
      `${long.slice(0, 200)}!${long.slice(200)}`,
    ]) {
      for (const pieces of splits(body)) {
        const err = await errorOf(pieces);
        expect([err.code, err.retryable]).toEqual(['E_PROTOCOL', false]);
        expect(err).not.toBeInstanceOf(SoapAnswerError);
      }
    }
  });

  it('a body cut anywhere after the payload started is retryable E_TRUNCATED', async () => {
    for (const body of [axis1(B64), axis2(B64)]) {
      const start = body.indexOf(B64.slice(0, 8)) + 1;
      for (let cut = start; cut < body.length; cut++) {
        const err = await errorOf([body.slice(0, cut)]);
        expect([cut, err.code, err.retryable]).toEqual([cut, 'E_TRUNCATED', true]);
      }
    }
    for (const cut of [B64.length - 3, B64.length - 2, B64.length - 1]) {
      const err = await errorOf([B64.slice(0, cut)]);
      expect([err.code, err.retryable]).toEqual(['E_TRUNCATED', true]);
    }
  });

  it('refuses XML that is not well formed or has no result element', async () => {
    expect((await errorOf(['<a><b></a>'])).code).toBe('E_PROTOCOL');
    expect((await errorOf(['<foo>bar</foo>'])).message).toContain('without a result element');
  });
});
