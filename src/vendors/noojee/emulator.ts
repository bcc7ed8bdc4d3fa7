/**
 * Noojee in `recpull sandbox`, `recpull demo` and the conformance suite: starts the loopback emulator
 * (src/sandbox/noojee) with HTTP Basic in front of the Axis service, recordings in the three body styles
 * (half of them wrapped at 76 columns) that ended in the 3 hours before the current UTC day began (one
 * catalogue all day, so a second run skips it), an hour listing limited to one request
 * per 2 s (the real one: per minute), and says how to pull its catalogue (an input list of uniqueids written
 * into `opts.dir`).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dayAnchor } from '../../sandbox/catalogue.js';
import { startNoojeeSandbox } from '../../sandbox/noojee/index.js';
import type { EmulatorOptions, RunningEmulator } from '../definition.js';
import { noojeeKey } from './source.js';

const HTTP_USER = 'recpull';
const HTTP_PASSWORD = 'noojee-sandbox-pw-4711';

/** Starts the Noojee emulator with an input list (`uniqueId,username`) of its whole catalogue. */
export async function startNoojeeEmulator(opts: EmulatorOptions): Promise<RunningEmulator> {
  const sb = await startNoojeeSandbox({
    recordings: opts.recordings,
    minBytes: opts.minBytes,
    maxBytes: opts.maxBytes,
    seed: opts.seed ?? 7,
    to: new Date(dayAnchor() - 10 * 60_000), // the same uniqueids all day (see dayAnchor)
    basicAuth: { user: HTTP_USER, password: HTTP_PASSWORD },
    listing: { limit: 1, windowMs: 2000 },
    faults: {
      seed: opts.seed ?? 7,
      reset: { rate: opts.resetRate },
      ...(opts.bytesPerSecond ? { bytesPerSecond: opts.bytesPerSecond } : {}),
    },
    ...(opts.port ? { port: opts.port } : {}),
  });
  const list = join(opts.dir, 'noojee.csv');
  await writeFile(
    list,
    `uniqueId,username\n${sb.catalogue.map((r) => `${r.uniqueId},${r.username}`).join('\n')}\n`,
  );
  const profile = {
    url: sb.url,
    username: sb.username,
    httpUser: HTTP_USER,
    tz: sb.tz,
    rateLimit: { listing: { limit: 1, windowSeconds: 2 } },
  };
  const apiKey = `\${RECPULL_SANDBOX_NOOJEE_APIKEY:-${sb.apiKey}}`;
  return {
    profile: { ...profile, httpPassword: `\${RECPULL_SANDBOX_NOOJEE_PASSWORD:-${HTTP_PASSWORD}}`, apiKey },
    wrongProfile: { ...profile, httpPassword: 'not-the-noojee-password', apiKey },
    args: ['-i', list],
    banner: [
      `Noojee Recorder: ${sb.url}  (HTTP Basic; PBX zone ${sb.tz}; hour listing 1 request per 2 s); list: ${list}`,
    ],
    contentFor: (key) => {
      const rec = sb.catalogue.find(
        (r) => noojeeKey({ uniqueId: r.uniqueId }) === key || (r.tag && noojeeKey({ tag: r.tag }) === key),
      );
      return rec ? sb.contentOf(rec) : undefined;
    },
    fetchRequests: () => sb.log.filter((e) => e.op === 'retrieve' || e.op === 'retrieveByUniqueId').length,
    close: () => sb.close(),
  };
}
