/**
 * CC-FS in `recpull sandbox`, `recpull demo` and the conformance suite: starts the loopback HTTPS emulator
 * (src/sandbox/cc-fs), writes its certificate and an input list into `opts.dir`, and says how to pull the
 * catalogue. One item in five is a call with two recordings, listed by call id (a zip: one folder); the others
 * are listed by fileName. `contentFor` of a call id is its first recording (the zip's first entry).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dayAnchor } from '../../sandbox/catalogue.js';
import { startCcFsSandbox } from '../../sandbox/cc-fs/index.js';
import { sandboxCertificate } from '../../sandbox/server.js';
import type { EmulatorOptions, RunningEmulator } from '../definition.js';
import { ccfsKey } from './protocol.js';

/** Starts the CC-FS emulator with an input list of its whole catalogue (see the module comment). */
export async function startCcFsEmulator(opts: EmulatorOptions): Promise<RunningEmulator> {
  const multi = Math.floor(opts.recordings / 5);
  const seed = opts.seed ?? 7;
  const sb = await startCcFsSandbox({
    singleCalls: opts.recordings - multi,
    multiCalls: multi,
    recordingsPerMultiCall: 2,
    to: new Date(dayAnchor() - 3_600_000), // the same file names and call ids all day (see dayAnchor)
    minBytes: opts.minBytes,
    maxBytes: opts.maxBytes,
    seed,
    faults: {
      seed,
      reset: { rate: opts.resetRate },
      ...(opts.bytesPerSecond ? { bytesPerSecond: opts.bytesPerSecond } : {}),
    },
    ...(opts.port ? { port: opts.port } : {}),
  });
  const caFile = join(opts.dir, 'cc-fs-sandbox-ca.pem');
  await writeFile(caFile, sandboxCertificate());
  const contents = new Map<string, () => Buffer>();
  const rows: string[] = [];
  for (const call of sb.calls) {
    const first = call.recordings[0];
    if (!first) continue;
    if (call.recordings.length === 1) {
      rows.push(`${first.fileName},`);
      contents.set(ccfsKey({ kind: 'file', fileName: first.fileName, ccId: sb.ccId }), () =>
        sb.contentOf(first.fileName),
      );
    } else {
      rows.push(`,${call.callId}`);
      contents.set(ccfsKey({ kind: 'call', callId: call.callId, ccId: sb.ccId }), () =>
        sb.contentOf(first.fileName),
      );
    }
  }
  const list = join(opts.dir, 'cc-fs.csv');
  await writeFile(list, `fileName,callId\n${rows.join('\n')}\n`);
  const profile = { url: sb.url, ak: sb.ak, tz: sb.zone, tls: { caFile }, flowControlPause: 0.2 };
  return {
    profile: { ...profile, sk: `\${RECPULL_SANDBOX_CCFS_SK:-${sb.sk}}` },
    wrongProfile: { ...profile, sk: 'not-the-secret-key-42' },
    args: ['-i', list],
    banner: [
      `CC-FS (HTTPS, auth-v2): ${sb.url}  AK ${sb.ak}; CA certificate: ${caFile}; list: ${list}`,
      `  ${sb.calls.length - multi} single recordings by fileName, ${multi} calls of 2 recordings by call id (zips); bill file: ${sb.billFile}`,
    ],
    contentFor: (key) => contents.get(key)?.(),
    fetchRequests: () => sb.log.filter((e) => e.op === 'downloadRecord').length,
    close: () => sb.close(),
  };
}
