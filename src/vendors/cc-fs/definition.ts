/**
 * `recpull cc-fs`: the registry's definition of Huawei CC-FS (reference: huawei/ccfs-interface-reference-
 * extract.txt 4.1.2, 4.1.3, 4.1.5, 4.2.1, 5.1, 5.2; huawei/ccfs-auth-v2-notes.md): profile keys, flags, help,
 * and how they become a run; and `recpull cc-fs bills`, which lists a time range through queryBillData and its
 * callback, then downloads like the main command.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { httpUrl, nonEmpty, profileSchema, timeZone } from '../../config/schema.js';
import { isTimeZone, localZone, parseDateTime } from '../../core/dates.js';
import { RecpullError } from '../../core/errors.js';
import { openInput, trimAscii } from '../../core/input.js';
import { RateLimiter } from '../../core/rate-limit.js';
import { registerSecret } from '../../core/redact.js';
import type { CommonFlags, CommonProfile, VendorCommandHelpers, VendorDefinition } from '../definition.js';
import { parseDuration, requireOneSelection } from '../flags.js';
import { CcFsClient } from './client.js';
import { type CcFsTarget, checkBillFileName, checkCallId, checkCcId, normalizeFileName } from './protocol.js';
import { CCFS_DEFAULT_TEMPLATE, CCFS_FIELDS } from './refs.js';
import { type CcFsSelection, CcFsSource } from './source.js';

/** A resolved `cc-fs.<profile>` section. */
export interface CcFsProfile extends CommonProfile {
  /** Scheme, host and port of CC-FS or the NSLB in front of it (`https://ccfs.example.com:28443`). */
  url: string;
  /** The developer's access key (AK): an identifier, but kept out of every output like a secret. */
  ak: string;
  /** The secret key (SK), from `sk` (after `${ENV}` interpolation) or read from `skFile`. */
  sk: string;
  /** Call center id sent with downloadRecord (default `1`). */
  ccId: string;
  /** The Host value sent and signed, when CC-FS or its NSLB expects another form than the URL's. */
  hostHeader?: string;
  /** The tenant space's IANA time zone (queryBillData windows, dates of names). Default: local. */
  tz?: string;
  /** How long every worker pauses after flow control (0300008/0300009), seconds. Default 5. */
  flowControlPause?: number;
  /** Limits of a call's zip and of a bill file zip (src/formats/zip.ts). */
  zip?: { maxEntries?: number; maxTotalBytes?: number; maxRatio?: number };
}

/** The flags of `recpull cc-fs` besides the shared ones (hidden `bills*` ones are set by `cc-fs bills`). */
export interface CcFsFlags {
  fileName?: string[];
  callId?: string[];
  index?: string;
  billFile?: string[];
  tz?: string;
  billsFrom?: string;
  billsTo?: string;
  callbackListen?: string;
  callbackUrl?: string;
  /** ms */
  callbackTimeout?: number;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `HOST:PORT` (`[::]:8080` for IPv6) → its parts. Throws InvalidArgumentError. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(trimAscii(value));
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 0.0.0.0:8080');
  return { host: (m[1] ?? m[2]) as string, port };
}

