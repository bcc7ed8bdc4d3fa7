/**
 * TIM Plus programmatic audio retrieval, two steps (reference: seeds/timplus-programmatic-audio-retrieval.txt,
 * reference/README.md "TIM Plus"):
 * 1. `GET {url}/voice.wav?cmd=getvmsg&datasource=..&recordingid=<voicefilename>&voicelocation=..&salt=<ticks>`
 *    as an authorised web user, answering the server's 401 challenge (Basic or Digest). The text body is
 *    the security token: a URL of the Echo service, valid for 60 s, a bearer secret.
 * 2. `GET` that URL right away, with no credentials (it may point to another host): the WAV.
 */

import { RecpullError } from '../../core/errors.js';
import { drain, fetchedBody, type HttpClient, readText, statusError } from '../../core/http.js';
import { HttpAuthenticator, parseChallenges } from '../../core/http-auth.js';
import { registerSecret } from '../../core/redact.js';
import type { FetchedBody } from '../../core/source.js';

/** The three values that identify a recording in the TIM Plus `calls` table; opaque strings. */
export interface TimplusRecordingId {
  datasource: string;
  voicelocation: string;
  voicefilename: string;
}

/** Connection settings of one TIM Plus profile. */
export interface TimplusClientOptions {
  /** Base URL of the TIM Plus web server (the part before `/voice.wav`). */
  url: string;
  username: string;
  password: string;
  /** Profile name, for error messages. */
  profile: string;
  /** Config file path, for error messages. */
  configFile?: string;
}

/** .NET `DateTime.Now.Ticks` (100 ns since 0001-01-01), as the vendor sample sends for `salt`. */
export function dotnetTicks(ms = Date.now()): string {
  return (BigInt(ms) * 10_000n + 621_355_968_000_000_000n).toString();
}

/** Builds the step-1 URL with every value URL-encoded and the parameters joined properly. */
export function tokenRequestUrl(base: string, id: TimplusRecordingId, salt = dotnetTicks()): URL {
  const u = new URL(`${base.replace(/\/+$/, '')}/voice.wav`);
  u.searchParams.set('cmd', 'getvmsg');
  u.searchParams.set('datasource', id.datasource);
  u.searchParams.set('recordingid', id.voicefilename);
  u.searchParams.set('voicelocation', id.voicelocation);
  u.searchParams.set('salt', salt);
  return u;
}

/** The two-step TIM Plus retrieval for one profile; safe to share between workers. */
export class TimplusClient {
  private readonly auth: HttpAuthenticator;

  constructor(
    private readonly http: HttpClient,
    private readonly opts: TimplusClientOptions,
  ) {
    registerSecret(opts.password);
    registerSecret(`${opts.username}:${opts.password}`); // what a Basic header carries, base64-encoded
    this.auth = new HttpAuthenticator({ username: opts.username, password: opts.password });
  }

  /** Settles when the first token request, which learns the server's auth scheme, has ended. */
  private learning: Promise<void> | undefined;

  /**
   * Step 1: the security token (Echo URL) for one recording. Throws `E_AUTH` (credentials refused or an
   * unsupported scheme; fatal), `E_PERMISSION` (403), `E_NOT_FOUND` (404), `E_PROTOCOL` (a body that is
   * not a URL), retryable `E_HTTP`/`E_NETWORK` otherwise.
   */
  async tokenUrl(id: TimplusRecordingId, signal: AbortSignal): Promise<string> {
    const url = tokenRequestUrl(this.opts.url, id);
    const uri = `${url.pathname}${url.search}`;
    // A header computed from a challenge received earlier (a reused Digest nonce) may be refused by a
    // server that takes each nonce once; only a refusal of an answer to a fresh challenge means the
    // credentials are wrong.
    let authorization = this.auth.preemptive('GET', uri);
    // Until the server's scheme is known, one request learns it and the others wait for it: one 401 per
    // run, not one per worker.
    if (!authorization && this.learning) {
      await this.learning;
      authorization = this.auth.preemptive('GET', uri);
    }
    let learned: (() => void) | undefined;
    if (!authorization && !this.learning) this.learning = new Promise<void>((r) => (learned = r));
    try {
      return await this.requestToken(url, uri, authorization, signal);
    } finally {
      learned?.();
    }
  }

  /** Step 1's request and its challenge rounds (see `tokenUrl`). */
  private async requestToken(
    url: URL,
    uri: string,
    authorization: string | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    let answeredFresh = false;
    for (let round = 0; ; round++) {
      const res = await this.http.request(url, { signal, headers: authorization ? { authorization } : {} });
      if (res.statusCode === 401) {
        const challenges = parseChallenges(res.headers['www-authenticate'] ?? []);
        await drain(res);
        const stale = this.auth.isStale(challenges);
        if ((answeredFresh && !stale) || round >= 2) throw this.refused();
        authorization = this.auth.authorize('GET', uri, challenges);
        answeredFresh = true;
        continue;
      }
      if (res.statusCode === 403) {
        await drain(res);
        throw new RecpullError(
          'E_PERMISSION',
          `TIM Plus: web user "${this.opts.username}" (profile "${this.opts.profile}") may not retrieve recordings (HTTP 403)`,
          { status: 403 },
        );
      }
      if (res.statusCode !== 200) {
        const text = await readText(res, 2048).catch(() => '');
        throw statusError(res, 'TIM Plus token request', text);
      }
      const body = (await readText(res, 64 * 1024)).trim();
      if (!/^https?:\/\//i.test(body) && !body.startsWith('/')) {
        const kind = body.startsWith('<')
          ? 'an HTML/XML page'
          : body === ''
            ? 'an empty body'
            : 'text that is not a URL';
        throw new RecpullError(
          'E_PROTOCOL',
          `TIM Plus answered the token request with ${kind}, not a token URL`,
          { retryable: body === '' },
        );
      }
      const token = new URL(body, url).toString();
      registerSecret(token, { transient: true }); // one per download: bounded
      return token;
    }
  }

  /**
   * Step 2: the recording from the Echo service. A token that expired or was refused (401/403/404/410)
   * throws retryable `E_TOKEN_EXPIRED`, so the queue starts again from step 1.
   */
  async download(tokenUrl: string, signal: AbortSignal): Promise<FetchedBody> {
    const res = await this.http.request(tokenUrl, { signal });
    if ([401, 403, 404, 410].includes(res.statusCode)) {
      await drain(res);
      throw new RecpullError(
        'E_TOKEN_EXPIRED',
        `the Echo service refused the security token (HTTP ${res.statusCode}); requesting a new one`,
        {
          retryable: true,
          status: res.statusCode,
        },
      );
    }
    if (res.statusCode !== 200) {
      const text = await readText(res, 2048).catch(() => '');
      throw statusError(res, 'TIM Plus Echo download', text);
    }
    // The token is single-use and short-lived: a cut-off body starts again from step 1, never with Range.
    return { ...fetchedBody(res), resumable: false };
  }

  private refused(): RecpullError {
    const where = this.opts.configFile ? ` in ${this.opts.configFile}` : '';
    return new RecpullError(
      'E_AUTH',
      `TIM Plus refused the credentials of profile "${this.opts.profile}" (web user "${this.opts.username}") at ${new URL(this.opts.url).origin}; check timplus.${this.opts.profile}.username and password${where}`,
      { status: 401 },
    );
  }
}
