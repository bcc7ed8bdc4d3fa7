/**
 * `recpull noojee`: the registry's definition of the Noojee Recorder (seeds/noojee-recording-api-2.7.14.txt,
 * noojee/noojee-notes.md, noojee/axis-soap-over-get.md): profile keys, flags, help, how they become a run
 * (tags, uniqueids, an input list, a time range through the hour listing, `--since-last`), and the
 * `recpull noojee start|stop` subcommands.
 */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { httpUrl, nonEmpty, profileSchema, rateCap, timeZone } from '../../config/schema.js';
import { isTimeZone, localZone, parseDateTime } from '../../core/dates.js';
import { RecpullError } from '../../core/errors.js';
import type { HttpClient } from '../../core/http.js';
import { openInput } from '../../core/input.js';
import { redact } from '../../core/redact.js';
import { cursorPath, readCursor, writeCursor } from '../cursor.js';
import type { CommonProfile, VendorCommandHelpers, VendorDefinition } from '../definition.js';
import { minutes, parseDuration, requireOneSelection } from '../flags.js';
import { NoojeeClient, type NoojeeControlResult } from './client.js';
import { NOOJEE_FIELDS, NOOJEE_ID_TEMPLATE, type NoojeeSelection, NoojeeSource } from './source.js';

/** A resolved `noojee.<profile>` section. */
export interface NoojeeProfile extends CommonProfile {
  /** The PBX's base URL, http(s) (e.g. `https://pbx.example.com`); the API paths are appended. */
  url: string;
  /** The Noojee user that owns the recordings (`username=` of retrieve). */
  username: string;
  /** HTTP Basic user in front of the Axis service (optional). */
  httpUser?: string;
  /** From `httpPassword` or `httpPasswordFile` (optional; needs `httpUser`). */
  httpPassword?: string;
  /** The REST apiKey, from `apiKey` or `apiKeyFile`: needed only to list by time (`--from/--to`, `--since-last`). */
  apiKey?: string;
  /** The PBX's IANA time zone: listing hours and the template's dates (default: the local zone). */
  tz?: string;
  /** The hour listing's limit: at most `limit` requests per `windowSeconds` (default 1 per 60 s). */
  rateLimit?: { listing?: { limit: number; windowSeconds: number } };
}

