/**
 * The vendor registry: one line per vendor. `src/cli` (subcommands, help), `src/config` (known sections),
 * `recpull sandbox`, `recpull demo` and the conformance suite read this list; a vendor's code is imported
 * only when its subcommand (or the sandbox) needs it, so `recpull --version` loads none of them.
 * How to add a vendor: src/vendors/README.md.
 */
import type { VendorDefinition } from './definition.js';

/** A registered vendor: its name (subcommand and config section), one line of help, and its definition. */
export interface VendorEntry {
  name: string;
  summary: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions differ in profile and flag types
  load(): Promise<VendorDefinition<any, any>>;
}

/** Every vendor recpull speaks, in the order `--help` lists them. */
export const VENDORS: readonly VendorEntry[] = [
  {
    name: 'timplus',
    summary: 'TIM Plus recordings (security token, then the Echo service)',
    load: async () => (await import('./timplus/definition.js')).default,
  },
  {
    name: 'ringcentral',
    summary: 'RingCentral call recordings, as fast as the Heavy rate limit allows',
    load: async () => (await import('./ringcentral/definition.js')).default,
  },
  {
    name: 'cc-gateway',
    summary: 'Huawei CC-Gateway recordings, through one signed-in agent set busy for the run',
    load: async () => (await import('./cc-gateway/definition.js')).default,
  },
  {
    name: 'cc-fs',
    summary: 'Huawei CC-FS recordings by file name, call id (zips: one folder per call) or bill file',
    load: async () => (await import('./cc-fs/definition.js')).default,
  },
  {
    name: 'noojee',
    summary: 'Noojee Recorder recordings (base64 in SOAP, hour listing, start/stop)',
    load: async () => (await import('./noojee/definition.js')).default,
  },
];

/** The registered vendor names (config sections, subcommands). */
export function vendorNames(registry: readonly VendorEntry[] = VENDORS): string[] {
  return registry.map((v) => v.name);
}
