/**
 * The base64 payload of a SOAP-over-GET answer, decoded as it streams. Three body styles, told apart from
 * the first bytes (reference: noojee/axis-soap-over-get.md, noojee/noojee-notes.md):
 * - Axis 1 (`QSMethodHandler`): `<soapenv:Envelope><soapenv:Body><retrieveResponse><retrieveReturn
 *   xsi:type="xsd:base64Binary">BASE64</retrieveReturn>…` — RPC/encoded, the result element is `<op>Return`;
 *   an RPC/encoded result may also point with `href="#id0"` to a `<multiRef id="id0">` holding the value;
 * - Axis 2 REST/POX: `<ns:retrieveResponse xmlns:ns="…"><ns:return>BASE64</ns:return>…`, no envelope;
 * - bare base64 (a servlet writing the encoded WAV as is; `base64 -d tmp.64 > tmp.wav` in the seed).
 * Prefixes and namespaces vary between deployments, so elements are matched by local name only: the result
 * is the first child of an element whose local name ends in `Response` named `return` or `…Return`.
 *
 * A `Fault` element (any prefix; SOAP 1.1 `faultcode`/`faultstring`, SOAP 1.2 `Code/Value`/`Reason/Text`),
 * an HTML page or a plain text instead of base64 throws {@link SoapAnswerError} carrying the server's words.
 *
 * Why a scanner beside saxes: saxes (6.0) keeps a text node in one string until the next `<` (its
 * `handleTextInRoot` appends every chunk to `this.text` and has no `flush`), so a 670 MB base64 text would
 * be held whole. The XML around the payload is therefore fed to saxes in pieces ending at a `>`; when
 * saxes reports the opening tag of the result element, the bytes that follow are scanned here (native
 * `indexOf` for `<` and `&`) and go straight to the base64 decoder, character references (`&#13;`)
 * included, until the `<` that ends the text. saxes then receives that `<…` and checks the rest of the
 * document as usual (it sees an element with no text). XML outside the payload is capped at 1 MiB, so
 * nothing but the payload can be large, and the payload is never held: memory stays constant.
 *
 * Errors: `SoapAnswerError` (`E_PROTOCOL`, not retryable) for faults, text and HTML; `E_PROTOCOL` for
 * XML that is not well formed, has no result, or whose payload is not valid base64; retryable
 * `E_TRUNCATED` when the body ends before the document (or the base64) does.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { RecpullError } from '../core/errors.js';
import { Base64Decoder, isBase64Char, isBase64Space } from './base64-stream.js';

/** How a body carries its payload. */
export type BodyStyle = 'xml' | 'base64' | 'html' | 'text';

/** What a server said instead of a payload. */
export type SoapAnswerKind = 'fault' | 'text' | 'html' | 'empty';

/**
 * The server answered with words instead of a payload: a SOAP fault (`faultcode` in `vendorCode`,
 * `faultstring` in `text`), a plain text, an HTML page (its text), or an empty/nil result (`empty`).
 * Code `E_PROTOCOL`, not retryable; a vendor maps `text` to its own reasons (not found, in progress...).
 */
export class SoapAnswerError extends RecpullError {
  constructor(
    readonly kind: SoapAnswerKind,
    /** The fault string or the text, whitespace collapsed, at most 500 characters. */
    readonly text: string,
    /** The fault code as sent (e.g. `soapenv:Server.userException`), for faults. */
    readonly faultcode?: string,
  ) {
    const what =
      kind === 'fault'
        ? `a SOAP fault${faultcode ? ` (${faultcode})` : ''}`
        : kind === 'html'
          ? 'an HTML page'
          : kind === 'empty'
            ? 'an empty result'
            : 'a text';
    super('E_PROTOCOL', `the server answered with ${what}${text ? `: ${text}` : ''}`, {
      ...(faultcode ? { vendorCode: faultcode } : {}),
    });
    this.name = 'SoapAnswerError';
  }
}

/** Most XML accepted outside the payload, bytes. */
const MAX_XML_BYTES = 1 << 20;
/** A bare body this short is only taken as base64 if it decodes to the start of an audio file, bytes. */
const SHORT_BODY = 256;
/** Most text kept from a text or HTML answer, bytes. */
const MAX_TEXT_BYTES = 64 * 1024;

const LT = 0x3c;
const GT = 0x3e;
const AMP = 0x26;
const SEMI = 0x3b;

/** Collapses whitespace and cuts to 500 characters. */
function tidy(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 500 ? `${t.slice(0, 497)}...` : t;
}

/** `a:b` → `b`. */
function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1);
}

function asBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * The style of a body from its first bytes (a UTF-8 BOM and leading whitespace skipped), or `undefined`
 * when `head` is too short to tell (the caller reads more; at the end of the body, pass `final`).
 * `<` → `xml`, unless the first tag is an HTML one (`<!DOCTYPE html`, `<html`, `<body`, `<h1`…, `<p`);
 * otherwise `base64` when the first 128 bytes hold only base64 characters and line breaks, `text` when not.
 */
export function detectBodyStyle(head: Uint8Array, final = false): BodyStyle | undefined {
  let i = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) i = 3;
  while (i < head.length && isBase64Space(head[i] as number)) i++;
  if (i >= head.length) return final ? 'text' : undefined;
  if (head[i] === LT) {
    const tail = Buffer.from(head.buffer, head.byteOffset + i, Math.min(head.length - i, 64))
      .toString('latin1')
      .toLowerCase();
    if (/^<(!doctype\s+html|html|head|body|title|h[1-6]|p|pre|div)[\s>/]/.test(tail)) return 'html';
    if (tail.length < 16 && !final && !/[\s>/]/.test(tail.slice(1))) return undefined;
    return 'xml';
  }
  const end = Math.min(head.length, i + 128);
  for (let j = i; j < end; j++) {
    const c = head[j] as number;
    if (!isBase64Char(c) && c !== 0x0a && c !== 0x0d) return 'text';
  }
  return end - i >= 128 || final ? 'base64' : undefined;
}

/**
 * Decodes the base64 payload of a body in any of the three styles (see the module comment) into the
 * recording's bytes, as they arrive. `what` names the body in error messages.
 * @throws SoapAnswerError, RecpullError `E_PROTOCOL` / retryable `E_TRUNCATED` as the module comment says;
 *   errors of `body` (network) pass through unchanged.
 */
export async function* decodeSoapBase64(
  body: AsyncIterable<Uint8Array | string>,
  what = 'the response',
): AsyncGenerator<Uint8Array> {
  const iterator = body[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  let style: BodyStyle | undefined;
  let ended = false;
  try {
    while (style === undefined) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        style = detectBodyStyle(Buffer.concat(head), true);
        break;
      }
      const b = asBuffer(next.value);
      head.push(b);
      headBytes += b.length;
      style = detectBodyStyle(headBytes > 4096 ? Buffer.concat(head).subarray(0, 4096) : Buffer.concat(head));
      if (style === undefined && headBytes > 4096) style = 'text';
    }
    const rest = restOf(head, iterator, ended);
    switch (style) {
      case 'xml':
        yield* new XmlPayload(what).decode(rest);
        return;
      case 'base64':
        yield* bareBase64(rest, what);
        return;
      default: {
        const text = await readSome(rest, MAX_TEXT_BYTES);
        const words = style === 'html' ? htmlText(text) : text;
        if (tidy(words) === '')
          throw new RecpullError('E_TRUNCATED', `${what} is empty`, { retryable: true });
        throw new SoapAnswerError(style === 'html' ? 'html' : 'text', tidy(words));
      }
    }
  } finally {
    await iterator.return?.();
  }
}

/** The chunks already read, then the rest of the iterator. */
async function* restOf(
  head: Buffer[],
  iterator: AsyncIterator<Uint8Array | string>,
  ended: boolean,
): AsyncGenerator<Buffer> {
  for (const b of head) yield b;
  if (ended) return;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return;
    yield asBuffer(next.value);
  }
}

async function readSome(chunks: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of chunks) {
    parts.push(c);
    n += c.length;
    if (n >= limit) break;
  }
  return Buffer.concat(parts).subarray(0, limit).toString('utf8');
}

function htmlText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The first bytes of an audio file (RIFF/RF64 WAV, ID3, an MPEG frame sync), as `AudioValidator` knows them. */
function looksLikeAudio(b: Uint8Array): boolean {
  const s = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, 4)).toString('latin1');
  return (
    s === 'RIFF' || s === 'RF64' || s.startsWith('ID3') || (b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0)
  );
}

/**
 * A bare base64 body. One that ends within its first 256 bytes and does not decode to the start of an
 * audio file is a short message that happens to use only base64 characters (`NotFound`): a text answer.
 */