/** The flags of `recpull noojee` besides the shared ones (durations already in ms). */
export interface NoojeeFlags {
  tag?: string[];
  uniqueId?: string[];
  from?: string;
  to?: string;
  tz?: string;
  sinceLast?: boolean;
  /** `--overlap`, minutes. */
  overlap: number;
  /** `--not-ready-wait`, ms. */
  notReadyWait: number;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * The client of a resolved profile.
 * @throws RecpullError `E_CONFIG` when `httpPassword` is set without `httpUser`.
 */
export function clientFor(
  http: HttpClient,
  settings: NoojeeProfile,
  profile: string,
  configFile: string,
  extra: { retries?: number; retryBaseMs?: number } = {},
): NoojeeClient {
  if (settings.httpPassword !== undefined && settings.httpUser === undefined) {
    throw new RecpullError(
      'E_CONFIG',
      `noojee.${profile}: httpPassword is set but httpUser is not (HTTP Basic needs both) in ${configFile}`,
    );
  }
  const listing = settings.rateLimit?.listing;
  return new NoojeeClient(http, {
    url: settings.url,
    username: settings.username,
    ...(settings.httpUser !== undefined ? { httpUser: settings.httpUser } : {}),
    ...(settings.httpPassword !== undefined ? { httpPassword: settings.httpPassword } : {}),
    ...(settings.apiKey !== undefined ? { apiKey: settings.apiKey } : {}),
    profile,
    configFile,
    ...(listing ? { listingLimit: { limit: listing.limit, windowMs: listing.windowSeconds * 1000 } } : {}),
    ...(extra.retries !== undefined ? { listingRetries: extra.retries } : {}),
    ...(extra.retryBaseMs !== undefined ? { retryBaseMs: extra.retryBaseMs } : {}),
  });
}

const definition: VendorDefinition<NoojeeProfile, NoojeeFlags> = {
  name: 'noojee',
  profileSchema: profileSchema(
    {
      url: httpUrl,
      username: nonEmpty,
      httpUser: nonEmpty.optional(),
      tz: timeZone.optional(),
      rateLimit: z.strictObject({ listing: rateCap.optional() }).optional(),
    },
    [],
    ['httpPassword', 'apiKey'],
  ),
  secretKeys: [],
  optionalSecretKeys: ['httpPassword', 'apiKey'],
  fields: NOOJEE_FIELDS,
  defaultTemplate: NOOJEE_ID_TEMPLATE,
  options(cmd) {
    // `noojee start --tag T` must reach `start`, not this command's own --tag: options of `noojee` are
    // read only before a subcommand's name.
    cmd.enablePositionalOptions();
    cmd
      .option('--tag <tag...>', 'recordings by the tag given when recording started (repeatable)')
      .option('--unique-id <id...>', 'recordings by Asterisk uniqueid, e.g. 1392271611.238 (repeatable)')
      .option('--from <date>', 'calls that ended at or after this date or date-time (listing by hour)')
      .option('--to <date>', 'calls that ended before this date or date-time (default: now)')
      .option(
        '--tz <zone>',
        "the PBX's time zone: listing hours, --from/--to and the template's dates (default: profile tz, else local)",
      )
      .option('--since-last', 'from where the last successful run of this profile and --out ended (for cron)')
      .option(
        '--overlap <minutes>',
        'with --since-last: start this much earlier, for calls listed late',
        minutes,
        15,
      )
      .addOption(
        new Option(
          '--not-ready-wait <duration>',
          'keep retrying recordings that are still being recorded for this long (e.g. 90s, 5m)',
        )
          .argParser(parseDuration)
          .default(300_000, '5m'),
      );
  },
  help: `Choose one of: --tag/--unique-id, --input, --from/--to, --since-last.
With --input, a list with a tag or uniqueId column (CSV/TSV/NDJSON) and an optional username column (the
recording's owner; default the profile's username); other columns become template fields.
--from/--to and --since-last read the hour listing (needs the profile's apiKey), one request per PBX hour,
at most one a minute (rateLimit.listing), and only hours that ended 5 minutes ago or more.
Dates: 2024-06-01 (midnight in --tz), 2024-06-01T08:30 (wall time in --tz), 2024-06-01T08:30Z (UTC).
Default file names: noojee/<username>/tag/<tag>.<ext>, noojee/<username>/uid/<uniqueId>.<ext>;
listed: noojee/<year>/<month>/<day>/<date>_<time>_<direction>_<source>_<destination>_<uniqueId>.<ext>.
Start and stop recording: recpull noojee start --help, recpull noojee stop --help.`,
  examples: [
    "noojee --tag ORD-1001 'A&B 2' --unique-id 1392271611.238 -o /srv/recordings",
    'noojee -i recordings.csv --metadata',
    'noojee --from 2024-06-01T08:00 --to 2024-06-01T12:00 --tz Australia/Sydney',
    'noojee --since-last -o /srv/recordings --quiet          # nightly cron',
    "noojee start --exten 410 --tag 'ORD-1001'",
    'noojee stop --exten 410 --json',
  ],
  async build({ flags, settings, profile, configFile, http, out, retries, retryBaseMs }) {
    const tz = flags.tz ?? settings.tz ?? localZone();
    if (!isTimeZone(tz))
      throw new RecpullError('E_USAGE', `--tz: unknown time zone "${tz}" (e.g. Australia/Sydney)`);
    requireOneSelection({
      '--tag/--unique-id': flags.tag !== undefined || flags.uniqueId !== undefined,
      '--input': flags.input !== undefined,
      '--from/--to': flags.from !== undefined || flags.to !== undefined,
      '--since-last': flags.sinceLast === true,
    });
    const client = clientFor(http, settings, profile, configFile, { retries, retryBaseMs });
    let selection: NoojeeSelection;
    let onSuccess: ((coveredUntil: Date) => Promise<void>) | undefined;
    if (flags.input !== undefined) {
      selection = { input: await openInput(flags.input) };
    } else if (flags.tag !== undefined || flags.uniqueId !== undefined) {
      selection = { tags: flags.tag ?? [], uniqueIds: flags.uniqueId ?? [] };
    } else {
      const to = flags.to !== undefined ? parseDateTime(flags.to, tz, '--to') : new Date();
      let from =
        flags.from !== undefined ? parseDateTime(flags.from, tz, '--from') : new Date(to.getTime() - DAY_MS);
      if (flags.sinceLast) {
        const path = cursorPath(out, 'noojee', profile);
        const last = await readCursor(path);
        if (last) from = new Date(last.getTime() - flags.overlap * 60_000);
        // The cursor moves to what the listing covered (hours too recent to list are left for next time).
        if (!flags.dryRun) onSuccess = (coveredUntil) => writeCursor(path, coveredUntil);
      }
      if (from.getTime() > to.getTime()) {
        throw new RecpullError(
          'E_USAGE',
          `--from (${from.toISOString()}) is after --to (${to.toISOString()})`,
        );
      }
      selection = { from, to };
    }
    const source = new NoojeeSource({ client, selection, tz, ...(onSuccess ? { onSuccess } : {}) });
    return {
      source,
      notReadyWaitMs: flags.notReadyWait,
      ...('input' in selection ? { allowExtraFields: true } : {}),
    };
  },
  subcommands(helpers) {
    return [controlCommand('start', helpers), controlCommand('stop', helpers)];
  },
  async startEmulator(opts) {
    return (await import('./emulator.js')).startNoojeeEmulator(opts);
  },
};

export default definition;

/** The flags of `recpull noojee start|stop`. */
interface ControlFlags {
  config?: string;
  profile: string;
  exten?: string;
  uniqueId?: string;
  tag?: string;
  json?: boolean;
}

/**
 * `recpull noojee start|stop`: one request, no manifest, no lock. Exit 0 when the server answered HTTP 200;
 * otherwise its message on stderr and exit 1; a refused HTTP Basic login (401) is `E_AUTH`, exit 3. `--json`
 * prints one result object `{op, target, tag?, ok, status, message[, code]}` on stdout.
 */
function controlCommand(op: 'start' | 'stop', helpers: VendorCommandHelpers): Command {
  const cmd = new Command(op)
    .description(
      op === 'start'
        ? 'start recording an extension or a call (by uniqueid) under a tag'
        : 'stop recording an extension or a call (by uniqueid)',
    )
    .option('--exten <exten>', 'the extension (a channel name such as SIP/410-12FA7B is sent as 410)')
    .option('--unique-id <id>', "the call's Asterisk uniqueid");
  if (op === 'start') cmd.option('--tag <tag>', 'the tag to retrieve the recording by (required)');
  cmd.option('--json', 'print the result as one JSON object on stdout');
  helpers.addProfileOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Exit codes: 0 the server answered HTTP 200; 1 it refused (its message on stderr); 3 HTTP Basic refused.

Examples:
  recpull noojee ${op} --exten 410${op === 'start' ? " --tag 'ORD-1001'" : ''}
  recpull noojee ${op} --unique-id 1392271611.238${op === 'start' ? ' --tag call-238' : ''} --json`,
  );
  cmd.exitOverride();
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = controlFlags(self, op);
    requireOneSelection({
      '--exten': flags.exten !== undefined,
      '--unique-id': flags.uniqueId !== undefined,
    });
    if (op === 'start' && flags.tag === undefined)
      throw new RecpullError('E_USAGE', 'noojee start needs --tag (the tag to retrieve the recording by)');
    const target = (flags.exten ?? flags.uniqueId) as string;
    const { settings, profile, configFile, warnings } = await helpers.loadProfile<NoojeeProfile>(flags);
    for (const w of warnings) process.stderr.write(`recpull: warning: ${w}\n`);
    const http = helpers.http(settings);
    const base = { op, target, ...(op === 'start' ? { tag: flags.tag as string } : {}) };
    let result: NoojeeControlResult;
    try {
      const client = clientFor(http, settings, profile, configFile);
      const signal = new AbortController().signal;
      result =
        op === 'start'
          ? await client.start(target, flags.tag as string, signal)
          : await client.stop(target, signal);
    } catch (err) {
      if (flags.json && err instanceof RecpullError) {
        process.stdout.write(
          `${JSON.stringify({ ...base, ok: false, status: err.status ?? null, code: err.code, message: redact(err.message) })}\n`,
        );
      }
      throw err;
    } finally {
      await http.close();
    }
    if (flags.json) process.stdout.write(`${JSON.stringify({ ...base, ...result })}\n`);
    if (result.ok) {
      if (!flags.json) process.stdout.write(`noojee ${op} ${target}: ${result.message}\n`);
    } else {
      process.stderr.write(`recpull: noojee ${op} ${target}: ${result.message} (HTTP ${result.status})\n`);
      helpers.setExitCode(1);
    }
  });
  return cmd;
}

/**
 * The flags of `start`/`stop`: its own, plus those that `noojee` took before dispatching. Unless the program
 * reads options positionally, commander gives an option written after `start` to the first command that
 * knows it, and `noojee` knows `-c`, `-p`, `--json`, `--tag` and `--unique-id` (variadic there: one value
 * here). Anything else `noojee` took (`-o`, `--from`) is an `E_USAGE` error, not silently ignored.
 */
function controlFlags(cmd: Command, op: 'start' | 'stop'): ControlFlags {
  const flags: Record<string, unknown> = { ...cmd.opts<Record<string, unknown>>() };
  const parent = cmd.parent;
  const known = ['config', 'profile', 'json', 'uniqueId', ...(op === 'start' ? ['tag'] : [])];
  for (const [key, value] of Object.entries(parent?.opts() ?? {})) {
    if (parent?.getOptionValueSource(key) !== 'cli') continue;
    if (!known.includes(key)) {
      const flag = parent.options.find((o) => o.attributeName() === key)?.long ?? key;
      throw new RecpullError('E_USAGE', `noojee ${op} takes no ${flag}`);
    }
    if (cmd.getOptionValueSource(key) !== 'cli') flags[key] = value;
  }
  for (const key of ['tag', 'uniqueId']) {
    const v = flags[key];
    if (!Array.isArray(v)) continue;
    if (v.length !== 1)
      throw new RecpullError('E_USAGE', `noojee ${op}: give one ${key === 'tag' ? '--tag' : '--unique-id'}`);
    flags[key] = v[0];
  }
  return flags as unknown as ControlFlags;
}
