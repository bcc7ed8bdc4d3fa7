/**
 * TIM Plus in `recpull sandbox`, `recpull demo` and the conformance suite: starts the loopback emulator
 * (src/sandbox/timplus) and says how to pull its catalogue (an input list written into `opts.dir`).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTimplusSandbox } from '../../sandbox/timplus/index.js';
import type { EmulatorOptions, RunningEmulator } from '../definition.js';
import { timplusKey } from './source.js';

/** Starts the TIM Plus emulator (web server and Echo service) with an input list of its whole catalogue. */
export async function startTimplusEmulator(opts: EmulatorOptions): Promise<RunningEmulator> {
  const sb = await startTimplusSandbox({
    recordings: opts.recordings,
    minBytes: opts.minBytes,
    maxBytes: opts.maxBytes,
    faults: {
      seed: opts.seed ?? 7,
      reset: { rate: opts.resetRate },
      ...(opts.bytesPerSecond ? { bytesPerSecond: opts.bytesPerSecond } : {}),
    },
    ...(opts.port ? { port: opts.port, echoPort: opts.port + 1 } : {}),
  });
  const list = join(opts.dir, 'timplus.csv');
  await writeFile(
    list,
    `datasource,voicelocation,voicefilename\n${sb.catalogue.map((r) => `${r.datasource},${r.voicelocation},${r.voicefilename}`).join('\n')}\n`,
  );
  const byKey = new Map(sb.catalogue.map((r) => [timplusKey(r), r]));
  const profile = { url: sb.url, username: sb.username };
  return {
    profile: { ...profile, password: `\${RECPULL_SANDBOX_PASSWORD:-${sb.password}}` },
    wrongProfile: { ...profile, password: 'not-the-password' },
    args: ['-i', list],
    banner: [`TIM Plus web server: ${sb.url}  (Echo service: ${sb.echoUrl}); list: ${list}`],
    contentFor: (key) => {
      const rec = byKey.get(key);
      return rec ? sb.contentOf(rec) : undefined;
    },
    fetchRequests: () => sb.log.length,
    close: () => sb.close(),
  };
}
