/**
 * commander, as recpull uses it; bundled into one file by `npm run build` like `zod.ts` (7 files: 31 ms
 * to load, 21 ms bundled, most of the rest being node:child_process, which commander loads). Import
 * commander's runtime from here only.
 */
export { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
