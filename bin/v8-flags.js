// The V8 flags bin/recpull.js sets before anything loads (why each: see its comment). A module of its own
// so that a benchmark running recpull's code without the launcher (test/bench/noojee-memory.mjs) runs it
// under the same flags as the command does.
export const V8_FLAGS =
  '--semi-space-growth-factor=1 --no-wasm-tier-up --no-wasm-dynamic-tiering --expose-gc';
