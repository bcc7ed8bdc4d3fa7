/**
 * `recpull sandbox` (every registered vendor's emulator on 127.0.0.1 until Ctrl-C, with a config that points
 * at them) and `recpull demo` (the same emulators in-process, each pulled through its real subcommand into
 * ./recpull-demo). Both read the vendor registry; nothing here names a vendor.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'yaml';
import type { RunningEmulator } from '../vendors/definition.js';
import type { VendorEntry } from '../vendors/index.js';
import { type CliContext, intIn } from './common.js';

interface Started {
  emulators: { entry: VendorEntry; emulator: RunningEmulator }[];
  dir: string;
  configPath: string;
  /** Stops every emulator and removes the temp folder. */
  close(): Promise<void>;
}

async function startAll(
  registry: readonly VendorEntry[],
  opts: { recordings: number; minBytes: number; maxBytes: number; resetRate: number; port?: number },
): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'recpull-sandbox-'));
  const emulators: Started['emulators'] = [];
  const close = async () => {
    await Promise.all(emulators.map((e) => e.emulator.close().catch(() => {})));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let port = opts.port;
    for (const entry of registry) {
      const def = await entry.load();
      const emulator = await def.startEmulator({ ...opts, dir, ...(port ? { port } : {}) });
      emulators.push({ entry, emulator });
      if (port) port += 10;
    }
  } catch (err) {
    await close();
    throw err;
  }
  const configPath = join(dir, 'recpull.config.yaml');
  const sections = Object.fromEntries(emulators.map((e) => [e.entry.name, { default: e.emulator.profile }]));
  await writeFile(
    configPath,
    `# recpull sandbox: emulators on 127.0.0.1 (credentials of the sandbox only)\n${stringify(sections)}`,
    { mode: 0o600 },
  );
  return { emulators, dir, configPath, close };
}

/** Resolves when the process is asked to stop (the entry point aborts `ctx.stop`). */
function untilStopped(ctx: CliContext): Promise<void> {
  ctx.stoppable = true;
  if (ctx.stop.aborted) return Promise.resolve();
  return new Promise((r) => ctx.stop.addEventListener('abort', () => r(), { once: true }));
}

/** `recpull sandbox`: runs the emulators until Ctrl-C (or SIGTERM) and prints a config that points at them. */
export function sandboxCommand(ctx: CliContext, registry: readonly VendorEntry[]): Command {
  return new Command('sandbox')
    .description('run the loopback emulators until Ctrl-C and print a config that points at them')
    .option('--port <n>', 'first port to listen on (default: free ports)', intIn(1024, 65000))
    .option('--recordings <n>', 'recordings in each catalogue', intIn(1, 100000), 50)
    .addHelpText(
      'after',
      '\nExample:\n  recpull sandbox            # then, in another terminal, run a command it prints',
    )
    .action(async (flags: { port?: number; recordings: number }) => {
      const s = await startAll(registry, {
        recordings: flags.recordings,
        minBytes: 16_000,
        maxBytes: 400_000,
        resetRate: 0,
        ...(flags.port ? { port: flags.port } : {}),
      });
      try {
        const lines = s.emulators.flatMap((e) => e.emulator.banner);
        const tries = s.emulators.map(
          (e) =>
            `  recpull ${[e.entry.name, '--config', s.configPath, ...e.emulator.args, '-o', './sandbox-recordings'].join(' ')}`,
        );
        process.stdout.write(
          `${lines.join('\n')}\nconfig: ${s.configPath}\n\nTry:\n${tries.join('\n')}\n\nCtrl-C stops the sandbox.\n`,
        );
        await untilStopped(ctx);
      } finally {
        await s.close();
      }
      ctx.exitCode = 0;
    });
}

/** `recpull demo`: starts the emulators in-process and pulls each through its vendor's real subcommand. */
export function demoCommand(ctx: CliContext, registry: readonly VendorEntry[]): Command {
  return new Command('demo')
    .description('pull recordings from the built-in sandbox, with progress, to see recpull work')
    .option('-o, --out <dir>', 'output folder', './recpull-demo')
    .option('-j, --concurrency <n>', 'downloads at a time', intIn(1, 64), 8)
    .option('--recordings <n>', 'how many recordings of each vendor', intIn(1, 10000), 60)
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
        const s = await startAll(registry, {
          recordings: flags.recordings,
          minBytes: 100_000,
          maxBytes: 2_000_000,
          resetRate: 0.05,
        });
        const { vendorCommand } = await import('./vendor-command.js');
        try {
          let code = 0;
          for (const { entry, emulator } of s.emulators) {
            if (ctx.stop.aborted) break;
            if (!flags.json)
              process.stderr.write(
                `recpull demo: ${entry.name}: ${flags.recordings} recordings, 5% of bodies reset mid-way to show retries\n  ${emulator.banner.join('\n  ')}\n`,
              );
            const cmd = vendorCommand(ctx, entry, await entry.load()).exitOverride();
            const args = [
              '--config',
              s.configPath,
              ...emulator.args,
              '--out',
              resolve(flags.out),
              '-j',
              String(flags.concurrency),
              ...(flags.json ? ['--json'] : []),
              ...(flags.progress ? [] : ['--no-progress']),
              ...(flags.force ? ['--force'] : []),
            ];
            ctx.exitCode = 0;
            await cmd.parseAsync(args, { from: 'user' });
            if (code === 0) code = ctx.exitCode;
            if (ctx.exitCode >= 128) break; // interrupted: stop the demo
          }
          ctx.exitCode = code;
        } finally {
          await s.close();
        }
      },
    );
}
