/**
 * The Noojee Recorder client of one profile: retrieve a recording (decoded as it streams), start and stop
 * recording, and list an hour's legs through the run's rate limiter.
 *
 * - Retrieve (seeds/noojee-recording-api-2.7.14.txt): `GET …/njadmin-api-recording?method=retrieve|
 *   retrieveByUniqueId…` (./urls.ts). The body — Axis 1 envelope, Axis 2 response or bare base64 — is decoded
 *   by src/formats/soap-text.ts while the sink writes it; the server cannot resume (no `Range`), so a cut
 *   body starts over. A fault or error text (usually HTTP 500) is classified by ./errors.ts.
 * - HTTP Basic (noojee/axis-soap-over-get.md: Axis answers `401 WWW-Authenticate: Basic realm="AXIS"`): sent
 *   pre-emptively when `httpUser` is configured; a 401 is `E_AUTH` (exit 3).
 * - Start/stop: "returns the standard HTTP status '200' on success otherwise an error message is returned".
 * - Listing (noojee-notes.md 9.4): POST, JSON array; limited to one request a minute: every listing request
 *   takes a slot of the `Listing` limiter (src/core/rate-limit.ts), the first one at once. The apiKey is in
 *   the URL: it is registered as a secret and no message ever shows a listing URL.
 */
import { RecpullError, toRecpullError } from '../../core/errors.js';
import { drain, header, type HttpClient, type HttpResponse, readText, statusError } from '../../core/http.js';
import { RateLimiter, type RateWindow } from '../../core/rate-limit.js';
import { redact, registerSecret } from '../../core/redact.js';
import { withRetries } from '../../core/request-policy.js';
import type { FetchedBody } from '../../core/source.js';
import { answerOf, decodeSoapBase64, SoapAnswerError } from '../../formats/soap-text.js';
import { answerError } from './errors.js';
import { legFromEntry, type ListingHour, type NoojeeLeg } from './listing.js';
import { listingUrl, type NoojeeRecordingId, retrieveUrl, startUrl, stopUrl } from './urls.js';

/** The documented listing limit: one request a minute (noojee-notes.md 9.4). */
export const LISTING_LIMIT: RateWindow = { limit: 1, windowMs: 60_000 };

/** Settings of one Noojee profile. */
export interface NoojeeClientOptions {
  /** The PBX's base URL, e.g. `https://pbx.example.com` (paths are appended). */
  url: string;
  /** The Noojee user that owns the recordings (`username=`). */
  username: string;
  /** HTTP Basic in front of the Axis service. */
  httpUser?: string;
  httpPassword?: string;
  /** The REST apiKey (listing only). */
  apiKey?: string;
  /** Profile name and config file, for error messages. */
  profile: string;
  configFile?: string;
  /** `rateLimit.listing` of the profile (default {@link LISTING_LIMIT}). */
  listingLimit?: RateWindow;
  /** Retries of a listing request after network errors, 5xx and 429 (default 5), and their base delay, ms. */
  listingRetries?: number;
  retryBaseMs?: number;
}

/** The answer to `start` or `stop`: `ok` on HTTP 200 without a fault; `message` is the server's words. */
export interface NoojeeControlResult {
  ok: boolean;
  status: number;
  message: string;
}

/** What names a recording in messages: `Noojee recording tag "A&B"` / `uniqueId 1392271611.238`. */
export function describeId(id: NoojeeRecordingId): string {
  return 'tag' in id ? `Noojee recording tag "${id.tag}"` : `Noojee recording uniqueId ${id.uniqueId}`;
}

/** The client of one profile (see the module comment); safe to share between workers. */
export class NoojeeClient {
  /** The listing's limiter, shared by every listing request of the run. */
  readonly listingLimiter: RateLimiter;
  private readonly authorization: string | undefined;

  constructor(
    private readonly http: HttpClient,
    private readonly opts: NoojeeClientOptions,
  ) {
    if (opts.httpPassword !== undefined) {
      registerSecret(opts.httpPassword);
      registerSecret(`${opts.httpUser ?? ''}:${opts.httpPassword}`);
    }
    if (opts.apiKey) registerSecret(opts.apiKey);
    if (opts.httpUser !== undefined) {
      const token = Buffer.from(`${opts.httpUser}:${opts.httpPassword ?? ''}`, 'utf8').toString('base64');
      registerSecret(token);
      this.authorization = `Basic ${token}`;
    }
    const limit = opts.listingLimit ?? LISTING_LIMIT;
    this.listingLimiter = new RateLimiter({
      group: 'Listing',
      initial: limit,
      cap: limit,
      minPenaltyMs: limit.windowMs,
    });
  }

