/**
 * A reference peer for bench (a)/(b): the least a Node.js client can do for the same job, with the per-file
 * guarantees recpull keeps and nothing else. For each row of the emulator's catalogue, at most `-j` at a
 * time: the TIM Plus token request (Basic, sent pre-emptively), then the audio from the token URL, held in
 * memory (the body's own chunks), hashed with sha256, written to `<voicefilename>.wav.part` with one
 * `writev`, fsynced, closed and renamed to `<voicefilename>.wav`. No manifest, index, journal, audio
 * validation, path claims, retries, events or folder fsync: it answers "how close to curl can Node get on
 * this machine", which recpull's ratio should be read against.
 *
 *   node test/bench/node-floor.mjs --http undici|node --url URL --catalogue FILE --out DIR -j N
 *        (user and password in TP_USER / TP_PASS)
 *
 * `--http undici` uses undici's `Pool.dispatch` (the library recpull uses, through its lowest-cost API: no
 * Readable body); `--http node` uses `node:http` with a keep-alive Agent of N sockets per origin.
 * Exits 1 with a message on any non-200 answer or error.
 */
import { createHash } from 'node:crypto';
import { close, fsync, open, readFileSync, rename, writev } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { Pool } from 'undici';

const { values: argv } = parseArgs({
  options: {
    http: { type: 'string', default: 'undici' },
    url: { type: 'string' },
    catalogue: { type: 'string' },
    out: { type: 'string' },
    concurrency: { type: 'string', short: 'j', default: '16' },
  },
});
const j = Number(argv.concurrency);
const rows = JSON.parse(readFileSync(argv.catalogue, 'utf8'));
const authorization = `Basic ${Buffer.from(`${process.env.TP_USER}:${process.env.TP_PASS}`).toString('base64')}`;
const [openA, writevA, fsyncA, closeA, renameA] = [open, writev, fsync, close, rename].map((f) =>
  promisify(f),
);

/** GET `url` (a URL object); resolves with the status and the body's chunks. */
let get;
/** Closes the connections. */
let shutdown;
if (argv.http === 'node') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: j });
  get = (url, headers = {}) =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent, headers }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, chunks }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  shutdown = async () => agent.destroy();
} else if (argv.http === 'undici') {
  const pools = new Map();
  const poolOf = (origin) => {
    let p = pools.get(origin);
    if (!p) pools.set(origin, (p = new Pool(origin, { connections: j })));
    return p;
  };
  get = (url, headers = {}) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      let status = 0;
      poolOf(url.origin).dispatch(
        { method: 'GET', path: `${url.pathname}${url.search}`, headers },
        {
          onRequestStart() {},
          onResponseStart(_c, statusCode) {
            status = statusCode;
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            resolve({ status, chunks });
          },
          onResponseError(_c, err) {
            reject(err);
          },
        },
      );
    });
  shutdown = () => Promise.all([...pools.values()].map((p) => p.close()));
} else {
  throw new Error(`--http: undici or node, not ${argv.http}`);
}

async function one(row) {
  const token = new URL('/voice.wav', argv.url);
  token.search = new URLSearchParams({
    cmd: 'getvmsg',
    datasource: row.datasource,
    recordingid: row.voicefilename,
    voicelocation: row.voicelocation,
  }).toString();
  const t = await get(token, { authorization });
  if (t.status !== 200) throw new Error(`token request for ${row.voicefilename}: HTTP ${t.status}`);
  const a = await get(new URL(Buffer.concat(t.chunks).toString('utf8').trim(), argv.url));
  if (a.status !== 200) throw new Error(`audio of ${row.voicefilename}: HTTP ${a.status}`);
  const hash = createHash('sha256');
  for (const c of a.chunks) hash.update(c);
  hash.digest('hex');
  const file = join(argv.out, `${row.voicefilename}.wav`);
  const fd = await openA(`${file}.part`, 'w');
  await writevA(fd, a.chunks);
  await fsyncA(fd);
  await closeA(fd);
  await renameA(`${file}.part`, file);
}

let next = 0;
async function worker() {
  while (next < rows.length) await one(rows[next++]);
}
try {
  await Promise.all(Array.from({ length: j }, worker));
  await shutdown();
} catch (err) {
  process.stderr.write(`node-floor: ${err.message}\n`);
  process.exit(1);
}
