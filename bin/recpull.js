#!/usr/bin/env node
// recpull launcher: check the Node version first (no static imports, so an old Node gets our message,
// not a syntax error), then load the built CLI.
const need = [22, 19];
const have = process.versions.node.split('.').map(Number);
if (have[0] < need[0] || (have[0] === need[0] && have[1] < need[1])) {
  process.stderr.write(
    `recpull needs Node.js ${need.join('.')} or newer; this is ${process.versions.node}.\n` +
      'Install a current Node.js (https://nodejs.org, or with a version manager: nvm install 24) and try again.\n',
  );
  process.exit(2);
}
// Downloads stream through many short-lived socket buffers. Keeping V8's young generation at its start
// size (--semi-space-growth-factor=1: it does not grow) keeps them out of full collections: measured on one
// 256 MiB recording, 12 full GCs and 181 MB peak became 1 and 115 MB, with a third less CPU. undici's HTTP parser is WebAssembly (llhttp): V8 compiles it with its
// baseline compiler and then again with its optimising one on background threads, which cost about 10 MB
// resident for a parser that only reads headers (one 1 GiB recording: 117.5 -> 107.4 MB peak, 3
// alternated runs; 2000 x 256 KiB at -j16: the same throughput). The flags must be set before anything
// is loaded (bin/v8-flags.js holds them); Node 22 and 24 know them.
// --expose-gc lets the sink ask for a young-generation collection every 4 MiB a download writes, which
// frees the socket's read buffers sooner (one 1 GiB recording: 108 -> 97 MB peak; src/core/young-gc.ts).
// Node's compile cache keeps V8's compiled code of recpull and its modules between runs: measured 0.42 s
// -> 0.37 s for a run that only starts and stops. It is kept in this account's private cache folder
// (bin/compile-cache.js says where and why not in the shared temp folder), or in NODE_COMPILE_CACHE when
// that names one; NODE_DISABLE_COMPILE_CACHE=1 turns it off. A cache that cannot be used is skipped, silently.
// The CLI is loaded from dist/bundle/ (npm run build: tsc, then rolldown), a few chunks holding recpull and
// its eagerly loaded dependencies, not the ~290 files of dist/ and node_modules: a one-row re-run went from
// 0.36 s and 78 MB to 0.20 s and 67 MB (4 alternated pairs).
Promise.all([import('node:v8'), import('./v8-flags.js')])
  .then(([v8, { V8_FLAGS }]) => v8.setFlagsFromString(V8_FLAGS))
  .catch(() => {})
  .then(() => Promise.all([import('node:module'), import('./compile-cache.js')]))
  .then(([m, { compileCacheDir }]) => {
    if (!m.enableCompileCache) return;
    if (process.env.NODE_COMPILE_CACHE)
      m.enableCompileCache(); // the folder the user named
    else {
      const dir = compileCacheDir();
      if (dir) m.enableCompileCache(dir);
    }
  })
  .catch(() => {})
  .then(() => import('../dist/bundle/main.js'))
  .then(
    (m) => m.main(process.argv),
    (err) => {
      if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
        process.stderr.write(
          `recpull is not built: run \`npm run build\` (npm ci does it) in ${new URL('..', import.meta.url).pathname}\n`,
        );
        process.exit(2);
      }
      throw err;
    },
  );
