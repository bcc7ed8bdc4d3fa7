/** `recpull ringcentral`: RingCentral call recordings by date range, session, recording id or call-session events. */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  loadConfig,
  type ResolvedProfile,
  type RingcentralProfile,
  resolveProfile,
} from '../config/index.js';
import { isTimeZone, localZone, parseDateTime } from '../core/dates.js';
import { RecpullError } from '../core/errors.js';
import { HttpClient } from '../core/http.js';
import { openInput } from '../core/input.js';
import { ringcentralClient } from '../vendors/ringcentral/client.js';
import { cursorPath, readCursor, writeCursor } from '../vendors/ringcentral/cursor.js';
import { type RcSelection, RingCentralSource } from '../vendors/ringcentral/source.js';
import {
  addCommonOptions,
  type CliContext,
  type CommonFlags,
  httpOptions,
  intIn,
  runSource,
} from './common.js';

/** The flags of `recpull ringcentral` (durations already in ms). */
export interface RingcentralFlags extends CommonFlags {
  from?: string;
  to?: string;
  tz?: string;
  extension?: string;
  sinceLast?: boolean;
  /** `--overlap`, minutes. */
  overlap: number;
  sessionId?: string[];
  recordingId?: string[];
  events?: string;
  /** `--not-ready-wait`, ms. */
  notReadyWait: number;
  perPage: number;
}

const DAY_MS = 24 * 3600 * 1000;

/** `300`, `300s`, `5m`, `1h`, `1500ms` → ms (a bare number is seconds). */
export function parseDuration(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError('expected a duration such as 300, 90s, 5m or 1h');
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(Number(m[1]) * factor);
}

function minutes(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of minutes (>= 0)');
  return n;
}

