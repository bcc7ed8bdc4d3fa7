/**
 * Dependencies loaded on first use: most runs never need csv-parse (a quoted CSV record), yauzl (a zip),
 * cli-progress (a terminal) or undici (a request), and loading each at start-up cost 10–65 ms. CommonJS
 * `require`, resolved from this package, so it works from src/ and dist/ alike.
 */
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/**
 * A getter for module `specifier` (typed `T` by the caller): the first call loads it, later calls return
 * the same module. Throws what `require` throws (a missing dependency: `MODULE_NOT_FOUND`).
 */
export function lazyRequire<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireHere(specifier) as T);
}
