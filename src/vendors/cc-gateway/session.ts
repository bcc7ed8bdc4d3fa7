/**
 * One AgentGateway agent session shared by every download of a run: sign-in (forcelogin on `100-002` when
 * allowed), saybusy, the GUID and cookies every request carries, the keep-alive event poll, recovery from a
 * lost session, and sign-out.
 *
 * Protocol facts (reference/huawei/agentgateway-notes.md; seeds/huawei-cc-gateway-download-recordings.txt):
 * - sign-in `PUT /agentgateway/resource/onlineagent/{agentid}` with a JSON body (`password`, `phonenum`,
 *   `status` 5 = wrap-up, `releasephone`, `agenttype` 4 = PC + phone, `autoanswer`, `autoenteridle`);
 *   `PUT .../{agentid}/forcelogin` takes over an agent already signed in (`100-002`);
 * - the GUID arrives as `Set-GUID: JSESSIONID=<guid>` and goes back as header `Guid: <guid>`; any
 *   `Set-Cookie` goes back as `Cookie`; in dynamic AUTHMODE the GUID rotates and the new one comes on the
 *   event-poll answer, so `Set-GUID` is read on every response;
 * - `GET /agentgateway/resource/agentevent/{agentid}` is held ~10 s by the gateway and re-polled after
 *   200–500 ms; an agent that has not polled for 2 minutes is signed out (doc cec_07_1202);
 * - `POST .../{agentid}/saybusy` (issue 8: Huawei documents saybusy and rest as POST);
 * - sign-out `DELETE .../{agentid}/logout`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RecpullError } from '../../core/errors.js';
import { type HttpClient, type HttpResponse, readText } from '../../core/http.js';
import { redact, registerSecret } from '../../core/redact.js';
import { describeRetcode, SESSION_RETCODES, signInError } from './retcodes.js';

/** Settings of a session. Times in ms. */
export interface CcGatewaySessionOptions {
  /** Gateway base URL, e.g. `https://cc-gw.example.com:8043` (paths start with `/agentgateway/resource/`). */
  url: string;
  agentId: string;
  password: string;
  /** The phone number the agent binds at sign-in (`phonenum`). */
  phoneNumber: string;
  /** On `100-002` (already signed in) take the agent over with forcelogin instead of failing. */
  forceLogin?: boolean;
  /** `agenttype`: 4 PC + phone (default), 11 PC + phone video. */
  agentType?: number;
  /** Pause between an answered poll and the next (default 300; the references say 200–500). */
  repollDelayMs?: number;
  /** Pause after a failed poll, doubling up to 10 000 (default 1000). */
  pollErrorDelayMs?: number;
  /** Lost sessions recovered by signing in again in one run (default 1); the next loss is fatal. */
  maxRelogins?: number;
  /** Profile name and config file, named by a refused sign-in. */
  profile?: string;
  configFile?: string;
}

/** `debug` notices are for `--verbose` only (keep-alive hiccups). */
export type NoticeLevel = 'info' | 'warn' | 'debug';

/** The outcome of a poll started after a download was refused: is our session alive? */
export type PollVerdict = 'alive' | 'lost' | 'unknown';

/** A response with the session epoch its request was sent in (see {@link CcGatewaySession.epoch}). */
export interface SessionResponse {
  res: HttpResponse;
  epoch: number;
}

/** A parsed `{retcode, message, result}` answer. */
export interface Retcode {
  retcode: string;
  message?: string;
  result?: unknown;
}

const BASE = '/agentgateway/resource';

/**
 * The agent session. Safe to share between concurrent downloads: the GUID is a single current value,
 * re-sign-in is single-flight, and every response's `Set-GUID` updates it unless the response belongs to
 * an older session (epoch).
 */
export class CcGatewaySession {
  /** Number of successful sign-ins so far; a response is from the current session when its epoch matches. */
  epoch = 0;
  /** Whether we believe the agent is signed in (so `close` knows to sign out). */
  signedIn = false;
  /** Receives notices (sign-in, busy, keep-alive trouble, session recovery). */
  onNotice: (level: NoticeLevel, message: string) => void = () => {};
  private guid: string | undefined;
  private readonly cookies = new Map<string, string>();
  private relogins = 0;
  private recovering: Promise<void> | undefined;
  private fatal: RecpullError | undefined;
  private loop: AbortController | undefined;
  private loopDone: Promise<void> | undefined;
  private pollAbort: AbortController | undefined;
  private pollSeq = 0;
  private readonly verdictWaiters: { afterSeq: number; resolve: (v: PollVerdict) => void }[] = [];

