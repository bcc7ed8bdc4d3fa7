/**
 * zod, as recpull uses it. `npm run build` replaces this module's output (`dist/deps/zod.js`) with one
 * file bundling zod (rolldown): zod's ESM build is 95 files, and loading them took 83 ms of every run's
 * start against 32 ms for the bundle (Node 24, compile cache warm). Under vitest, and when the bundle
 * step is skipped, this is a plain re-export. Import zod's runtime from here only, never from 'zod', so
 * one copy of it is loaded.
 */
export { z } from 'zod';