export function ringcentralCommand(ctx: CliContext): Command {
  const cmd = new Command('ringcentral')
    .description('download RingCentral call recordings, as fast as the Heavy rate limit allows')
    .option('--from <date>', 'calls that started at or after this date or date-time (default: 24 h ago)')
    .option('--to <date>', 'calls that started at or before this date or date-time (default: now)')
    .option(
      '--tz <zone>',
      "time zone of --from/--to and of the template's dates (default: profile tz, else local)",
    )
    .option(
      '--extension <id>',
      "read this extension's call log (\"~\": the JWT's own) instead of the account's",
    )
    .option('--since-last', 'from where the last successful run of this profile and --out ended (for cron)')
    .option(
      '--overlap <minutes>',
      'with --since-last: start this much earlier, for calls logged late',
      minutes,
      15,
    )
    .option('--session-id <id...>', 'the recordings of these calls (call-log sessionId)')
    .option('--recording-id <id...>', 'these recordings (content URL built on the media server)')
    .option(
      '--events <file>',
      'recordings of ended calls in saved call-session notifications (NDJSON; "-": stdin)',
    )
    .addOption(
      new Option(
        '--not-ready-wait <duration>',
        'keep retrying recordings that are not ready yet for this long (e.g. 90s, 5m)',
      )
        .argParser(parseDuration)
        .default(300_000, '5m'),
    )
    .option('--per-page <n>', 'call-log records per page', intIn(1, 1000), 1000);
  addCommonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Dates: 2024-06-01 (midnight in --tz), 2024-06-01T08:30 (wall time in --tz), 2024-06-01T08:30Z (UTC).
With --input, a list with a recordingId column (CSV/TSV/NDJSON); other columns become template fields.
Default file names: ringcentral/<year>/<month>/<day>/<date>_<time>_<direction>_<from>_<to>_<recordingId>.<ext>
(by --recording-id or --input: ringcentral/recordings/<recordingId>.<ext>). Template fields: {accountId}
{recordingId} {callLogId} {sessionId} {telephonySessionId} {startTime} {date} {time} {year} {month} {day}
{direction} {from} {to} {fromName} {toName} {extensionId} {duration} {recordingType}.

Examples:
  recpull ringcentral --from 2024-06-01 --to 2024-06-02 -o /srv/recordings
  recpull ringcentral --since-last -o /srv/recordings --quiet          # nightly cron
  recpull ringcentral --extension ~ --from 2024-06-01T08:00 --tz Europe/Paris
  recpull ringcentral --session-id 425008160016 425008161016
  recpull ringcentral --recording-id 1662272004 --metadata
  recpull ringcentral --events sessions.ndjson --not-ready-wait 10m`,
  );
  cmd.action(async (flags: RingcentralFlags) => {
    const loaded = await loadConfig(flags.config ? { configPath: flags.config } : {});
    const resolved = await resolveProfile(loaded, 'ringcentral', flags.profile);
    ctx.exitCode = await runRingcentral(flags, resolved);
  });
  return cmd;
}

/** Builds the selection, client and source from flags and profile, runs them, returns the exit code. */
export async function runRingcentral(
  flags: RingcentralFlags,
  resolved: ResolvedProfile<'ringcentral'>,
): Promise<number> {
  const settings = resolved.settings as RingcentralProfile;
  const tz = flags.tz ?? settings.tz ?? localZone();
  if (!isTimeZone(tz))
    throw new RecpullError('E_USAGE', `--tz: unknown time zone "${tz}" (e.g. Europe/Paris)`);
  const extension = flags.extension ?? settings.extension;
  const out = resolve(flags.out ?? settings.out ?? './recordings');
  const { selection, onSuccess } = await select(flags, tz, out, extension);

  const http = new HttpClient(httpOptions(flags, settings));
  const retryBase = process.env.RECPULL_RETRY_BASE_MS;
  const heavy = settings.rateLimit?.heavy;
  const client = ringcentralClient(http, {
    server: settings.server,
    mediaServer: settings.mediaServer,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    jwt: settings.jwt,
    profile: resolved.profile,
    configFile: resolved.filepath,
    retries: flags.retries ?? settings.retries ?? 5,
    ...(retryBase ? { retryBaseMs: Number(retryBase) } : {}),
    ...(heavy ? { heavyCap: { limit: heavy.limit, windowMs: heavy.windowSeconds * 1000 } } : {}),
  });
  const source = new RingCentralSource({
    api: client.api,
    auth: client.auth,
    limiters: [client.heavy, client.authLimiter],
    server: settings.server,
    mediaServer: settings.mediaServer,
    ...(extension !== undefined ? { extension } : {}),
    tz,
    selection,
    ...(onSuccess && !flags.dryRun ? { onSuccess } : {}),
  });
  return runSource(source, {
    flags,
    profile: settings,
    profileName: resolved.profile,
    warnings: resolved.warnings,
    extra: { notReadyWaitMs: flags.notReadyWait },
    cleanup: () => http.close(),
  });
}

/** The one way of choosing recordings the flags name (none: the last 24 hours). Throws `E_USAGE`. */
async function select(
  flags: RingcentralFlags,
  tz: string,
  out: string,
  extension: string | undefined,
): Promise<{ selection: RcSelection; onSuccess?: () => Promise<void> }> {
  const given = Object.entries({
    '--from/--to': flags.from !== undefined || flags.to !== undefined,
    '--since-last': flags.sinceLast === true,
    '--session-id': flags.sessionId !== undefined,
    '--recording-id': flags.recordingId !== undefined,
    '--events': flags.events !== undefined,
    '--input': flags.input !== undefined,
  }).filter(([, v]) => v);
  if (given.length > 1) {
    throw new RecpullError('E_USAGE', `choose one of ${given.map(([k]) => k).join(' and ')}`);
  }
  if (flags.sessionId) return { selection: { kind: 'sessions', ids: flags.sessionId } };
  if (flags.recordingId) return { selection: { kind: 'recordings', ids: flags.recordingId } };
  if (flags.events !== undefined)
    return { selection: { kind: 'events', input: await openInput(flags.events) } };
  if (flags.input !== undefined)
    return { selection: { kind: 'recording-list', input: await openInput(flags.input) } };
  const to = flags.to !== undefined ? parseDateTime(flags.to, tz, '--to') : new Date();
  let from =
    flags.from !== undefined ? parseDateTime(flags.from, tz, '--from') : new Date(to.getTime() - DAY_MS);
  let onSuccess: (() => Promise<void>) | undefined;
  if (flags.sinceLast) {
    const path = cursorPath(out, flags.profile, extension);
    const last = await readCursor(path);
    if (last) from = new Date(last.getTime() - flags.overlap * 60_000);
    onSuccess = () => writeCursor(path, to);
  }
  if (from.getTime() > to.getTime()) {
    throw new RecpullError('E_USAGE', `--from (${from.toISOString()}) is after --to (${to.toISOString()})`);
  }
  return {
    selection: { kind: 'range', from, to, perPage: flags.perPage },
    ...(onSuccess ? { onSuccess } : {}),
  };
}