const definition: VendorDefinition<CcFsProfile, CcFsFlags> = {
  name: 'cc-fs',
  profileSchema: profileSchema(
    {
      url: httpUrl,
      ak: nonEmpty,
      ccId: z.union([nonEmpty, z.int().nonnegative().transform(String)]).default('1'),
      hostHeader: nonEmpty.optional(),
      tz: timeZone.optional(),
      flowControlPause: z.number().min(0).max(600).optional(),
      zip: z
        .strictObject({
          maxEntries: z.int().positive().optional(),
          maxTotalBytes: z.int().positive().optional(),
          maxRatio: z.number().positive().optional(),
        })
        .optional(),
    },
    ['sk'],
  ),
  secretKeys: ['sk'],
  fields: CCFS_FIELDS,
  defaultTemplate: CCFS_DEFAULT_TEMPLATE,
  options(cmd) {
    cmd
      .option(
        '--file-name <name>',
        'a recording by its fileName (Y:/1/0/20240601/1001/123.V3); repeatable',
        collect,
      )
      .option('--call-id <id>', "a call's recordings by call id (several: one folder); repeatable", collect)
      .option('--index <file>', 'a recording index CSV (*_record.csv of a bill file; "-": stdin)')
      .option(
        '--bill-file <name>',
        'the recordings of a bill file (yyyyMMdd_<responseId>.zip); repeatable',
        collect,
      )
      .option('--tz <zone>', "the tenant's time zone (default: profile tz, else local)");
    for (const [flag, help] of [
      ['--bills-from <date>', 'cc-fs bills --from'],
      ['--bills-to <date>', 'cc-fs bills --to'],
      ['--callback-listen <host:port>', 'cc-fs bills --callback-listen'],
      ['--callback-url <url>', 'cc-fs bills --callback-url'],
    ] as const)
      cmd.addOption(new Option(flag, help).hideHelp());
    cmd.addOption(
      new Option('--callback-timeout <duration>', 'cc-fs bills').argParser(parseDuration).hideHelp(),
    );
  },
  help: `Choose one of --file-name, --call-id, -i, --index, --bill-file, or the subcommand \`cc-fs bills\`.
The input list needs a fileName or callId column (ccId optional); other columns become template fields.
A call id with several recordings arrives as a zip: its files go into one folder, the template without
.{ext} (default cc-fs/<date>/<callId>/), checked and renamed into place whole.
Default file names: cc-fs/<date>/<name>.<ext> (<name>: the file's base name, or the call id).
Time range: recpull cc-fs bills --from T --to T --callback-listen HOST:PORT --callback-url URL (see its --help).`,
  examples: [
    'cc-fs --file-name Y:/1/0/20240601/1001/1717200000123.V3 -o /srv/recordings',
    'cc-fs --call-id 1717200000-27 --call-id 1717200300-28',
    'cc-fs -i calls.csv --template "{vendor}/{agentId}/{name}.{ext}"',
    'cc-fs --index 20240601120000000123_record.csv -j 8',
    'cc-fs --bill-file 20240601_0a1b2c3d4e5f60718293a4b5c6d7e8f9.zip',
    'cc-fs bills --from 2024-06-01 --to 2024-06-08 --callback-listen 0.0.0.0:8080 --callback-url https://recpull.example.com/ccfs-callback',
  ],
  async build({ flags, settings, profile, http, retries, retryBaseMs }) {
    const bills = flags.billsFrom !== undefined || flags.billsTo !== undefined;
    requireOneSelection({
      '--file-name/--call-id': flags.fileName !== undefined || flags.callId !== undefined,
      '--input': flags.input !== undefined,
      '--index': flags.index !== undefined,
      '--bill-file': flags.billFile !== undefined,
      'cc-fs bills': bills,
    });
    const tz = flags.tz ?? settings.tz ?? localZone();
    if (!isTimeZone(tz))
      throw new RecpullError('E_USAGE', `--tz: unknown time zone "${tz}" (e.g. Asia/Shanghai)`);
    registerSecret(settings.ak); // an identifier, but "AK/SK appear nowhere in the output"
    registerSecret(settings.sk);
    const ccId = usage(() => checkCcId(settings.ccId));
    const selection = await select(flags, tz, ccId, bills);
    const limiter = new RateLimiter({ group: 'CC-FS', initial: { limit: 1_000_000, windowMs: 1000 } });
    const client = new CcFsClient(http, {
      url: settings.url,
      ak: settings.ak,
      sk: settings.sk,
      profile,
      limiter,
      flowControlPauseMs: (settings.flowControlPause ?? 5) * 1000,
      ...(settings.hostHeader !== undefined ? { hostHeader: settings.hostHeader } : {}),
    });
    const source = new CcFsSource({
      client,
      limiter,
      zone: tz,
      ccId,
      selection,
      ak: settings.ak,
      sk: settings.sk,
      retries,
      retryBaseMs,
      ...(settings.zip ? { zipLimits: settings.zip } : {}),
    });
    return { source, ...(selection.kind === 'list' ? { allowExtraFields: true } : {}) };
  },
  subcommands(helpers) {
    return [billsCommand(helpers)];
  },
  async startEmulator(opts) {
    return (await import('./emulator.js')).startCcFsEmulator(opts);
  },
};

export default definition;

/** Runs a check, turning its `E_INPUT` into `E_USAGE` (a flag or profile value, not an input row). */
function usage<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof RecpullError) throw new RecpullError('E_USAGE', err.message);
    throw err;
  }
}