  constructor(
    private readonly http: HttpClient,
    readonly opts: CcGatewaySessionOptions,
  ) {
    registerSecret(opts.password);
  }

  /**
   * Signs in (`PUT onlineagent/{agentid}`, then forcelogin on `100-002` when `force` or `opts.forceLogin`)
   * and sets the agent busy (`saybusy`). Throws `E_AUTH` (refused: names the retcode and its meaning;
   * `100-002` without force explains that another session holds the agent), `E_PROTOCOL` (no GUID),
   * or a transport error (`E_NETWORK`, `E_TIMEOUT`, `E_ABORTED`).
   */
  async signIn(signal: AbortSignal, force = false): Promise<void> {
    const body = JSON.stringify({
      password: this.opts.password,
      phonenum: this.opts.phoneNumber,
      status: 5, // wrap-up: no call is routed to the agent
      releasephone: true,
      agenttype: this.opts.agentType ?? 4,
      autoanswer: false,
      autoenteridle: false,
    });
    // A new epoch starts now: answers to requests sent before it can no longer change the GUID.
    this.epoch++;
    this.guid = undefined;
    this.signedIn = false;
    let answer = await this.json(await this.call('PUT', `onlineagent/${this.agent}`, { signal, body }));
    if (answer.retcode === '100-002' && (force || this.opts.forceLogin)) {
      this.onNotice(
        'warn',
        `agent ${this.opts.agentId} was signed in elsewhere; taking it over (forcelogin)`,
      );
      const forced = await this.call('PUT', `onlineagent/${this.agent}/forcelogin`, { signal, body });
      answer = await this.json(forced);
    }
    if (answer.retcode !== '0')
      throw signInError(answer.retcode, answer.message, this.opts.agentId, {
        ...(this.opts.profile !== undefined ? { profile: this.opts.profile } : {}),
        ...(this.opts.configFile !== undefined ? { configFile: this.opts.configFile } : {}),
      });
    if (!this.guid) {
      throw new RecpullError('E_PROTOCOL', 'the CC-Gateway signed the agent in but sent no Set-GUID header');
    }
    this.signedIn = true;
    const busy = await this.json(await this.call('POST', `onlineagent/${this.agent}/saybusy`, { signal }));
    if (busy.retcode !== '0') {
      throw new RecpullError(
        'E_AUTH',
        `agent ${this.opts.agentId} signed in but could not be set busy: ${describeRetcode(busy.retcode, busy.message)}`,
        { vendorCode: busy.retcode },
      );
    }
  }

