/** `recpull timplus`: TIM Plus recordings by datasource, voicelocation and voicefilename. */
import { Command } from 'commander';
import { loadConfig, resolveProfile, type TimplusProfile } from '../config/index.js';
import { HttpClient } from '../core/http.js';
import { openInput } from '../core/input.js';
import { TimplusClient } from '../vendors/timplus/client.js';
import { timplusSource } from '../vendors/timplus/source.js';
import {
  addCommonOptions,
  type CliContext,
  type CommonFlags,
  httpOptions,
  requireOneSelection,
  runSource,
} from './common.js';

interface TimplusFlags extends CommonFlags {
  datasource?: string;
  voicelocation?: string;
  voicefilename?: string;
}

/**
 * `recpull timplus`: an input list (`-i`) or one recording (`--datasource/--voicelocation/--voicefilename`),
 * profile `timplus.<profile>`. Sets `ctx.exitCode`; throws E_USAGE/E_CONFIG/E_INPUT before anything is fetched.
 */
export function timplusCommand(ctx: CliContext): Command {
  const cmd = new Command('timplus')
    .description('download TIM Plus recordings (two-step: security token, then the Echo service)')
    .option(
      '--datasource <value>',
      'one recording: its datasource (with --voicelocation and --voicefilename)',
    )
    .option('--voicelocation <value>', 'one recording: its voicelocation')
    .option('--voicefilename <value>', 'one recording: its voicefilename');
  addCommonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
The input list needs the columns datasource, voicelocation and voicefilename (from the TIM Plus
"calls" table); any other column becomes a template field.
Default file names: timplus/<datasource>/<voicelocation>/<voicefilename>.<ext>. Template fields: {vendor}
{datasource} {voicelocation} {voicefilename} {ext} {key}, and the input list's other columns.

Examples:
  recpull timplus -i calls.csv -o /srv/recordings
  recpull timplus --datasource 3 --voicelocation 4 --voicefilename 344f91cf-ba35-48e4-8080-a80a3816f5e7
  mysql -B -e 'select datasource, voicelocation, voicefilename from calls' | recpull timplus -i - --json
  recpull timplus -p site-b -i calls.tsv --template '{datasource}/{voicefilename}.{ext}'`,
  );
  cmd.action(async (flags: TimplusFlags) => {
    const single =
      flags.datasource !== undefined ||
      flags.voicelocation !== undefined ||
      flags.voicefilename !== undefined;
    requireOneSelection({
      '--input': flags.input !== undefined,
      '--datasource/--voicelocation/--voicefilename': single,
    });
    if (
      single &&
      (flags.datasource === undefined ||
        flags.voicelocation === undefined ||
        flags.voicefilename === undefined)
    ) {
      requireOneSelection({ 'all three of --datasource, --voicelocation and --voicefilename': false });
    }
    const loaded = await loadConfig(flags.config ? { configPath: flags.config } : {});
    const resolved = await resolveProfile(loaded, 'timplus', flags.profile);
    const settings = resolved.settings as TimplusProfile;
    const http = new HttpClient(httpOptions(flags, settings));
    const client = new TimplusClient(http, {
      url: settings.url,
      username: settings.username,
      password: settings.password as string,
      profile: flags.profile,
      configFile: resolved.filepath,
    });
    const selection = single
      ? {
          single: {
            datasource: flags.datasource as string,
            voicelocation: flags.voicelocation as string,
            voicefilename: flags.voicefilename as string,
          },
        }
      : { input: await openInput(flags.input as string) };
    ctx.exitCode = await runSource(timplusSource(client, selection), {
      flags,
      profile: settings,
      profileName: flags.profile,
      warnings: resolved.warnings,
      cleanup: () => http.close(),
    });
  });
  return cmd;
}
