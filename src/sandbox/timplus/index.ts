/**
 * The TIM Plus emulator: the web server's `voice.wav?cmd=getvmsg` behind an HTTP 401 challenge (Basic,
 * Digest, or a scheme recpull cannot speak), handing out security-token URLs of a second listener (the Echo
 * service) that expire after `tokenTtlMs` (60 s, as documented). Facts: reference/seeds/timplus-programmatic-
 * audio-retrieval.txt and reference/timplus/timplus-notes.md.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { bodyOf, type CatalogueEntry, contentOf, hash32, sizeFor } from '../catalogue.js';
import { FaultInjector, type FaultPlan } from '../faults.js';
import { verifyBasic, verifyDigest } from '../http-auth-server.js';
import { type BodySource, HTML_ERROR_PAGE, type LoggedRequest, sendBody, startServer } from '../server.js';

/** One recording of the emulated `calls` table. */
export interface TimplusRecording extends CatalogueEntry {
  datasource: string;
  voicelocation: string;
  voicefilename: string;
}

/** Options; sizes in bytes, times in ms. */
/** A running TIM Plus emulator (web server and Echo service) and what tests read from it. */
export interface TimplusSandboxOptions {
  username?: string;
  password?: string;
  /** The challenge the web server sends (default `digest`). `ntlm` is one recpull cannot answer. */
  scheme?: 'basic' | 'digest' | 'ntlm';
  /** Number of generated recordings (default 50). */
  recordings?: number;
  /** Extra recordings with exact values (hostile names, `\3\` datasources...). */
  extra?: { datasource: string; voicelocation: string; voicefilename: string; bytes?: number }[];
  minBytes?: number;
  maxBytes?: number;
  seed?: number;
  /** Lifetime of a security token (default 60 000). */
  tokenTtlMs?: number;
  /** Faults of Echo downloads. */
  faults?: FaultPlan;
  /**
   * Digest nonces: `reuse` (default) accepts a nonce for 5 minutes with increasing nc; `once` accepts each
   * nonce once and answers a reused one with a plain new challenge (no `stale=true`), as some servers do.
   */
  nonces?: 'reuse' | 'once';
  /** The first N tokens issued for each recording are already expired when handed out (default 0). */
  deadTokensPerRecording?: number;
  /** Per-voicefilename behaviour of the Echo service: an HTML page with status 200 instead of audio. */
  htmlFor?: string[];
  tls?: boolean;
  /**
   * Generate WAV content fast (one seeded 64 KiB block per recording, repeated; see `ContentOptions.fast`)
   * and, when no fault plan is set, send it in 64 KiB writes: for benchmarks, where the emulator must not be
   * the bottleneck. `contentOf` returns the same bytes.
   */
  fastContent?: boolean;
  /** Fixed ports (for `recpull sandbox`); 0 = free ports. */
  port?: number;
  echoPort?: number;
}

export interface TimplusSandbox {
  /** Base URL of the web server (config `url`). */
  url: string;
  /** Base URL of the Echo service. */
  echoUrl: string;
  username: string;
  password: string;
  catalogue: TimplusRecording[];
  /** Every request both listeners received. */
  log: LoggedRequest[];
  /** The bytes the Echo service serves for a recording. */
  contentOf(rec: TimplusRecording): Buffer;
  setFaults(plan: FaultPlan): void;
  setTokenTtl(ms: number): void;
  /** Number of tokens issued so far. */
  tokensIssued(): number;
  close(): Promise<void>;
}

/** A GUID-shaped voicefilename derived from an index and the seed. */
function guid(i: number, seed: number): string {
  const h = (n: number) => hash32(`${seed}:guid:${i}:${n}`).toString(16).padStart(8, '0');
  const a = h(1) + h(2) + h(3) + h(4);
  return `${a.slice(0, 8)}-${a.slice(8, 12)}-4${a.slice(13, 16)}-8${a.slice(17, 20)}-${a.slice(20, 32)}`;
}

const idOf = (r: { datasource: string; voicelocation: string; voicefilename: string }) =>
  `${r.datasource}\u0000${r.voicelocation}\u0000${r.voicefilename}`;

