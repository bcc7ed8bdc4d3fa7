/**
 * `recpull sandbox` (emulators on 127.0.0.1 until Ctrl-C, with a config that points at them) and
 * `recpull demo` (the same emulators in-process, pulled through the real code path into ./recpull-demo).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadConfig, resolveProfile, type TimplusProfile } from '../config/index.js';
import { HttpClient } from '../core/http.js';
import { openInput } from '../core/input.js';
import { type RingCentralSandbox, startRingCentralSandbox } from '../sandbox/ringcentral.js';
import { startTimplusSandbox, type TimplusSandbox } from '../sandbox/timplus.js';
import { TimplusClient } from '../vendors/timplus/client.js';
import { timplusSource } from '../vendors/timplus/source.js';
import { type CliContext, type CommonFlags, intIn, runSource } from './common.js';
import { runRingcentral } from './ringcentral.js';

interface Started {
  timplus: TimplusSandbox;
  ringcentral: RingCentralSandbox;
  dir: string;
  configPath: string;
  timplusList: string;
  close(): Promise<void>;
}

async function startAll(opts: {
  recordings: number;
  minBytes: number;
  maxBytes: number;
  resetRate: number;
  port?: number;
}): Promise<Started> {
  const timplus = await startTimplusSandbox({
    recordings: opts.recordings,
    minBytes: opts.minBytes,
    maxBytes: opts.maxBytes,
    faults: { seed: 7, reset: { rate: opts.resetRate } },
    ...(opts.port ? { port: opts.port, echoPort: opts.port + 1 } : {}),
  });
  // Calls in the last day (the default range); Heavy 20 requests per 2 s, so the rate limit shows.
  const ringcentral = await startRingCentralSandbox({
    recordings: opts.recordings,
    minBytes: opts.minBytes,
    maxBytes: opts.maxBytes,
    from: new Date(Date.now() - 20 * 3600_000),
    to: new Date(Date.now() - 20 * 60_000),
    heavy: { limit: 20, windowS: 2, penaltyS: 60 },
    faults: { seed: 7, reset: { rate: opts.resetRate } },
  });
  const dir = await mkdtemp(join(tmpdir(), 'recpull-sandbox-'));
  const configPath = join(dir, 'recpull.config.yaml');
  await writeFile(
    configPath,
    `# recpull sandbox: emulators on 127.0.0.1 (password of the sandbox only)
timplus:
  default:
    url: ${timplus.url}
    username: ${timplus.username}
    password: \${RECPULL_SANDBOX_PASSWORD:-${timplus.password}}
ringcentral:
  default:
    server: ${ringcentral.url}
    mediaServer: ${ringcentral.mediaUrl}
    clientId: ${ringcentral.clientId}
    clientSecret: \${RECPULL_SANDBOX_RC_SECRET:-${ringcentral.clientSecret}}
    jwt: \${RECPULL_SANDBOX_RC_JWT:-${ringcentral.jwt}}
`,
    { mode: 0o600 },
  );
  const timplusList = join(dir, 'timplus.csv');
  await writeFile(
    timplusList,
    `datasource,voicelocation,voicefilename\n${timplus.catalogue.map((r) => `${r.datasource},${r.voicelocation},${r.voicefilename}`).join('\n')}\n`,
  );
  const close = async () => {
    await Promise.all([timplus.close(), ringcentral.close()]);
  };
  return { timplus, ringcentral, dir, configPath, timplusList, close };
}

/** `recpull sandbox`: runs the emulators until Ctrl-C and prints a config and list that point at them. */
export function sandboxCommand(ctx: CliContext): Command {
  return new Command('sandbox')
    .description('run the loopback emulators until Ctrl-C and print a config that points at them')
    .option('--port <n>', 'first port to listen on (default: free ports)', intIn(1024, 65000))
    .option('--recordings <n>', 'recordings in each catalogue', intIn(1, 100000), 50)
    .addHelpText(
      'after',
      '\nExample:\n  recpull sandbox            # then, in another terminal, run the command it prints',
    )
    .action(async (flags: { port?: number; recordings: number }) => {
      const s = await startAll({
        recordings: flags.recordings,
        minBytes: 16_000,
        maxBytes: 400_000,
        resetRate: 0,
        ...(flags.port ? { port: flags.port } : {}),
      });
      process.stdout.write(
        `TIM Plus web server: ${s.timplus.url}  (Echo service: ${s.timplus.echoUrl})\n` +
          `RingCentral platform: ${s.ringcentral.url}  (media: ${s.ringcentral.mediaUrl})\n` +
          `config: ${s.configPath}\nlist:   ${s.timplusList}\n\n` +
          `Try:\n  recpull timplus --config ${s.configPath} -i ${s.timplusList} -o ./sandbox-recordings\n` +
          `  recpull ringcentral --config ${s.configPath} -o ./sandbox-recordings\n\nCtrl-C stops the sandbox.\n`,
      );
      await new Promise<void>((r) => {
        process.once('SIGINT', () => r());
        process.once('SIGTERM', () => r());
      });
      await s.close();
      ctx.exitCode = 0;
    });
}