/** The one selection the flags name (see `help`). Throws `E_USAGE`, `E_INPUT` (an unreadable file). */
async function select(
  flags: CcFsFlags & { input?: string },
  tz: string,
  ccId: string,
  bills: boolean,
): Promise<CcFsSelection> {
  if (flags.fileName !== undefined || flags.callId !== undefined) {
    const targets: CcFsTarget[] = [
      ...(flags.fileName ?? []).map((f): CcFsTarget => ({
        kind: 'file',
        fileName: usage(() => normalizeFileName(f)),
        ccId,
      })),
      ...(flags.callId ?? []).map((c): CcFsTarget => ({
        kind: 'call',
        callId: usage(() => checkCallId(c)),
        ccId,
      })),
    ];
    return { kind: 'targets', targets };
  }
  if (flags.input !== undefined) return { kind: 'list', input: await openInput(flags.input) };
  if (flags.index !== undefined)
    return { kind: 'index', input: await openInput(flags.index), name: flags.index };
  if (flags.billFile !== undefined)
    return {
      kind: 'bill-files',
      names: flags.billFile.map((n) => usage(() => checkBillFileName(trimAscii(n)))),
    };
  if (!bills) throw new RecpullError('E_INTERNAL', 'no selection');
  const missing = (['billsFrom', 'billsTo', 'callbackListen', 'callbackUrl'] as const).filter(
    (k) => !flags[k],
  );
  if (missing.length > 0)
    throw new RecpullError('E_USAGE', 'cc-fs bills needs --from, --to, --callback-listen and --callback-url');
  const from = parseDateTime(flags.billsFrom as string, tz, '--from');
  const to = parseDateTime(flags.billsTo as string, tz, '--to');
  if (!(to.getTime() > from.getTime())) throw new RecpullError('E_USAGE', '--to must be after --from');
  const listen = usage(() => {
    try {
      return parseListen(flags.callbackListen as string);
    } catch (err) {
      throw new RecpullError('E_USAGE', `--callback-listen: ${(err as Error).message}`);
    }
  });
  const url = flags.callbackUrl as string;
  if (!httpUrl.safeParse(url).success)
    throw new RecpullError('E_USAGE', `--callback-url: expected an http(s) URL`);
  return {
    kind: 'bills',
    from,
    to,
    listenHost: listen.host,
    listenPort: listen.port,
    callbackUrl: url,
    timeoutMs: flags.callbackTimeout ?? 600_000,
  };
}

/**
 * The options of `cc-fs bills`. `--from`/`--to` become the main command's hidden `--bills-from`/`--bills-to`;
 * the `--callback-*` ones are the main command's own hidden options (commander reads a parent's options
 * anywhere on the line), listed here for the help.
 */
const BILLS_OPTIONS = [
  ['--from <date>', 'billsFrom', 'calls from this date or date-time (in --tz)'],
  ['--to <date>', 'billsTo', 'calls up to this date or date-time (split into windows of at most 3 days)'],
  ['--callback-listen <host:port>', '', 'where the callback receiver listens (e.g. 0.0.0.0:8080)'],
  ['--callback-url <url>', '', 'the callBackURL CC-FS posts the bill file name to (must reach the receiver)'],
  ['--callback-timeout <duration>', '', 'wait this long for each callback (default 10m)'],
] as const;

/**
 * `recpull cc-fs bills`: runs the main `cc-fs` command (`helpers.runMain`) with `--from`/`--to` as its
 * `billsFrom`/`billsTo` flags, so the download, its output, signals, lock and exit codes are exactly the
 * main command's.
 */
function billsCommand(helpers: VendorCommandHelpers): Command {
  const cmd = new Command('bills').description(
    'recordings of a time range: queryBillData, the signed callback naming the bill file, then its recordings',
  );
  for (const [flag, , help] of BILLS_OPTIONS) cmd.option(flag, help);
  cmd.addHelpText(
    'after',
    `
Every option of \`recpull cc-fs\` (-c, -p, -o, -j, --template, --json, --tz...) may be given too.
CC-FS posts each bill file's name to --callback-url, signed with the profile's AK/SK; the receiver listens on
--callback-listen. Put a reverse proxy in front of it, or open a port the CC-FS host can reach.

Example:
  recpull cc-fs bills --from 2024-06-01 --to 2024-06-08 --callback-listen 0.0.0.0:8080 \\
    --callback-url https://recpull.example.com/ccfs-callback -o /srv/recordings`,
  );
  cmd.action(async function (this: Command) {
    const own = this.opts<{ from?: string; to?: string }>();
    const parent = (this.parent as Command).opts<CommonFlags & Record<string, unknown>>();
    await helpers.runMain({ ...parent, billsFrom: own.from ?? '', billsTo: own.to ?? '' });
  });
  return cmd;
}
