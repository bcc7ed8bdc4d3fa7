/**
 * RingCentral in `recpull sandbox`, `recpull demo` and the conformance suite: starts the loopback emulator
 * (src/sandbox/ringcentral) with calls in the last day (the default range), a Heavy group of 20 requests per
 * 2 s so the rate limit shows, and says how to pull its catalogue (no flags: the last 24 hours).
 */
import { startRingCentralSandbox } from '../../sandbox/ringcentral/index.js';
import type { EmulatorOptions, RunningEmulator } from '../definition.js';
import { ringcentralKey } from './meta.js';

/** Starts the RingCentral emulator (platform and media origins). */
export async function startRingCentralEmulator(opts: EmulatorOptions): Promise<RunningEmulator> {
  const sb = await startRingCentralSandbox({
    recordings: opts.recordings,
    minBytes: opts.minBytes,
    maxBytes: opts.maxBytes,
    from: new Date(Date.now() - 20 * 3600_000),
    to: new Date(Date.now() - 20 * 60_000),
    heavy: { limit: 20, windowS: 2, penaltyS: 60 },
    faults: {
      seed: opts.seed ?? 7,
      reset: { rate: opts.resetRate },
      ...(opts.bytesPerSecond ? { bytesPerSecond: opts.bytesPerSecond } : {}),
    },
  });
  const profile = { server: sb.url, mediaServer: sb.mediaUrl, clientId: sb.clientId };
  const byKey = new Map(sb.catalogue.map((r) => [ringcentralKey(sb.accountId, r.id), r.id]));
  return {
    profile: {
      ...profile,
      clientSecret: `\${RECPULL_SANDBOX_RC_SECRET:-${sb.clientSecret}}`,
      jwt: `\${RECPULL_SANDBOX_RC_JWT:-${sb.jwt}}`,
    },
    wrongProfile: { ...profile, clientSecret: sb.clientSecret, jwt: 'not-the-jwt' },
    args: [],
    banner: [
      `RingCentral platform: ${sb.url}  (media: ${sb.mediaUrl}); Heavy rate limit 20 requests per 2 s`,
    ],
    contentFor: (key) => {
      const id = byKey.get(key);
      return id === undefined ? undefined : sb.contentOf(id);
    },
    fetchRequests: () => sb.log.filter((e) => e.path.endsWith('/content')).length,
    close: () => sb.close(),
  };
}
