/**
 * The state of the one agent the CC-Gateway emulator serves: signed in or not, its status, and the GUIDs
 * of its session (static or dynamic AUTHMODE), plus the "signed out after silence without polls" rule.
 *
 * Protocol facts (reference/huawei/agentgateway-notes.md): the GUID comes back in `Set-GUID:
 * JSESSIONID=<uuid>.AgentGateway0` and is sent as request header `Guid`; AUTHMODE 1 (static) keeps the
 * sign-in GUID for the whole session; AUTHMODE 2 (dynamic, the default) rotates it every GUIDINTERVAL
 * (60 000 ms) on the event-poll response, and a GUID expires GUIDTIMEOUT (120 000 ms) after it was issued;
 * a wrong GUID is `000-003`, an expired one `100-006`; an agent that has not polled for 2 minutes is
 * signed out (doc cec_07_1202). Everything time-based is evaluated lazily against `now()`.
 */
import { randomUUID } from 'node:crypto';

/** Times in ms. */
export interface AgentTimers {
  authMode: 'static' | 'dynamic';
  /** Dynamic mode: a new GUID is handed out on the first poll answered this long after the current one. */
  guidIntervalMs: number;
  /** Dynamic mode: a GUID is refused (`100-006`) this long after it was issued. */
  guidTimeoutMs: number;
  /** The agent is signed out when no poll was in progress for this long. */
  silenceMs: number;
}

/** Why the agent's session ended. */
export type SignOutReason = 'logout' | 'silence' | 'forced' | 'forcelogin';

/** One GUID as issued. `gen` numbers every GUID of the emulator's life, 1 first. */
interface IssuedGuid {
  value: string;
  gen: number;
  issuedAt: number;
  session: number;
}

/** What a `Guid` header turned out to be. `newest`: the newest GUID issued; `older`: an earlier, still valid one. */
export type GuidVerdict = 'absent' | 'newest' | 'older' | 'expired' | 'stale-session' | 'wrong';

/** The result of checking a request's GUID: the retcode to refuse with (if any) and what the GUID was. */
export interface GuidCheck {
  verdict: GuidVerdict;
  /** Generation of the GUID sent, when it is one the emulator issued. */
  gen?: number;
  /** `100-006` (not signed in, expired, or a GUID of an ended session) or `000-003` (absent or wrong). */
  refuse?: '100-006' | '000-003';
}

/** The emulated agent. */
export class AgentState {
  signedIn = false;
  /** 4 idle, 5 wrap-up (after sign-in), 3 busy (after saybusy), 7 rest. */
  status = 0;
  /** Sign-ins (including forcelogin) since the start. */
  signIns = 0;
  readonly signOuts: { reason: SignOutReason; at: number }[] = [];
  /** True while the session was started by "someone else" (option `signedInElsewhere`). */
  heldElsewhere = false;
  private session = 0;
  private guids: IssuedGuid[] = [];
  private gens = 0;
  private pollsInFlight = 0;
  private lastPollAt = 0;
  private readonly wakers = new Set<() => void>();

  constructor(
    public timers: AgentTimers,
    private readonly now: () => number = Date.now,
  ) {}

  /** Applies the silence rule as of now: signs the agent out if no poll was in progress for `silenceMs`. */
  tick(): void {
    if (!this.signedIn || this.pollsInFlight > 0) return;
    const deadline = this.lastPollAt + this.timers.silenceMs;
    if (this.now() > deadline) this.signOut('silence', deadline);
  }

  /** Starts a session and issues its first GUID (the caller sends it as `Set-GUID`). */
  signIn(elsewhere = false): string {
    if (this.signedIn) this.signOut('forcelogin');
    this.signedIn = true;
    this.heldElsewhere = elsewhere;
    this.status = 5;
    this.signIns += elsewhere ? 0 : 1;
    this.session++;
    this.lastPollAt = this.now();
    this.retire();
    return this.issue().value;
  }