  /** The profile's Noojee user. */
  get username(): string {
    return this.opts.username;
  }

  /**
   * Retrieves one recording as `username` (default the profile's). Resolves once the answer's headers
   * arrived with status 200; its `body` yields the decoded recording and throws, while streaming, the item
   * errors of ./errors.ts (`E_NOT_READY` retryable, `E_NOT_FOUND`, `E_PROTOCOL`) and the decoder's
   * (`E_PROTOCOL` corrupt base64, retryable `E_TRUNCATED` cut body). Never resumable.
   * @throws RecpullError `E_AUTH` (401), the same item errors for a fault answered with 500, retryable
   *   `E_HTTP`/`E_RATE_LIMIT` for other 5xx/429, `E_NETWORK`/`E_TIMEOUT` (retryable), `E_ABORTED`.
   */
  async retrieve(
    id: NoojeeRecordingId,
    signal: AbortSignal,
    username = this.opts.username,
  ): Promise<FetchedBody> {
    const what = describeId(id);
    const res = await this.http.request(retrieveUrl(this.opts.url, id, username), {
      signal,
      headers: this.headers(),
    });
    if (res.statusCode === 200) {
      return { body: mapErrors(decodeSoapBase64(res.body, what), what, 200), resumable: false };
    }
    throw await this.failure(res, what);
  }

  /**
   * `start`: records extension `extenOrUniqueId` (a channel name such as `SIP/410-12FA7B` is sent as `410`)
   * or the call with that uniqueid, under `tag`.
   * @throws RecpullError `E_AUTH` (401), transport errors; any other answer is a result with `ok: false`.
   */
  start(extenOrUniqueId: string, tag: string, signal: AbortSignal): Promise<NoojeeControlResult> {
    return this.control(startUrl(this.opts.url, extenOrUniqueId, tag), 'start', signal);
  }

  /** `stop`: as {@link start}, without a tag. */
  stop(extenOrUniqueId: string, signal: AbortSignal): Promise<NoojeeControlResult> {
    return this.control(stopUrl(this.opts.url, extenOrUniqueId), 'stop', signal);
  }

  /**
   * The legs that ended in one PBX hour, through the `Listing` limiter. Retries network errors, 5xx and
   * 429 (waiting out `Retry-After`) up to `listingRetries` times.
   * @throws RecpullError `E_CONFIG` (no apiKey), `E_AUTH` (401/403: the apiKey was refused), `E_PROTOCOL`
   *   (not a JSON array), the last retryable error, `E_ABORTED`. No message holds the URL or the apiKey.
   */
  async listHour(hour: ListingHour, tz: string, signal: AbortSignal): Promise<NoojeeLeg[]> {
    const apiKey = this.opts.apiKey;
    if (!apiKey) {
      throw new RecpullError(
        'E_CONFIG',
        `listing by time needs noojee.${this.opts.profile}.apiKey (or apiKeyFile)${this.where()}`,
      );
    }
    const what = `Noojee listing of ${hour.date} hour ${hour.hour}`;
    const url = listingUrl(this.opts.url, apiKey, hour.date, hour.hour);
    return withRetries(
      async () => {
        const slot = await this.listingLimiter.acquire({ signal });
        let res: HttpResponse;
        try {
          res = await this.http.request(url, {
            method: 'POST',
            signal,
            headers: { accept: 'application/json', ...this.headers() },
          });
        } catch (raw) {
          slot.release();
          throw scrub(toRecpullError(raw, 'E_NETWORK'), apiKey);
        }
        slot.release();
        if (res.statusCode === 200) {
          const text = await readText(res, 64 * 1024 * 1024);
          let entries: unknown;
          try {
            entries = JSON.parse(text);
          } catch {
            throw new RecpullError('E_PROTOCOL', `${what}: the answer is not JSON`, { retryable: true });
          }
          if (!Array.isArray(entries))
            throw new RecpullError('E_PROTOCOL', `${what}: the answer is not a JSON array`);
          return entries
            .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object')
            .map((e) => legFromEntry(e, tz));
        }
        const detail = scrubText(await readText(res, 4096).catch(() => ''), apiKey);
        if (res.statusCode === 401 || res.statusCode === 403) {
          throw new RecpullError(
            'E_AUTH',
            `Noojee refused the apiKey of profile "${this.opts.profile}" for the listing (HTTP ${res.statusCode})${detail ? `: ${detail.slice(0, 200)}` : ''}; check noojee.${this.opts.profile}.apiKey${this.where()}`,
            { status: res.statusCode },
          );
        }
        const err = statusError(res, what, detail);
        if (res.statusCode !== 429) throw err;
        // The limiter waits the penalty out before the next request: no extra backoff on top.
        this.listingLimiter.penalize(err.retryAfterMs);
        throw new RecpullError(err.code, err.message, { retryable: true, status: 429, retryAfterMs: 0 });
      },
      {
        retries: this.opts.listingRetries ?? 5,
        signal,
        ...(this.opts.retryBaseMs !== undefined ? { baseMs: this.opts.retryBaseMs } : {}),
      },
    );
  }