/** `recpull demo`: starts the emulators in-process and pulls a demo list through the real code path. */
export function demoCommand(ctx: CliContext): Command {
  return new Command('demo')
    .description('pull recordings from the built-in sandbox, with progress, to see recpull work')
    .option('-o, --out <dir>', 'output folder', './recpull-demo')
    .option('-j, --concurrency <n>', 'downloads at a time', intIn(1, 64), 8)
    .option('--recordings <n>', 'how many recordings', intIn(1, 10000), 60)
    .option('--json', 'NDJSON events on stdout')
    .option('--no-progress', 'plain lines instead of the progress bar')
    .option('--force', 'download again what is already there')
    .addHelpText(
      'after',
      '\nExamples:\n  npx recpull demo\n  npx recpull demo --recordings 200 -j 16 --out /tmp/demo',
    )
    .action(
      async (flags: {
        out: string;
        concurrency: number;
        recordings: number;
        json?: boolean;
        progress: boolean;
        force?: boolean;
      }) => {
        const s = await startAll({
          recordings: flags.recordings,
          minBytes: 100_000,
          maxBytes: 2_000_000,
          resetRate: 0.05,
        });
        try {
          const loaded = await loadConfig({ configPath: s.configPath });
          const resolved = await resolveProfile(loaded, 'timplus', 'default');
          const settings = resolved.settings as TimplusProfile;
          const common: CommonFlags = {
            profile: 'default',
            out: resolve(flags.out),
            concurrency: flags.concurrency,
            input: s.timplusList,
            progress: flags.progress,
            ...(flags.json ? { json: true } : {}),
            ...(flags.force ? { force: true } : {}),
          };
          const http = new HttpClient({ timeoutMs: 30_000, userAgent: 'recpull/0.1 (demo)' });
          const client = new TimplusClient(http, {
            url: settings.url,
            username: settings.username,
            password: settings.password as string,
            profile: 'default',
            configFile: s.configPath,
          });
          if (!flags.json)
            process.stderr.write(
              `recpull demo: TIM Plus sandbox at ${s.timplus.url}, ${flags.recordings} recordings (5% of bodies reset mid-way, to show retries)\n`,
            );
          ctx.exitCode = await runSource(timplusSource(client, { input: await openInput(s.timplusList) }), {
            flags: common,
            profile: settings,
            profileName: 'default',
            warnings: resolved.warnings,
            cleanup: () => http.close(),
          });
          if (ctx.exitCode === 130) return;
          if (!flags.json)
            process.stderr.write(
              `recpull demo: RingCentral sandbox at ${s.ringcentral.url}, ${flags.recordings} recordings (Heavy rate limit 20 per 2 s)\n`,
            );
          const rc = await resolveProfile(loaded, 'ringcentral', 'default');
          const { input: _list, ...rcFlags } = common;
          const rcCode = await runRingcentral(
            { ...rcFlags, overlap: 15, notReadyWait: 300_000, perPage: 1000 },
            rc,
          );
          if (ctx.exitCode === 0) ctx.exitCode = rcCode;
        } finally {
          await s.close();
        }
      },
    );
}