  /** Ends the session; its GUIDs stop working and held polls are answered. */
  signOut(reason: SignOutReason, at = this.now()): void {
    if (!this.signedIn) return;
    this.signedIn = false;
    this.heldElsewhere = false;
    this.status = 0;
    this.signOuts.push({ reason, at });
    for (const wake of this.wakers) wake();
  }

  /** Checks a request's `Guid` header value (with or without a `JSESSIONID=` prefix). */
  check(header: string | undefined): GuidCheck {
    this.tick();
    const value = header?.trim().replace(/^JSESSIONID=/i, '');
    const known = value ? this.find(value) : undefined;
    const newest = this.guids[this.guids.length - 1];
    if (!this.signedIn)
      return { verdict: known ? 'stale-session' : 'absent', ...gen(known), refuse: '100-006' };
    if (!value) return { verdict: 'absent', refuse: '000-003' };
    if (!known) return { verdict: 'wrong', refuse: '000-003' };
    if (known.session !== this.session)
      return { verdict: 'stale-session', gen: known.gen, refuse: '100-006' };
    if (this.timers.authMode === 'dynamic' && this.now() - known.issuedAt > this.timers.guidTimeoutMs) {
      return { verdict: 'expired', gen: known.gen, refuse: '100-006' };
    }
    return { verdict: known === newest ? 'newest' : 'older', gen: known.gen };
  }

  /** The generation of the newest GUID issued (0 before the first sign-in). */
  get newestGen(): number {
    return this.gens;
  }

  /** Dynamic mode: a new GUID when the current one is `guidIntervalMs` old (the poll answer carries it). */
  rotateIfDue(): string | undefined {
    if (this.timers.authMode !== 'dynamic' || !this.signedIn) return undefined;
    const current = this.guids[this.guids.length - 1];
    if (current && this.now() - current.issuedAt < this.timers.guidIntervalMs) return undefined;
    return this.issue().value;
  }

  /** Ms until the current GUID is due for rotation (Infinity in static mode). */
  msUntilRotation(): number {
    const current = this.guids[this.guids.length - 1];
    if (this.timers.authMode !== 'dynamic' || !current) return Number.POSITIVE_INFINITY;
    return Math.max(0, current.issuedAt + this.timers.guidIntervalMs - this.now());
  }

  /** Marks a poll as held from now; the returned function ends it (counts as the last poll activity). */
  pollStarted(): () => void {
    this.pollsInFlight++;
    this.lastPollAt = this.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.pollsInFlight--;
      this.lastPollAt = this.now();
    };
  }

  /** Resolves after `ms`, or earlier when the agent is signed out. */
  hold(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  /** Every GUID value issued, oldest first (for tests that check no GUID leaks; never logged). */
  readonly issued: string[] = [];

  private issue(): IssuedGuid {
    const g = {
      value: `${randomUUID()}.AgentGateway0`,
      gen: ++this.gens,
      issuedAt: this.now(),
      session: this.session,
    };
    this.guids.push(g);
    this.issued.push(g.value);
    if (this.guids.length > 64) this.guids.shift();
    return g;
  }

  private find(value: string): IssuedGuid | undefined {
    for (let i = this.guids.length - 1; i >= 0; i--) if (this.guids[i]?.value === value) return this.guids[i];
    return this.retired.get(value);
  }

  /** GUIDs of ended sessions (bounded), so a request with one is told `100-006`, not `000-003`. */
  private readonly retired = new Map<string, IssuedGuid>();

  /** Moves the ended session's GUIDs to `retired` (called when a new session starts). */
  private retire(): void {
    for (const g of this.guids) this.retired.set(g.value, g);
    this.guids = [];
    while (this.retired.size > 256) this.retired.delete(this.retired.keys().next().value as string);
  }
}

function gen(g: IssuedGuid | undefined): { gen?: number } {
  return g ? { gen: g.gen } : {};
}