  private async control(url: URL, op: 'start' | 'stop', signal: AbortSignal): Promise<NoojeeControlResult> {
    const res = await this.http.request(url, { signal, headers: this.headers() });
    if (res.statusCode === 401) {
      await drain(res);
      throw this.refused(res);
    }
    const text = await readText(res, 256 * 1024).catch(() => '');
    const words = await answerWords(text);
    const ok = res.statusCode === 200 && words.fault === undefined;
    const message = words.fault ?? words.text ?? (ok ? `${op}: OK` : `${op}: HTTP ${res.statusCode}`);
    return { ok, status: res.statusCode, message: redact(message) };
  }

  /** The error of a non-200 retrieve answer (its body read, at most 256 KiB). */
  private async failure(res: HttpResponse, what: string): Promise<RecpullError> {
    if (res.statusCode === 401) {
      await drain(res);
      return this.refused(res);
    }
    const text = await readText(res, 256 * 1024).catch(() => '');
    const answer = await answerOf(text);
    if (answer?.kind === 'fault' || (answer?.kind === 'text' && res.statusCode < 500))
      return answerError(answer, what, res.statusCode);
    if (answer?.kind === 'text') {
      const mapped = answerError(answer, what, res.statusCode);
      if (mapped.code !== 'E_PROTOCOL') return mapped; // a known refusal in plain words
    }
    return statusError(
      res,
      what,
      text
        .replace(/<[^>]*>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    );
  }

  private refused(res: HttpResponse): RecpullError {
    const challenge = header(res, 'www-authenticate') ?? '';
    const realm = /realm="([^"]*)"/i.exec(challenge)?.[1];
    const at = `${new URL(this.opts.url).origin}${realm ? ` (realm "${realm}")` : ''}`;
    const message =
      this.opts.httpUser === undefined
        ? `Noojee at ${at} asks for HTTP Basic credentials: set noojee.${this.opts.profile}.httpUser and httpPassword${this.where()}`
        : `Noojee at ${at} refused the HTTP Basic credentials of profile "${this.opts.profile}" (httpUser "${this.opts.httpUser}"); check noojee.${this.opts.profile}.httpUser and httpPassword${this.where()}`;
    return new RecpullError('E_AUTH', redact(message), { status: 401 });
  }

  private headers(): Record<string, string> {
    return this.authorization ? { authorization: this.authorization } : {};
  }

  private where(): string {
    return this.opts.configFile ? ` in ${this.opts.configFile}` : '';
  }
}

/** The words of a start/stop answer: a fault string, else a text (HTML/XML tags stripped). */
async function answerWords(text: string): Promise<{ fault?: string; text?: string }> {
  if (text.trim() === '') return {};
  const err = await answerOf(text);
  if (err?.kind === 'fault') return { fault: err.text || err.faultcode || 'SOAP fault' };
  if (err?.kind === 'empty') return {};
  if (err) return { text: err.text };
  const plain = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return plain ? { text: plain.slice(0, 500) } : {};
}

/** Turns answer errors raised while a 200 body streams into item errors (./errors.ts). */
async function* mapErrors(
  body: AsyncIterable<Uint8Array>,
  what: string,
  status: number,
): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    if (err instanceof SoapAnswerError) throw answerError(err, what, status);
    throw err;
  }
}

/** Removes the apiKey from a text (registered secrets too). */
function scrubText(text: string, apiKey: string): string {
  return redact(text.split(apiKey).join('***'));
}

/** A transport error without the apiKey in its message (undici may quote the URL). */
function scrub(err: RecpullError, apiKey: string): RecpullError {
  if (!err.message.includes(apiKey) && redact(err.message) === err.message) return err;
  return new RecpullError(err.code, scrubText(err.message, apiKey), {
    retryable: err.retryable,
    ...(err.status !== undefined ? { status: err.status } : {}),
  });
}
