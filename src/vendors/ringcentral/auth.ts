/**
 * RingCentral OAuth for one run: the JWT bearer grant, proactive refresh, revocation.
 *
 * Protocol (reference/ringcentral/docs/docs_authentication_jwt-flow.md, _tokens.md, _refresh-tokens.md,
 * docs_basics_errors.md "OAuth token errors", extract-spec-oauth.yml):
 * - `POST {server}/restapi/oauth/token`, form-encoded, client id and secret as HTTP Basic;
 *   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`, or
 *   `grant_type=refresh_token&refresh_token=<token>`; the answer is a TokenInfo with `expires_in` (s).
 * - One token per run shared by all workers; refreshed before it expires, in one flight (threads must not
 *   authenticate concurrently; the Auth usage plan group allows 5 requests a minute, so token requests also go
 *   through their own rate limiter). Refreshing invalidates the previous access token at once.
 * - A failed token request: 400/401/403 are not repeated (→ `E_AUTH`, fatal); 429 and 503 wait `Retry-After`;
 *   408, 5xx and timeouts are repeated 3 times.
 * - `POST {server}/restapi/oauth/revoke` with `token=<access token>` ends the session; its errors are ignored.
 *
 * Every secret (client secret, `clientId:clientSecret`, JWT, access and refresh tokens) is registered for
 * redaction before it is used; none appears in an error message.
 */
import { RecpullError } from '../../core/errors.js';
import { drain, type HttpClient, readText } from '../../core/http.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import { registerSecret } from '../../core/redact.js';
import { withRetries } from '../../core/request-policy.js';
import { describe, parseErrorBody, type RcErrorInfo, retryAfterOf } from './errors.js';
import { rateObservation } from './rate-headers.js';

/** The app and user credentials of one profile. */
export interface RcCredentials {
  /** Platform base URL, e.g. `https://platform.ringcentral.com`. */
  server: string;
  clientId: string;
  clientSecret: string;
  jwt: string;
  /** Profile name and config file, for error messages. */
  profile: string;
  configFile?: string;
}

/** Options of {@link RcAuth}. */
export interface RcAuthOptions {
  /** The Auth group's limiter (5 requests per 60 s published). */
  limiter: RateLimiter;
  /** Base of the retry backoff for 408/5xx/network failures, ms (default 1000; the guide suggests 10 s). */
  retryBaseMs?: number;
  now?: () => number;
}

interface TokenState {
  access: string;
  refresh: string | undefined;
  /** Epoch ms from which a refresh is due (before the expiry, see {@link refreshMargin}). */
  refreshAt: number;
  refreshExpiresAt: number;
}

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ATTEMPTS = 4;

/** How long before expiry a token is refreshed: a fifth of its lifetime, at most a minute (ms). */
export function refreshMargin(lifetimeMs: number): number {
  return Math.min(60_000, lifetimeMs / 5);
}

/** The run's access token: obtained once, refreshed in a single flight, revoked at the end. */
export class RcAuth {
  private state: TokenState | undefined;
  private inFlight: Promise<string> | undefined;
  private readonly now: () => number;
  private readonly basic: string;

  constructor(
    private readonly http: HttpClient,
    private readonly creds: RcCredentials,
    private readonly opts: RcAuthOptions,
  ) {
    this.now = opts.now ?? Date.now;
    registerSecret(creds.clientSecret);
    registerSecret(creds.jwt);
    const pair = `${creds.clientId}:${creds.clientSecret}`;
    registerSecret(pair);
    this.basic = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
  }

  /**
   * A valid access token: the current one, or a new one once a refresh is due. Concurrent callers share one
   * token request. Throws `E_AUTH` (grant refused; fatal) or the last transport/rate-limit error.
   */
  token(signal?: AbortSignal): Promise<string> {
    const s = this.state;
    if (s && this.now() < s.refreshAt) return Promise.resolve(s.access);
    return this.obtain(signal);
  }

  /**
   * After a 401 for `used`: a fresh token. When `used` was already replaced (another worker refreshed), the
   * current one; otherwise a refresh (once per stale token).
   */
  renew(used: string, signal?: AbortSignal): Promise<string> {
    if (this.state && this.state.access !== used) return Promise.resolve(this.state.access);
    if (this.state) this.state.refreshAt = 0;
    return this.obtain(signal);
  }

  /** Whether `token` is the run's current access token (false once a refresh replaced it). */
  isCurrent(token: string): boolean {
    return this.state?.access === token;
  }

  /** Ends the session (errors ignored; skipped when the Auth budget would make it wait). */
  async revoke(): Promise<void> {
    const s = this.state;
    if (!s) return;
    this.state = undefined;
    try {
      const slot = await this.opts.limiter.acquire({ maxWaitMs: 2000 });
      try {
        const res = await this.http.request(new URL('/restapi/oauth/revoke', this.creds.server), {
          method: 'POST',
          headers: this.formHeaders(),
          body: new URLSearchParams({ token: s.access }).toString(),
          signal: AbortSignal.timeout(10_000),
        });
        slot.release(rateObservation(res));
        await drain(res);
      } catch {
        slot.release();
      }
    } catch {
      // revocation errors are ignored (docs_basics_errors.md "OAuth revokation errors")
    }
  }

