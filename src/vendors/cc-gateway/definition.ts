/**
 * `recpull cc-gateway`: the registry's definition of Huawei's CC-Gateway (AgentGateway) recording download
 * (reference/seeds/huawei-cc-gateway-download-recordings.txt, reference/huawei/agentgateway-notes.md):
 * profile keys, flags, help, and how they become a run through one signed-in, busy agent session.
 */
import { InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { httpUrl, nonEmpty, profileSchema } from '../../config/schema.js';
import { openInput } from '../../core/input.js';
import type { G711Law } from '../../formats/g711-wav.js';
import type { CommonProfile, VendorDefinition } from '../definition.js';
import { requireOneSelection } from '../flags.js';
import { CC_GATEWAY_FIELDS, CC_GATEWAY_TEMPLATE } from './record.js';
import { CcGatewaySession } from './session.js';
import { ccGatewaySource } from './source.js';

/** A resolved `cc-gateway.<profile>` section. */
export interface CcGatewayProfile extends CommonProfile {
  /** Gateway base URL, e.g. `https://cc-gw.example.com:8043` (requests go below `/agentgateway/resource/`). */
  url: string;
  /** The agent's work number (a YAML number is taken as its digits). */
  agentId: string;
  /** From `password` (after `${ENV}` interpolation) or read from `passwordFile`. */
  password: string;
  /** The phone number the agent binds when signing in (`phonenum`). */
  phoneNumber: string;
}

/** The flags of `recpull cc-gateway` besides the shared ones. */
export interface CcGatewayFlags {
  forceLogin?: boolean;
  recordId?: string[];
  locationId?: string;
  filetype: '1' | '2';
  rawFormat?: G711Law;
}

/** A string, or a whole number written without quotes in YAML (`agentId: 20011`). */
const digitsOrString = z.union([nonEmpty, z.int().nonnegative().transform(String)]);

function locationIdArg(value: string): string {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a node id (a whole number)');
  return value;
}

const definition: VendorDefinition<CcGatewayProfile, CcGatewayFlags> = {
  name: 'cc-gateway',
  profileSchema: profileSchema({ url: httpUrl, agentId: digitsOrString, phoneNumber: digitsOrString }, [
    'password',
  ]),
  secretKeys: ['password'],
  defaultConcurrency: 2,
  fields: CC_GATEWAY_FIELDS,
  defaultTemplate: CC_GATEWAY_TEMPLATE,
  options(cmd) {
    cmd
      .option('--record-id <path...>', 'these recordings: record paths (fileName of AgentMediaEvent_Record)')
      .option(
        '--location-id <id>',
        'with --record-id: the node id (locationId; CTI pool mode); default: not sent',
        locationIdArg,
      )
      .addOption(
        new Option(
          '--filetype <type>',
          'file type of rows without one: 1 agent call recording, 2 IVR/voice message',
        )
          .choices(['1', '2'])
          .default('1'),
      )
      .addOption(
        new Option(
          '--raw-format <law>',
          'wrap headerless recordings in a WAV header of this G.711 law (8 kHz mono) instead of saving them as received',
        ).choices(['alaw', 'mulaw']),
      )
      .option(
        '--force-login',
        'if the agent is already signed in elsewhere (100-002), take it over (forcelogin) instead of stopping',
      );
  },
  help: `recpull signs the agent in (status wrap-up), sets it busy so that no call is routed to it, keeps the
session alive with the event poll (taking each new GUID in dynamic AUTHMODE), and signs it out on every way
out: done, failed, Ctrl-C, SIGTERM. Use an agent account that takes no calls.
The input list needs a recordId column (alias fileName: the record path, e.g. Y:/6/0/20161025/20011/1902050.V3);
optional columns locationId, filetype (1 or 2) and callId; any other column becomes a template field.
Headerless (raw G.711) recordings are saved as received with their own extension (.V3), not validated,
unless --raw-format wraps them in a WAV header.
Default file names: cc-gateway/<date>/<agent>/<name>.<ext>, from the record path.`,
  examples: [
    'cc-gateway -i records.csv -o /srv/recordings',
    "cc-gateway --record-id 'Y:/6/0/20161025/20011/1902050.V3' --raw-format alaw",
    "cc-gateway --record-id 'Y:/6/0/20161025/20011/1902050.V3' --location-id 1",
    'cc-gateway -p night -i records.tsv --force-login --quiet          # cron, agent left signed in elsewhere',
  ],
  async build({ flags, settings, profile, configFile, http }) {
    requireOneSelection({
      '--input': flags.input !== undefined,
      '--record-id': flags.recordId !== undefined,
    });
    if (flags.locationId !== undefined && flags.recordId === undefined) {
      requireOneSelection({
        '--record-id with --location-id (an input list has a locationId column)': false,
      });
    }
    const session = new CcGatewaySession(http, {
      url: settings.url,
      agentId: settings.agentId,
      password: settings.password,
      phoneNumber: settings.phoneNumber,
      profile,
      configFile,
      ...(flags.forceLogin ? { forceLogin: true } : {}),
    });
    const selection =
      flags.recordId !== undefined
        ? {
            recordIds: flags.recordId,
            filetype: flags.filetype,
            ...(flags.locationId !== undefined ? { locationId: flags.locationId } : {}),
          }
        : { input: await openInput(flags.input as string), filetype: flags.filetype };
    return {
      source: ccGatewaySource(session, selection, {
        ...(flags.rawFormat ? { rawFormat: flags.rawFormat } : {}),
        ...(flags.verbose ? { verbose: true } : {}),
      }),
    };
  },
  async startEmulator(opts) {
    return (await import('./emulator.js')).startCcGatewayEmulator(opts);
  },
};

export default definition;
