/**
 * The TIM Plus emulator as its own process, for benchmarks: the client under test does not share its CPU
 * with the server's event loop. Starts the sandbox from dist/ with fast content (one seeded 64 KiB block
 * per recording, repeated: the emulator is not the bottleneck), writes the input list and the catalogue
 * into --dir, prints one JSON line, then serves until killed (SIGTERM/SIGINT close it):
 *
 *   {"url","echoUrl","username","password","scheme","seed","list","catalogue","recordings","totalBytes"}
 *
 *   node test/bench/timplus-server.mjs --dir DIR [--recordings 2000] [--bytes 262144 | --min-bytes A --max-bytes B]
 *        [--scheme basic|digest] [--seed 1] [--slow-content]
 *
 * `list` is a CSV (datasource,voicelocation,voicefilename) for `recpull timplus -i`; `catalogue` a JSON array
 * of {datasource, voicelocation, voicefilename, bytes}. The expected bytes of a recording are
 * `wavChunks(voicefilename, bytes, seed, 65536, {fast: true})` from dist/sandbox/catalogue.js.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startTimplusSandbox } from '../../dist/sandbox/timplus/index.js';

const { values: argv } = parseArgs({
  options: {
    dir: { type: 'string' },
    recordings: { type: 'string', default: '2000' },
    bytes: { type: 'string' },
    'min-bytes': { type: 'string' },
    'max-bytes': { type: 'string' },
    scheme: { type: 'string', default: 'basic' },
    seed: { type: 'string', default: '1' },
    'slow-content': { type: 'boolean' },
  },
});
if (!argv.dir) {
  process.stderr.write('timplus-server: --dir DIR is required\n');
  process.exit(2);
}
const dir = resolve(argv.dir);
const min = Number(argv.bytes ?? argv['min-bytes'] ?? 262_144);
const max = Number(argv.bytes ?? argv['max-bytes'] ?? min);
const seed = Number(argv.seed);
const sandbox = await startTimplusSandbox({
  recordings: Number(argv.recordings),
  minBytes: min,
  maxBytes: max,
  seed,
  scheme: argv.scheme,
  fastContent: !argv['slow-content'],
});
// The request log would grow by two entries per recording for as long as the server runs: keep it empty.
const log = sandbox.log;
setInterval(() => {
  log.length = 0;
}, 1000).unref();

const list = join(dir, 'calls.csv');
const catalogue = join(dir, 'catalogue.json');
const rows = sandbox.catalogue.map(({ datasource, voicelocation, voicefilename, bytes }) => ({
  datasource,
  voicelocation,
  voicefilename,
  bytes,
}));
await writeFile(
  list,
  `datasource,voicelocation,voicefilename\n${rows.map((r) => `${r.datasource},${r.voicelocation},${r.voicefilename}`).join('\n')}\n`,
);
await writeFile(catalogue, JSON.stringify(rows));
const stop = async () => {
  await sandbox.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(
  `${JSON.stringify({
    url: sandbox.url,
    echoUrl: sandbox.echoUrl,
    username: sandbox.username,
    password: sandbox.password,
    scheme: argv.scheme,
    seed,
    fast: !argv['slow-content'],
    list,
    catalogue,
    recordings: rows.length,
    totalBytes: rows.reduce((n, r) => n + r.bytes, 0),
  })}\n`,
);