async function* bareBase64(chunks: AsyncIterable<Buffer>, what: string): AsyncGenerator<Uint8Array> {
  const decoder = new Base64Decoder(`${what}'s base64`);
  const early: Buffer[] = [];
  let earlyBytes = 0;
  let decided = false;
  for await (const chunk of chunks) {
    if (!decided) {
      early.push(chunk);
      earlyBytes += chunk.length;
      if (earlyBytes <= SHORT_BODY) continue;
      decided = true;
      const out = decoder.push(Buffer.concat(early));
      early.length = 0;
      if (out.length > 0) yield out;
      continue;
    }
    const out = decoder.push(chunk);
    if (out.length > 0) yield out;
  }
  if (!decided) {
    const all = Buffer.concat(early);
    let out: Uint8Array;
    try {
      out = decoder.push(all);
      decoder.end();
    } catch (err) {
      if (looksLikeAudio(Buffer.from(all.toString('latin1').replace(/\s+/g, '').slice(0, 8), 'base64')))
        throw err;
      throw new SoapAnswerError('text', tidy(all.toString('utf8')));
    }
    if (!looksLikeAudio(out)) throw new SoapAnswerError('text', tidy(all.toString('utf8')));
    if (out.length > 0) yield out;
    return;
  }
  decoder.end();
}

/** Where the XML scanner is. */
type Mode = 'xml' | 'payload' | 'entity';

/** The XML body scanner: saxes for structure, a byte scanner for the payload (see the module comment). */
class XmlPayload {
  private readonly parser = new SaxesParser({ xmlns: false, position: false });
  private readonly textDecoder = new TextDecoder('utf-8');
  private readonly decoder: Base64Decoder;
  private parseError: Error | undefined;
  private xmlBytes = 0;
  private depth = 0;
  /** Depth of the innermost open element whose local name ends in `Response`, or -1. */
  private responseDepth = -1;
  /** Set by the opentag handler: the bytes after the current `>` are the payload. */
  private enterPayload = false;
  private payloadSeen = false;
  private multiRef: string | undefined;
  private nil = false;
  private faultDepth = -1;
  private faultField: 'code' | 'string' | undefined;
  private faultcode = '';
  private faultstring = '';
  private textCollect: 'code' | 'string' | undefined;
  private entity = '';

  constructor(private readonly what: string) {
    this.decoder = new Base64Decoder(`the base64 text of ${what}`);
    this.parser.on('error', (err) => {
      this.parseError ??= err;
    });
    this.parser.on('opentag', (tag) => this.open(tag));
    this.parser.on('closetag', (tag) => this.close(tag));
    this.parser.on('text', (t) => this.collect(t));
    this.parser.on('cdata', (t) => this.collect(t));
  }

  async *decode(chunks: AsyncIterable<Buffer>): AsyncGenerator<Uint8Array> {
    let mode: Mode = 'xml';
    for await (const chunk of chunks) {
      let pos = 0;
      while (pos < chunk.length) {
        if (mode === 'xml') {
          const gt = chunk.indexOf(GT, pos);
          const end = gt < 0 ? chunk.length : gt + 1;
          this.feed(chunk.subarray(pos, end));
          pos = end;
          if (this.enterPayload) {
            this.enterPayload = false;
            mode = 'payload';
          }
          continue;
        }
        if (mode === 'entity') {
          const semi = chunk.indexOf(SEMI, pos);
          const end = semi < 0 ? chunk.length : semi;
          this.entity += chunk.toString('latin1', pos, end);
          if (this.entity.length > 12) throw this.badEntity();
          if (semi < 0) {
            pos = chunk.length;
            continue;
          }
          const out = this.decoder.push(this.resolveEntity());
          if (out.length > 0) yield out;
          this.entity = '';
          pos = semi + 1;
          mode = 'payload';
          continue;
        }
        // payload
        const lt = chunk.indexOf(LT, pos);
        const amp = chunk.indexOf(AMP, pos);
        const stop = lt < 0 ? amp : amp < 0 ? lt : Math.min(lt, amp);
        const end = stop < 0 ? chunk.length : stop;
        if (end > pos) {
          const out = this.decoder.push(chunk.subarray(pos, end));
          if (out.length > 0) yield out;
        }
        pos = end;
        if (stop < 0) continue;
        if (stop === amp) {
          mode = 'entity';
          pos = stop + 1;
          continue;
        }
        if (!this.decoder.aligned) {
          throw new RecpullError(
            'E_PROTOCOL',
            `the base64 text of ${this.what} ends in the middle of a 4-character group: the recording is corrupt`,
          );
        }
        mode = 'xml';
      }
    }
    if (mode !== 'xml') {
      throw new RecpullError(
        'E_TRUNCATED',
        `${this.what} ended inside the base64 text: the body was cut off`,
        {
          retryable: true,
        },
      );
    }
    this.closeDocument();
    if (!this.payloadSeen && !this.nil) {
      throw new RecpullError(
        'E_PROTOCOL',
        `${this.what} is XML without a result element (no *Response/return or *Return)`,
      );
    }
    if (this.decoder.bytesOut === 0) throw new SoapAnswerError('empty', '');
  }

