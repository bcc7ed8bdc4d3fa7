/**
 * A loopback emulator of Huawei's CC-Gateway (AgentGateway) as recpull uses it: agent sign-in (and
 * forcelogin when `100-002`), saybusy, sign-out, the event long poll that rotates the GUID in dynamic
 * AUTHMODE and keeps the agent signed in, and recordfile answering WAV, headerless A-law bodies or the
 * documented error JSON with HTTP 200. HTTPS with the sandbox's self-signed certificate by default.
 *
 * Sources: reference/seeds/huawei-cc-gateway-download-recordings.txt, reference/huawei/agentgateway-notes.md,
 * reference/huawei/agentgateway-retcodes.tsv; each module cites what it takes from them. Imports nothing
 * from `src/vendors`.
 */
import { randomBytes } from 'node:crypto';
import { FaultInjector, type FaultPlan } from '../faults.js';
import { startServer } from '../server.js';
import { AgentState, type SignOutReason } from './agent.js';
import {
  type CcRecording,
  type CcRecordingSpec,
  makeCatalogue,
  recordingBytes,
  recordingOf,
} from './records.js';
import { type CcContext, type CcLoggedRequest, type CcMutableOptions, route } from './routes.js';

export type { CcLoggedRequest, CcMutableOptions, CcRecording, CcRecordingSpec, SignOutReason };

/** Options of {@link startCcGatewaySandbox}; every one has a default. Times in ms, sizes in bytes. */
export interface CcGatewaySandboxOptions {
  /** Default `20011`. */
  agentId?: string;
  /** Default `sandbox-agent-password`. */
  password?: string;
  /** The phone number sign-in must bind (`phonenum`). Default `70001`. */
  phoneNumber?: string;
  /** AUTHMODE: `dynamic` (2, the real default) rotates the GUID; `static` (1) keeps it. Default dynamic. */
  authMode?: 'static' | 'dynamic';
  /** GUIDINTERVAL, default 60 000. */
  guidIntervalMs?: number;
  /** GUIDTIMEOUT, default 120 000. */
  guidTimeoutMs?: number;
  /** Sign the agent out after this long without a poll, default 120 000. */
  silenceMs?: number;
  /** Hold of an event poll with nothing to report, default 10 000. */
  pollHoldMs?: number;
  /** Number of generated recordings (default 20), or explicit ones. */
  recordings?: number | CcRecordingSpec[];
  /** Share of generated recordings served headerless (raw A-law), default 0. */
  rawRatio?: number;
  /** Generated recording sizes, default 4 000 – 16 000. */
  minBytes?: number;
  maxBytes?: number;
  seed?: number;
  /** Another session holds the agent at the start (sign-in answers `100-002`). */
  signedInElsewhere?: boolean;
  /** Sign-in answers `110-016`. */
  locked?: boolean;
  /** Default true; false → `104-001`. */
  downloadEnabled?: boolean;
  /** Configured node ids, default `['0', '1']`. */
  nodes?: string[];
  /** Recordfile answers these retcodes for these record ids. */
  recordErrors?: Record<string, string>;
  faults?: FaultPlan;
  /** Logout answers after this long, ms (a slow sign-out); default 0. */
  logoutDelayMs?: number;
  /** Default true (HTTPS with the sandbox certificate). */
  tls?: boolean;
  /** Fixed port (`recpull sandbox --port`); default a free one. */
  port?: number;
}