/** Starts the web server and the Echo service on 127.0.0.1. */
export async function startTimplusSandbox(opts: TimplusSandboxOptions = {}): Promise<TimplusSandbox> {
  const seed = opts.seed ?? 1;
  const username = opts.username ?? 'recpull';
  const password = opts.password ?? 'sandbox-password';
  const scheme = opts.scheme ?? 'digest';
  const realm = 'TIM Plus';
  let tokenTtlMs = opts.tokenTtlMs ?? 60_000;
  const faults = new FaultInjector(opts.faults ?? {});
  const content = opts.fastContent ? { fast: true } : {};
  const sizes = {
    seed,
    ...(opts.minBytes ? { minBytes: opts.minBytes } : {}),
    ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}),
  };
  const catalogue: TimplusRecording[] = [];
  for (let i = 0; i < (opts.recordings ?? 50); i++) {
    const voicefilename = guid(i, seed);
    catalogue.push({
      id: voicefilename,
      format: 'wav',
      bytes: sizeFor(voicefilename, sizes),
      datasource: '3',
      voicelocation: '4',
      voicefilename,
    });
  }
  for (const e of opts.extra ?? []) {
    catalogue.push({
      ...e,
      id: e.voicefilename,
      format: 'wav',
      bytes: e.bytes ?? sizeFor(e.voicefilename, sizes),
    });
  }
  const byId = new Map(catalogue.map((r) => [idOf(r), r]));
  const html = new Set(opts.htmlFor ?? []);
  const tokens = new Map<string, { rec: TimplusRecording; expires: number }>();
  const nonces = new Map<string, number>();
  let issued = 0;
  const perRecording = new Map<string, number>();
  const log: LoggedRequest[] = [];

  const challenge = (): string => {
    if (scheme === 'basic') return `Basic realm="${realm}", charset="UTF-8"`;
    if (scheme === 'ntlm') return 'NTLM';
    const nonce = randomBytes(16).toString('base64');
    nonces.set(nonce, Date.now());
    return `Digest realm="${realm}", qop="auth", algorithm=MD5, nonce="${nonce}", opaque="${randomBytes(8).toString('hex')}"`;
  };
  const deny = (res: http.ServerResponse, stale = false) => {
    const value = stale ? challenge().replace(/^Digest /, 'Digest stale=true, ') : challenge();
    res.writeHead(401, { 'www-authenticate': value, 'content-type': 'text/html' });
    res.end('<html><body>401 Unauthorized</body></html>');
  };

  // The Echo service first: the web server's answers point at it.
  const echo = await startServer(
    'timplus-echo',
    async (req, res, entry) => {
      const m = /^\/echo\/([0-9a-f]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
      const t = m ? tokens.get(m[1] as string) : undefined;
      if (req.headers.authorization) entry.auth = `${entry.auth} (credentials sent to Echo!)`;
      if (!t || t.expires < Date.now()) {
        res.writeHead(410, { 'content-type': 'text/plain' });
        return res.end('Token expired');
      }
      if (html.has(t.rec.voicefilename)) {
        res.writeHead(200, {
          'content-type': 'text/html',
          'content-length': Buffer.byteLength(HTML_ERROR_PAGE),
        });
        return res.end(HTML_ERROR_PAGE);
      }
      const fault = faults.next(t.rec.voicefilename);
      if (fault) entry.fault = fault;
      if (fault === 'serverError' || fault === 'tooMany') {
        const status = fault === 'tooMany' ? 429 : (faults.plan.serverError?.status ?? 500);
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain' };
        if (fault === 'tooMany') headers['retry-after'] = String(faults.plan.tooMany?.retryAfterS ?? 1);
        res.writeHead(status, headers);
        return res.end(`Error ${status}`);
      }
      if (opts.fastContent && !fault && Object.keys(faults.plan).length === 0)
        return sendPlain(res, bodyOf(t.rec, seed, content));
      await sendBody(res, bodyOf(t.rec, seed, content), 'audio/wav', faults.plan, fault);
    },
    log,
    { ...(opts.tls ? { tls: true } : {}), ...(opts.echoPort ? { port: opts.echoPort } : {}) },
  );
  const web = await startServer(
    'timplus-web',
    (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization;
      if (!auth) return deny(res);
      if (scheme === 'basic' && !verifyBasic(auth, username, password)) return deny(res);
      if (scheme === 'digest') {
        const verdict = verifyDigest(auth, {
          username,
          password,
          realm,
          method: req.method ?? 'GET',
          nonceValid: (n) => nonces.has(n) && Date.now() - (nonces.get(n) as number) < 300_000,
        });
        if (verdict !== 'ok') return deny(res, verdict === 'stale' && opts.nonces !== 'once');
        if (opts.nonces === 'once') nonces.delete(/nonce="([^"]+)"/.exec(auth)?.[1] ?? '');
      }
      if (scheme === 'ntlm') return deny(res);
      if (u.pathname !== '/voice.wav' || u.searchParams.get('cmd') !== 'getvmsg') {
        res.writeHead(404, { 'content-type': 'text/html' });
        return res.end('<html><body>Not found</body></html>');
      }
      const rec = byId.get(
        idOf({
          datasource: u.searchParams.get('datasource') ?? '',
          voicelocation: u.searchParams.get('voicelocation') ?? '',
          voicefilename: u.searchParams.get('recordingid') ?? '',
        }),
      );
      if (!rec) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('Recording not found');
      }
      const token = randomBytes(24).toString('hex');
      const n = perRecording.get(rec.voicefilename) ?? 0;
      perRecording.set(rec.voicefilename, n + 1);
      const dead = n < (opts.deadTokensPerRecording ?? 0);
      tokens.set(token, { rec, expires: dead ? 0 : Date.now() + tokenTtlMs });
      issued++;
      const body = `${echo.url}/echo/${token}`;
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    },
    log,
    { ...(opts.tls ? { tls: true } : {}), ...(opts.port ? { port: opts.port } : {}) },
  );
  return {
    url: web.url,
    echoUrl: echo.url,
    username,
    password,
    catalogue,
    log,
    contentOf: (rec) => contentOf(rec, seed, content),
    setFaults: (plan) => {
      faults.plan = plan;
    },
    setTokenTtl: (ms) => {
      tokenTtlMs = ms;
    },
    tokensIssued: () => issued,
    close: async () => {
      await Promise.all([web.close(), echo.close()]);
    },
  };
}

/** Sends a whole body with no faults, a chunk per write, waiting for `drain` (the bench's fast path). */
async function sendPlain(res: http.ServerResponse, source: BodySource): Promise<void> {
  res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': source.length });
  for await (const chunk of source.chunks(0)) {
    if (res.destroyed) return;
    if (!res.write(chunk))
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
  }
  res.end();
}
