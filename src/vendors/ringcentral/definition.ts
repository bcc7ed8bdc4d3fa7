/**
 * `recpull ringcentral`: the registry's definition of RingCentral (reference/ringcentral, seeds/ringcentral-
 * recording-from-call-session-event.txt): profile keys, flags, help, and how they become a run (date range,
 * sessions, recording ids, input list, call-session events, `--since-last` cursors).
 */
import { Option } from 'commander';
import { httpUrl, nonEmpty, profileSchema, rateCap, timeZone } from '../../config/schema.js';
import { isTimeZone, localZone, parseDateTime } from '../../core/dates.js';
import { RecpullError } from '../../core/errors.js';
import { openInput } from '../../core/input.js';
import { ringcentralCursorPath as cursorPath, readCursor, writeCursor } from '../cursor.js';
import type { CommonProfile, VendorDefinition } from '../definition.js';
import { intIn, minutes, parseDuration } from '../flags.js';
import { ringcentralClient } from './client.js';
import { CALL_LOG_TEMPLATE, RINGCENTRAL_FIELDS } from './meta.js';
import { type RcSelection, RingCentralSource } from './source.js';
import { z } from 'zod';

/** A resolved `ringcentral.<profile>` section. */
export interface RingcentralProfile extends CommonProfile {
  /** Platform API base URL. Default `https://platform.ringcentral.com`. */
  server: string;
  /** Media (recording content) base URL. Default `https://media.ringcentral.com`. */
  mediaServer: string;
  clientId: string;
  /** From `clientSecret` or `clientSecretFile`. */
  clientSecret: string;
  /** JWT credential, from `jwt` or `jwtFile`. */
  jwt: string;
  /** Extension id to read (default: the whole account). */
  extension?: string;
  /** IANA time zone for date ranges and templates (e.g. `Europe/Paris`). */
  tz?: string;
  /** The `Heavy` API group: at most `limit` requests per `windowSeconds` seconds. */
  rateLimit?: { heavy?: { limit: number; windowSeconds: number } };
}

/** The flags of `recpull ringcentral` besides the shared ones (durations already in ms). */
export interface RingcentralFlags {
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

const definition: VendorDefinition<RingcentralProfile, RingcentralFlags> = {
  name: 'ringcentral',
  profileSchema: profileSchema(
    {
      server: httpUrl.default('https://platform.ringcentral.com'),
      mediaServer: httpUrl.default('https://media.ringcentral.com'),
      clientId: nonEmpty,
      extension: z.union([nonEmpty, z.int().nonnegative().transform(String)]).optional(),
      tz: timeZone.optional(),
      rateLimit: z.strictObject({ heavy: rateCap.optional() }).optional(),
    },
    ['clientSecret', 'jwt'],
  ),
  secretKeys: ['clientSecret', 'jwt'],
  fields: RINGCENTRAL_FIELDS,
  defaultTemplate: CALL_LOG_TEMPLATE,
  options(cmd) {
    cmd
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
  },
  help: `Dates: 2024-06-01 (midnight in --tz), 2024-06-01T08:30 (wall time in --tz), 2024-06-01T08:30Z (UTC).
With --input, a list with a recordingId column (CSV/TSV/NDJSON); other columns become template fields.
Default file names: ringcentral/<year>/<month>/<day>/<date>_<time>_<direction>_<from>_<to>_<recordingId>.<ext>
(by --recording-id or --input: ringcentral/recordings/<recordingId>.<ext>).`,
  examples: [
    'ringcentral --from 2024-06-01 --to 2024-06-02 -o /srv/recordings',
    'ringcentral --since-last -o /srv/recordings --quiet          # nightly cron',
    'ringcentral --extension ~ --from 2024-06-01T08:00 --tz Europe/Paris',
    'ringcentral --session-id 425008160016 425008161016',
    'ringcentral --recording-id 1662272004 --metadata',
    'ringcentral --events sessions.ndjson --not-ready-wait 10m',
  ],
  async build({ flags, settings, profile, configFile, http, out, retries, retryBaseMs }) {
    const tz = flags.tz ?? settings.tz ?? localZone();
    if (!isTimeZone(tz))
      throw new RecpullError('E_USAGE', `--tz: unknown time zone "${tz}" (e.g. Europe/Paris)`);
    const extension = flags.extension ?? settings.extension;
    const { selection, onSuccess } = await select(flags, tz, out, extension, profile);
    const heavy = settings.rateLimit?.heavy;
    const client = ringcentralClient(http, {
      server: settings.server,
      mediaServer: settings.mediaServer,
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      jwt: settings.jwt,
      profile,
      configFile,
      retries,
      retryBaseMs,
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
    return { source, notReadyWaitMs: flags.notReadyWait };
  },
  async startEmulator(opts) {
    return (await import('./emulator.js')).startRingCentralEmulator(opts);
  },
};

export default definition;

/** The one way of choosing recordings the flags name (none: the last 24 hours). Throws `E_USAGE`. */
async function select(
  flags: RingcentralFlags & { input?: string },
  tz: string,
  out: string,
  extension: string | undefined,
  profile: string,
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
    const path = cursorPath(out, profile, extension);
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