/** A running CC-Gateway emulator. */
export interface CcGatewaySandbox {
  /** Base URL, e.g. `https://127.0.0.1:40123` (the paths start with `/agentgateway/resource/`). */
  url: string;
  agentId: string;
  password: string;
  phoneNumber: string;
  catalogue: CcRecording[];
  /** Every request in arrival order (no GUID, password or cookie values). */
  log: CcLoggedRequest[];
  /** The exact bytes served for a recording. */
  contentOf(rec: CcRecording): Buffer;
  /** Signed in now (applies the silence rule first). */
  readonly signedIn: boolean;
  /** 3 busy, 4 idle, 5 wrap-up, 7 rest, 0 signed out. */
  readonly status: number;
  /** Successful sign-ins and forcelogins by clients. */
  readonly signIns: number;
  /** How each session ended, in order (`at`: epoch ms). */
  readonly signOuts: readonly { reason: SignOutReason; at: number }[];
  /** Every GUID value issued so far, for leak checks (the request log never holds one). */
  readonly guidsIssued: readonly string[];
  /** Changes a setting while running. */
  setOption<K extends keyof CcMutableOptions>(name: K, value: CcMutableOptions[K]): void;
  /** Changes GUID and silence timers while running (ms). */
  setTimers(t: Partial<{ guidIntervalMs: number; guidTimeoutMs: number; silenceMs: number }>): void;
  /** The gateway signs the agent out now (its GUIDs then get `100-006`). */
  forceSignOut(): void;
  /** Another session signs the agent in now (a client's next sign-in gets `100-002`). */
  signInElsewhere(): void;
  close(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1 (a free port). */
export async function startCcGatewaySandbox(
  options: CcGatewaySandboxOptions = {},
): Promise<CcGatewaySandbox> {
  const seed = options.seed ?? 1;
  const agentId = options.agentId ?? '20011';
  const opts: CcMutableOptions = {
    password: options.password ?? 'sandbox-agent-password',
    phoneNumber: options.phoneNumber ?? '70001',
    locked: options.locked ?? false,
    downloadEnabled: options.downloadEnabled ?? true,
    nodes: options.nodes ?? ['0', '1'],
    recordErrors: { ...options.recordErrors },
    pollHoldMs: options.pollHoldMs ?? 10_000,
    faults: options.faults ?? {},
    logoutDelayMs: options.logoutDelayMs ?? 0,
  };
  const agent = new AgentState({
    authMode: options.authMode ?? 'dynamic',
    guidIntervalMs: options.guidIntervalMs ?? 60_000,
    guidTimeoutMs: options.guidTimeoutMs ?? 120_000,
    silenceMs: options.silenceMs ?? 120_000,
  });
  if (options.signedInElsewhere) agent.signIn(true);
  const specs = options.recordings ?? 20;
  const catalogue =
    typeof specs === 'number'
      ? makeCatalogue(specs, {
          seed,
          agentId,
          rawRatio: options.rawRatio ?? 0,
          minBytes: options.minBytes ?? 4000,
          maxBytes: options.maxBytes ?? 16_000,
        })
      : specs.map((s) => recordingOf(s, seed));
  const faults = new FaultInjector(opts.faults);
  const ctx: CcContext = {
    agentId,
    seed,
    agent,
    opts,
    faults,
    byId: new Map(catalogue.map((r) => [r.recordId.replace(/\\/g, '/').toUpperCase(), r])),
    cookie: { name: 'HWWAFSESID', value: randomBytes(8).toString('hex') },
  };
  const log: CcLoggedRequest[] = [];
  const server = await startServer(
    'cc-gateway',
    (req, res, entry) => {
      const e = entry as CcLoggedRequest;
      Object.assign(e, { op: 'unknown', guid: 'absent', newestGen: agent.newestGen, cookie: false });
      return route(ctx, req, res, e);
    },
    log,
    { tls: options.tls ?? true, ...(options.port ? { port: options.port } : {}) },
  );
  return {
    url: server.url,
    agentId,
    password: opts.password,
    phoneNumber: opts.phoneNumber,
    catalogue,
    log,
    contentOf: (rec) => recordingBytes(rec, seed),
    get signedIn() {
      agent.tick();
      return agent.signedIn;
    },
    get status() {
      agent.tick();
      return agent.status;
    },
    get signIns() {
      return agent.signIns;
    },
    get signOuts() {
      agent.tick();
      return agent.signOuts;
    },
    get guidsIssued() {
      return agent.issued;
    },
    setOption(name, value) {
      opts[name] = value;
      if (name === 'faults') faults.plan = value as FaultPlan;
    },
    setTimers(t) {
      Object.assign(agent.timers, t);
    },
    forceSignOut: () => agent.signOut('forced'),
    signInElsewhere: () => {
      agent.signIn(true);
    },
    close: () => server.close(),
  };
}