  private obtain(signal: AbortSignal | undefined): Promise<string> {
    this.inFlight ??= this.grant(signal).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Refresh grant when a refresh token is usable, else (or when it is refused) the JWT grant. */
  private async grant(signal: AbortSignal | undefined): Promise<string> {
    const s = this.state;
    if (s?.refresh && this.now() < s.refreshExpiresAt) {
      try {
        return await this.request({ grant_type: 'refresh_token', refresh_token: s.refresh }, signal);
      } catch (err) {
        if (!(err instanceof RecpullError) || err.code !== 'E_AUTH') throw err;
        // A refused refresh token: present the JWT again (jwt-flow.md: "a JWT can easily be presented again").
      }
    }
    return this.request({ grant_type: JWT_GRANT, assertion: this.creds.jwt }, signal);
  }

  /**
   * One token request with its retries (the shared policy: 3 retries, backoff capped at 10 s); stores and
   * returns the access token. A 429 penalises the Auth limiter, whose next slot waits it out.
   */
  private async request(form: Record<string, string>, signal: AbortSignal | undefined): Promise<string> {
    const grant = form.grant_type === JWT_GRANT ? 'JWT grant' : 'token refresh';
    return withRetries(
      async () => {
        const slot = await this.opts.limiter.acquire(signal ? { signal } : {});
        let res: Awaited<ReturnType<HttpClient['request']>>;
        try {
          res = await this.http.request(new URL('/restapi/oauth/token', this.creds.server), {
            method: 'POST',
            headers: this.formHeaders(),
            body: new URLSearchParams(form).toString(),
            ...(signal ? { signal } : {}),
          });
        } catch (err) {
          slot.release();
          throw err;
        }
        slot.release(rateObservation(res));
        const text = await readText(res, 64 * 1024).catch(() => '');
        if (res.statusCode === 200) return this.store(text);
        const info = parseErrorBody(text);
        if (res.statusCode === 429) {
          this.opts.limiter.penalize(retryAfterOf(res)); // the next acquire waits it out
          throw this.failed(grant, res.statusCode, 'E_RATE_LIMIT', info, 0);
        }
        if (res.statusCode === 408 || res.statusCode >= 500)
          throw this.failed(grant, res.statusCode, 'E_HTTP', info, retryAfterOf(res));
        throw this.refused(grant, res.statusCode, info.errorCode, describe(info));
      },
      {
        retries: ATTEMPTS - 1,
        capMs: 10_000,
        ...(this.opts.retryBaseMs !== undefined ? { baseMs: this.opts.retryBaseMs } : {}),
        ...(signal ? { signal } : {}),
      },
    );
  }

  private store(text: string): string {
    let info: {
      access_token?: unknown;
      expires_in?: unknown;
      refresh_token?: unknown;
      refresh_token_expires_in?: unknown;
    };
    try {
      info = JSON.parse(text) as typeof info;
    } catch {
      throw new RecpullError(
        'E_PROTOCOL',
        'RingCentral answered the token request with something that is not JSON',
        {
          retryable: true,
        },
      );
    }
    if (typeof info.access_token !== 'string' || info.access_token === '') {
      throw new RecpullError('E_PROTOCOL', 'RingCentral answered the token request without an access_token', {
        retryable: true,
      });
    }
    registerSecret(info.access_token);
    const refresh =
      typeof info.refresh_token === 'string' && info.refresh_token !== '' ? info.refresh_token : undefined;
    if (refresh) registerSecret(refresh);
    const t = this.now();
    const lifetimeMs =
      (typeof info.expires_in === 'number' && info.expires_in > 0 ? info.expires_in : 3600) * 1000;
    const refreshLifetimeMs =
      (typeof info.refresh_token_expires_in === 'number' ? info.refresh_token_expires_in : 0) * 1000;
    this.state = {
      access: info.access_token,
      refresh,
      refreshAt: t + lifetimeMs - refreshMargin(lifetimeMs),
      refreshExpiresAt: t + refreshLifetimeMs - 10_000,
    };
    return info.access_token;
  }

  private formHeaders(): Record<string, string> {
    return {
      authorization: this.basic,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
  }

  private failed(
    grant: string,
    status: number,
    code: 'E_RATE_LIMIT' | 'E_HTTP',
    info: RcErrorInfo,
    retryAfterMs: number | undefined,
  ) {
    return new RecpullError(code, `RingCentral ${grant}: HTTP ${status} ${describe(info)}`, {
      retryable: true,
      status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(info.errorCode ? { vendorCode: info.errorCode } : {}),
    });
  }

  private refused(grant: string, status: number, code: string | undefined, detail: string): RecpullError {
    const p = this.creds.profile;
    const where = this.creds.configFile ? ` in ${this.creds.configFile}` : '';
    const hint =
      code === 'OAU-140' || code === 'CMN-101'
        ? `check ringcentral.${p}.jwt (or jwtFile)${where}`
        : `check ringcentral.${p}.clientId, clientSecret and jwt${where}`;
    return new RecpullError(
      'E_AUTH',
      `RingCentral refused the ${grant} of profile "${p}" at ${new URL(this.creds.server).origin} (HTTP ${status}): ${detail}; ${hint}`,
      { status, ...(code ? { vendorCode: code } : {}) },
    );
  }
}
