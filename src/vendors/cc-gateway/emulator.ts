/**
 * Huawei CC-Gateway in `recpull sandbox`, `recpull demo` and the conformance suite: starts the loopback
 * emulator (src/sandbox/cc-gateway; HTTPS with the sandbox's self-signed certificate, dynamic AUTHMODE) and
 * says how to pull its catalogue: an input list of record paths and the certificate, both written into
 * `opts.dir`, and a profile whose `tls.caFile` trusts that certificate.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCcGatewaySandbox } from '../../sandbox/cc-gateway/index.js';
import { sandboxCertificate } from '../../sandbox/server.js';
import type { EmulatorOptions, RunningEmulator } from '../definition.js';
import { ccGatewayKey } from './record.js';

/**
 * Starts the CC-Gateway emulator with `opts.recordings` WAV recordings of `minBytes`–`maxBytes` bytes;
 * `resetRate` of them have their body reset once mid-way, `bytesPerSecond` caps every body. The event poll
 * is held 2 s (the real gateway: ~10 s) so that runs end promptly.
 */
export async function startCcGatewayEmulator(opts: EmulatorOptions): Promise<RunningEmulator> {
  const sb = await startCcGatewaySandbox({
    recordings: opts.recordings,
    minBytes: opts.minBytes,
    maxBytes: opts.maxBytes,
    pollHoldMs: 2000,
    faults: {
      seed: opts.seed ?? 7,
      reset: { rate: opts.resetRate },
      ...(opts.bytesPerSecond ? { bytesPerSecond: opts.bytesPerSecond } : {}),
    },
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.port ? { port: opts.port } : {}),
  });
  const list = join(opts.dir, 'cc-gateway.csv');
  await writeFile(
    list,
    `recordId,filetype,callId\n${sb.catalogue.map((r) => `${r.recordId},${r.filetype},${r.callId}`).join('\n')}\n`,
  );
  const caFile = join(opts.dir, 'cc-gateway-ca.pem');
  await writeFile(caFile, sandboxCertificate());
  const byKey = new Map(
    sb.catalogue.map((r) => [
      ccGatewayKey({ recordId: r.recordId, locationId: r.locationId, filetype: r.filetype }),
      r,
    ]),
  );
  const profile = { url: sb.url, agentId: sb.agentId, phoneNumber: sb.phoneNumber, tls: { caFile } };
  return {
    profile: { ...profile, password: `\${RECPULL_SANDBOX_CCGW_PASSWORD:-${sb.password}}` },
    wrongProfile: { ...profile, password: 'not-the-password' },
    args: ['-i', list],
    banner: [
      `Huawei CC-Gateway: ${sb.url}  (agent ${sb.agentId}, dynamic AUTHMODE, self-signed certificate ${caFile}); list: ${list}`,
    ],
    contentFor: (key) => {
      const rec = byKey.get(key);
      return rec ? sb.contentOf(rec) : undefined;
    },
    fetchRequests: () => sb.log.filter((e) => e.op === 'recordfile').length,
    openSessions: () => (sb.signedIn ? 1 : 0),
    close: () => sb.close(),
  };
}