  /** Ends the XML: an error saxes finds only now (an unclosed element) means the body was cut off. */
  private closeDocument(): void {
    const before = this.parseError;
    this.parser.close();
    if (this.parseError !== undefined && before === undefined) {
      throw new RecpullError('E_TRUNCATED', `${this.what} ended before its XML did: the body was cut off`, {
        retryable: true,
        cause: this.parseError,
      });
    }
    this.check();
  }

  /** Gives saxes a piece of the XML outside the payload; rethrows its first error. */
  private feed(bytes: Uint8Array): void {
    this.xmlBytes += bytes.length;
    if (this.xmlBytes > MAX_XML_BYTES) {
      throw new RecpullError(
        'E_PROTOCOL',
        `${this.what} has more than ${MAX_XML_BYTES} bytes of XML besides the base64 text`,
      );
    }
    this.parser.write(this.textDecoder.decode(bytes, { stream: true }));
    this.check();
  }

  /** Turns the first saxes error into ours (a fault already read wins: its words are what matters). */
  private check(): void {
    const err = this.parseError;
    if (!err) return;
    if (this.faultDepth >= 0 && this.faultstring) throw this.fault();
    throw new RecpullError('E_PROTOCOL', `${this.what} is not well-formed XML: ${tidy(err.message)}`, {
      cause: err,
    });
  }

  private open(tag: SaxesTagPlain): void {
    const name = localName(tag.name);
    const attrs = tag.attributes as Record<string, string>;
    this.depth++;
    if (this.faultDepth >= 0) {
      if (name === 'faultcode' || name === 'Value') this.textCollect = 'code';
      else if (name === 'faultstring' || name === 'Text') this.textCollect = 'string';
      return;
    }
    if (name === 'Fault') {
      this.faultDepth = this.depth;
      return;
    }
    if (this.payloadSeen) return;
    const isResult =
      (this.responseDepth >= 0 &&
        this.depth === this.responseDepth + 1 &&
        (name === 'return' || name.endsWith('Return'))) ||
      (this.multiRef !== undefined && attrs.id === this.multiRef);
    if (isResult) {
      const href = attrs.href;
      if (href?.startsWith('#') && this.multiRef === undefined) {
        this.multiRef = href.slice(1);
      } else if (Object.entries(attrs).some(([k, v]) => localName(k) === 'nil' && v === 'true')) {
        this.nil = true;
      } else {
        this.payloadSeen = true;
        if (!tag.isSelfClosing) this.enterPayload = true;
      }
    }
    if (name.endsWith('Response') && !tag.isSelfClosing) this.responseDepth = this.depth;
  }

  private close(tag: SaxesTagPlain): void {
    if (this.depth === this.faultDepth) {
      this.depth--;
      throw this.fault(); // saxes calls handlers synchronously: this leaves parser.write() in feed()
    }
    if (localName(tag.name).endsWith('Response') && this.depth === this.responseDepth)
      this.responseDepth = -1;
    this.textCollect = undefined;
    this.depth--;
  }

  private collect(text: string): void {
    if (this.textCollect === 'code' && this.faultcode.length < 4096) this.faultcode += text;
    else if (this.textCollect === 'string' && this.faultstring.length < 4096) this.faultstring += text;
  }

  private fault(): SoapAnswerError {
    return new SoapAnswerError('fault', tidy(this.faultstring), tidy(this.faultcode) || undefined);
  }

  /** The byte a character reference in the payload stands for (`&#13;`, `&#x2B;`, `&amp;`…). */
  private resolveEntity(): Uint8Array {
    const e = this.entity;
    let code: number | undefined;
    if (/^#[0-9]{1,7}$/.test(e)) code = Number(e.slice(1));
    else if (/^#x[0-9a-f]{1,6}$/i.test(e)) code = Number.parseInt(e.slice(2), 16);
    else code = { lt: 0x3c, gt: 0x3e, amp: 0x26, quot: 0x22, apos: 0x27 }[e];
    if (code === undefined || code > 0x7f) throw this.badEntity();
    return Uint8Array.of(code);
  }

  private badEntity(): RecpullError {
    return new RecpullError(
      'E_PROTOCOL',
      `the base64 text of ${this.what} holds an unexpected reference "&${tidy(this.entity).slice(0, 12)}"`,
    );
  }
}

/**
 * The server's words in a complete, small body (an error answer already read): the `SoapAnswerError` it
 * amounts to (fault, text, HTML, empty result), or `undefined` when it holds a payload or is unreadable.
 */
export async function answerOf(text: string): Promise<SoapAnswerError | undefined> {
  async function* once() {
    yield Buffer.from(text, 'utf8');
  }
  try {
    for await (const _ of decodeSoapBase64(once())) break;
  } catch (err) {
    if (err instanceof SoapAnswerError) return err;
  }
  return undefined;
}
