/**
 * `recpull timplus`: the registry's definition of TIM Plus (reference/seeds/timplus-programmatic-audio-
 * retrieval.txt, reference/timplus/timplus-notes.md): profile keys, flags, help, and how they become a run.
 */
import { openInput } from '../../core/input.js';
import { httpUrl, nonEmpty, profileSchema } from '../../config/schema.js';
import type { CommonProfile, VendorDefinition } from '../definition.js';
import { requireOneSelection } from '../flags.js';
import { TimplusClient } from './client.js';
import { TIMPLUS_FIELDS, TIMPLUS_TEMPLATE, timplusSource } from './source.js';

/** A resolved `timplus.<profile>` section. */
export interface TimplusProfile extends CommonProfile {
  /** Base URL of the TIM Plus web server, http(s), no credentials in it (e.g. `http://tim.example.com`). */
  url: string;
  username: string;
  /** From `password` (after `${ENV}` interpolation) or read from `passwordFile`. */
  password: string;
}

/** The flags of `recpull timplus` besides the shared ones. */
interface TimplusFlags {
  datasource?: string;
  voicelocation?: string;
  voicefilename?: string;
}

const definition: VendorDefinition<TimplusProfile, TimplusFlags> = {
  name: 'timplus',
  profileSchema: profileSchema({ url: httpUrl, username: nonEmpty }, ['password']),
  secretKeys: ['password'],
  fields: TIMPLUS_FIELDS,
  defaultTemplate: TIMPLUS_TEMPLATE,
  options(cmd) {
    cmd
      .option(
        '--datasource <value>',
        'one recording: its datasource (with --voicelocation and --voicefilename)',
      )
      .option('--voicelocation <value>', 'one recording: its voicelocation')
      .option('--voicefilename <value>', 'one recording: its voicefilename');
  },
  help: `The input list needs the columns datasource, voicelocation and voicefilename (from the TIM Plus
"calls" table); any other column becomes a template field.
Default file names: timplus/<datasource>/<voicelocation>/<voicefilename>.<ext>.`,
  examples: [
    'timplus -i calls.csv -o /srv/recordings',
    'timplus --datasource 3 --voicelocation 4 --voicefilename 344f91cf-ba35-48e4-8080-a80a3816f5e7',
    "mysql -B -e 'select datasource, voicelocation, voicefilename from calls' | recpull timplus -i - --json",
    "timplus -p site-b -i calls.tsv --template '{datasource}/{voicefilename}.{ext}'",
  ],
  async build({ flags, settings, profile, configFile, http }) {
    const given = [flags.datasource, flags.voicelocation, flags.voicefilename].filter(
      (v) => v !== undefined,
    ).length;
    requireOneSelection({
      '--input': flags.input !== undefined,
      '--datasource/--voicelocation/--voicefilename': given > 0,
    });
    if (given > 0 && given < 3)
      requireOneSelection({ 'all three of --datasource, --voicelocation and --voicefilename': false });
    const client = new TimplusClient(http, {
      url: settings.url,
      username: settings.username,
      password: settings.password,
      profile,
      configFile,
    });
    const selection =
      given === 3
        ? {
            single: {
              datasource: flags.datasource as string,
              voicelocation: flags.voicelocation as string,
              voicefilename: flags.voicefilename as string,
            },
          }
        : { input: await openInput(flags.input as string) };
    return { source: timplusSource(client, selection) };
  },
  async startEmulator(opts) {
    return (await import('./emulator.js')).startTimplusEmulator(opts);
  },
};

export default definition;
