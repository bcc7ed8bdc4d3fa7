/**
 * Saved call-session notifications (CSN, "telephony sessions" events) → recordings ready to fetch.
 *
 * Facts (reference/ringcentral/csn-events-notes.md, extract-spec-csn-telephony-sessions-event.yml,
 * docs/docs_voice_telephony-session-notifications.md, seeds/ringcentral-recording-from-call-session-event.txt):
 * - an event is an envelope `{uuid, event, timestamp, subscriptionId, ownerId, body}`; `body` has `sequence`,
 *   `sessionId`, `telephonySessionId`, `eventTime` and `parties[]`, each with `id`, `accountId`, `extensionId`,
 *   `direction`, `from`, `to`, `status.code` and `recordings[]` (`{id, active}`);
 * - events may arrive out of order: `sequence` orders them;
 * - `parties[].recordings[].id` equals the call log's `recording.id`; a recording cannot be fetched while the
 *   call goes on, only shortly after it ended — here: once every party's latest status is Disconnected or Gone.
 */

/** A party of a session event (TelephonySessionsEventPartyInfo, the fields recpull reads). */
export interface CsnParty {
  id?: string;
  accountId?: string;
  extensionId?: string;
  direction?: string;
  from?: { phoneNumber?: string; name?: string; extensionId?: string };
  to?: { phoneNumber?: string; name?: string; extensionId?: string };
  recordings?: { id?: string; active?: boolean }[];
  status?: { code?: string };
}

/** The body of a session event (TelephonySessionsEventBody). */
export interface CsnBody {
  sequence?: number;
  sessionId?: string;
  telephonySessionId?: string;
  eventTime?: string;
  parties?: CsnParty[];
}

/** A recording whose call has ended. */
export interface ReadyRecording {
  recordingId: string;
  sessionId?: string;
  telephonySessionId?: string;
  accountId?: string;
  /** The party whose `recordings[]` listed it (latest event). */
  party: CsnParty;
  /** 1-based input line of the event that made it ready. */
  line: number;
}

/** A session with recordings that had not ended when the input did. */
export interface UnfinishedSession {
  session: string;
  line: number;
  /** The latest status code of each party, e.g. `Answered`. */
  statuses: string[];
  recordingIds: string[];
}

const ENDED = new Set(['Disconnected', 'Gone']);

interface Session {
  sessionId?: string;
  telephonySessionId?: string;
  accountId?: string;
  parties: Map<string, { sequence: number; status: string }>;
  recordings: Map<string, CsnParty>;
  emitted: Set<string>;
  line: number;
}

/**
 * The event body of an input row: an envelope's `body`, or the row itself when it is a bare body. Undefined
 * when the row is neither (no `telephonySessionId`/`sessionId`). `accountId` comes from the envelope's
 * `event` path (`/restapi/v1.0/account/<id>/...`) when the parties do not say.
 */
export function eventBody(row: Record<string, unknown>): { body: CsnBody; accountId?: string } | undefined {
  const inner = row.body;
  const body = (
    inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? inner : row
  ) as CsnBody;
  if (typeof body.telephonySessionId !== 'string' && typeof body.sessionId !== 'string') return undefined;
  const m = typeof row.event === 'string' ? /\/account\/([^/]+)/.exec(row.event) : null;
  return m?.[1] && m[1] !== '~' ? { body, accountId: m[1] } : { body };
}

/** Groups events by telephony session and says which recordings became ready with each one. */
export class CallSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly seen = new Set<string>();

  /** Feeds one event body (from input line `line`); returns the recordings it made ready, each once overall. */
  add(body: CsnBody, line: number, accountHint?: string): ReadyRecording[] {
    const id = body.telephonySessionId ?? body.sessionId;
    if (id === undefined) return [];
    let s = this.sessions.get(id);
    if (!s) {
      s = { parties: new Map(), recordings: new Map(), emitted: new Set(), line };
      this.sessions.set(id, s);
    }
    s.line = line;
    s.sessionId ??= body.sessionId;
    s.telephonySessionId ??= body.telephonySessionId;
    s.accountId ??= accountHint;
    // Without a sequence number, arrival order is all there is: such an event always updates.
    const numbered = typeof body.sequence === 'number';
    const sequence = numbered ? (body.sequence as number) : Number.NEGATIVE_INFINITY;
    (body.parties ?? []).forEach((party, i) => {
      s.accountId ??= party.accountId;
      const key = party.id ?? party.extensionId ?? `#${i}`;
      const known = s.parties.get(key);
      if (!known || !numbered || sequence >= known.sequence) {
        s.parties.set(key, { sequence, status: party.status?.code ?? 'unknown' });
      }
      for (const r of party.recordings ?? []) {
        if (r.id !== undefined && r.id !== '') s.recordings.set(String(r.id), party);
      }
    });
    if (!this.ended(s)) return [];
    const ready: ReadyRecording[] = [];
    for (const [recordingId, party] of s.recordings) {
      if (s.emitted.has(recordingId) || this.seen.has(recordingId)) continue;
      s.emitted.add(recordingId);
      this.seen.add(recordingId);
      ready.push({
        recordingId,
        party,
        line,
        ...(s.sessionId ? { sessionId: s.sessionId } : {}),
        ...(s.telephonySessionId ? { telephonySessionId: s.telephonySessionId } : {}),
        ...(s.accountId ? { accountId: s.accountId } : {}),
      });
    }
    return ready;
  }

  /** Sessions whose recordings were never made ready (the call had not ended when the input did). */
  unfinished(): UnfinishedSession[] {
    const out: UnfinishedSession[] = [];
    for (const [session, s] of this.sessions) {
      const pending = [...s.recordings.keys()].filter((r) => !s.emitted.has(r) && !this.seen.has(r));
      if (pending.length === 0) continue;
      out.push({
        session,
        line: s.line,
        statuses: [...s.parties.values()].map((p) => p.status),
        recordingIds: pending,
      });
    }
    return out;
  }

  private ended(s: Session): boolean {
    if (s.parties.size === 0) return false;
    for (const p of s.parties.values()) if (!ENDED.has(p.status)) return false;
    return true;
  }
}
