/**
 * The `yaml` package, as recpull uses it; bundled into one file by `npm run build` like `zod.ts` (72
 * files: 40 ms to load, 9 ms bundled). Import yaml's runtime from here only.
 */
export { type Document, isScalar, LineCounter, parseDocument, stringify, visit } from 'yaml';