  /**
   * Sends a request with the current `Guid` and cookies, and takes `Set-GUID` / `Set-Cookie` from the
   * response. `path` is below `/agentgateway/resource/`. Throws transport errors only.
   */
  async call(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    opts: { signal: AbortSignal; query?: Record<string, string>; body?: string },
  ): Promise<SessionResponse> {
    const url = new URL(`${this.opts.url.replace(/\/+$/, '')}${BASE}/${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const epoch = this.epoch;
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8' };
    if (this.guid) headers.guid = this.guid;
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await this.http.request(url, {
      method,
      headers,
      signal: opts.signal,
      ...(opts.body !== undefined ? { body: opts.body } : {}),
    });
    this.takeHeaders(res, epoch);
    return { res, epoch };
  }

  /** Reads a `{retcode, message, result}` answer (at most 64 KiB). A body that is not one is `E_PROTOCOL`. */
  async json({ res }: SessionResponse): Promise<Retcode> {
    const text = await readText(res, 64 * 1024);
    return parseRetcode(text, res.statusCode);
  }

  /**
   * Waits while the session is being signed in again; throws the fatal `E_AUTH` once it is lost for good.
   * Every request of a download goes through this first, so none is sent with a GUID known to be dead.
   */
  async ready(): Promise<void> {
    if (this.recovering) await this.recovering.catch(() => {});
    if (this.fatal) throw this.fatal;
  }

  /** Starts the keep-alive poll loop; `onFatal` is called once if the session is lost beyond recovery. */
  startKeepAlive(onFatal: (err: RecpullError) => void): void {
    if (this.loop) return;
    const loop = new AbortController();
    this.loop = loop;
    this.loopDone = this.pollLoop(loop.signal, onFatal);
  }

  /**
   * The session was found lost (`100-006`, or `000-003` confirmed by a poll) by a request sent in `epoch`.
   * Signs in again once per run (with forcelogin: the stale session the gateway may still hold is ours);
   * concurrent callers share one sign-in, and a caller whose request predates the last sign-in just retries.
   * Throws `E_AUTH` when the session is lost again after the allowed re-sign-ins, or when signing in fails.
   */
  async recover(epoch: number, cause: string, signal: AbortSignal): Promise<void> {
    if (this.fatal) throw this.fatal;
    if (epoch !== this.epoch) return; // someone signed in again since that request was sent
    if (this.recovering) return this.recovering;
    if (this.relogins >= (this.opts.maxRelogins ?? 1)) {
      this.signedIn = false;
      this.fatal = new RecpullError(
        'E_AUTH',
        `the CC-Gateway session of agent ${this.opts.agentId} was lost again (${cause}) after signing in again; stopping`,
        { vendorCode: cause.slice(0, 7) },
      );
      throw this.fatal;
    }
    this.relogins++;
    this.onNotice('warn', `the CC-Gateway session was lost (${cause}); signing in again`);
    this.recovering = this.signIn(signal, true)
      .catch((err: unknown) => {
        this.fatal = err instanceof RecpullError && err.code === 'E_ABORTED' ? undefined : toAuth(err);
        throw this.fatal ?? err;
      })
      .finally(() => {
        this.recovering = undefined;
      });
    return this.recovering;
  }

  /**
   * Whether the session is alive, judged by an event poll started after this call (the held poll in
   * progress is cut short so a fresh one starts at once). An alive session answers after the gateway's
   * hold (≤ ~10 s). Without a keep-alive loop: `unknown`.
   */
  checkAlive(signal: AbortSignal): Promise<PollVerdict> {
    if (!this.loop || this.loop.signal.aborted) return Promise.resolve('unknown');
    return new Promise((resolve) => {
      const waiter = {
        afterSeq: this.pollSeq,
        resolve: (v: PollVerdict) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
      };
      const onAbort = () => {
        const i = this.verdictWaiters.indexOf(waiter);
        if (i >= 0) this.verdictWaiters.splice(i, 1);
        resolve('unknown');
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.verdictWaiters.push(waiter);
      this.pollAbort?.abort();
    });
  }

  /**
   * Stops the keep-alive loop and signs out (`DELETE onlineagent/{agentid}/logout`) if signed in. Never
   * throws: a refusal or a transport failure is a warning notice. `signal` is the close deadline.
   */
  async close(signal: AbortSignal): Promise<void> {
    this.loop?.abort();
    await this.loopDone;
    for (const w of this.verdictWaiters.splice(0)) w.resolve('unknown');
    if (!this.signedIn || !this.guid) return;
    try {
      const answer = await this.json(
        await this.call('DELETE', `onlineagent/${this.agent}/logout`, { signal }),
      );
      if (answer.retcode === '0' || answer.retcode === '100-006') {
        this.signedIn = false;
        this.onNotice('info', `agent ${this.opts.agentId} signed out`);
      } else {
        this.onNotice(
          'warn',
          `signing agent ${this.opts.agentId} out failed: ${describeRetcode(answer.retcode, answer.message)}`,
        );
      }
    } catch (err) {
      this.onNotice(
        'warn',
        `signing agent ${this.opts.agentId} out failed: ${redact((err as Error).message)}`,
      );
    }
  }

  private get agent(): string {
    return encodeURIComponent(this.opts.agentId);
  }

  /** Takes `Set-GUID` and `Set-Cookie` from a response to a request sent in the current epoch. */
  private takeHeaders(res: HttpResponse, epoch: number): void {
    if (epoch !== this.epoch) return; // an answer from before the last sign-in
    const setGuid = res.headers['set-guid'];
    const g = (Array.isArray(setGuid) ? setGuid[setGuid.length - 1] : setGuid)?.trim();
    if (g) {
      const value = g
        .replace(/^JSESSIONID=/i, '')
        .split(';', 1)[0]!
        .trim();
      if (value !== '') {
        registerSecret(value, { transient: true });
        const bare = value.split('.', 1)[0];
        if (bare && bare !== value) registerSecret(bare, { transient: true });
        this.guid = value;
      }
    }
    const setCookie = res.headers['set-cookie'];
    for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = c.split(';', 1)[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const value = pair.slice(eq + 1).trim();
      registerSecret(value, { transient: true });
      this.cookies.set(pair.slice(0, eq).trim(), value);
    }
  }

  private async pollLoop(stop: AbortSignal, onFatal: (err: RecpullError) => void): Promise<void> {
    let errorDelay = this.opts.pollErrorDelayMs ?? 1000;
    while (!stop.aborted) {
      const pollAbort = new AbortController();
      this.pollAbort = pollAbort;
      const signal = AbortSignal.any([stop, pollAbort.signal]);
      const seq = ++this.pollSeq;
      let verdict: PollVerdict = 'unknown';
      let delay = this.opts.repollDelayMs ?? 300;
      let lost: { epoch: number; retcode: string } | undefined;
      try {
        await this.ready();
        const answer = await this.call('GET', `agentevent/${this.agent}`, { signal });
        const parsed = await this.json(answer);
        if (parsed.retcode === '0') {
          verdict = 'alive';
          errorDelay = this.opts.pollErrorDelayMs ?? 1000;
        } else if (SESSION_RETCODES.has(parsed.retcode)) {
          verdict = 'lost';
          lost = { epoch: answer.epoch, retcode: parsed.retcode };
        } else {
          this.onNotice(
            'debug',
            `keep-alive poll answered ${describeRetcode(parsed.retcode, parsed.message)}`,
          );
          delay = errorDelay;
          errorDelay = Math.min(errorDelay * 2, 10_000);
        }
      } catch (err) {
        if (stop.aborted || this.fatal) break;
        if (!pollAbort.signal.aborted) {
          this.onNotice('debug', `keep-alive poll failed: ${redact((err as Error).message)}`);
          delay = errorDelay;
          errorDelay = Math.min(errorDelay * 2, 10_000);
        } else delay = 0; // cut short by checkAlive: poll again at once
      }
      if (verdict !== 'unknown' || !pollAbort.signal.aborted) this.settleWaiters(seq, verdict);
      if (lost) {
        try {
          await this.recover(lost.epoch, `${lost.retcode} on the keep-alive poll`, stop);
          delay = 0;
        } catch (err) {
          if (stop.aborted) break;
          onFatal(err instanceof RecpullError ? err : toAuth(err));
          break;
        }
      }
      if (delay > 0) await sleep(delay, undefined, { signal: stop }).catch(() => {});
    }
    for (const w of this.verdictWaiters.splice(0)) w.resolve('unknown');
  }

  /** Resolves the waiters registered before poll `seq` started. */
  private settleWaiters(seq: number, verdict: PollVerdict): void {
    for (let i = this.verdictWaiters.length - 1; i >= 0; i--) {
      const w = this.verdictWaiters[i]!;
      if (w.afterSeq < seq) {
        this.verdictWaiters.splice(i, 1);
        w.resolve(verdict);
      }
    }
  }
}

/** Parses `{retcode, message, result}`; anything else is `E_PROTOCOL` (retryable for a 5xx or empty body). */
export function parseRetcode(text: string, status: number): Retcode {
  try {
    const v = JSON.parse(text) as { retcode?: unknown; message?: unknown; result?: unknown };
    if (v && typeof v === 'object' && v.retcode !== undefined && v.retcode !== null) {
      return {
        retcode: String(v.retcode),
        ...(typeof v.message === 'string' ? { message: v.message } : {}),
        result: v.result,
      };
    }
  } catch {
    // fall through
  }
  throw new RecpullError(
    'E_PROTOCOL',
    `the CC-Gateway answered HTTP ${status} with ${text.trim() === '' ? 'an empty body' : `something that is not a retcode answer: ${redact(text.trim().slice(0, 120))}`}`,
    { retryable: status >= 500 || text.trim() === '', status },
  );
}

function toAuth(err: unknown): RecpullError {
  if (err instanceof RecpullError && err.code === 'E_AUTH') return err;
  return new RecpullError(
    'E_AUTH',
    `the CC-Gateway session was lost and signing in again failed: ${redact(err instanceof Error ? err.message : String(err))}`,
    { cause: err },
  );
}
