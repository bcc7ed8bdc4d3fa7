/**
 * recpull's config: find and parse the file (`loadConfig`), validate one `<vendor>.<profile>` and resolve
 * its secrets (`resolveProfile`), render it safely (`describeProfile`). Every failure is
 * `RecpullError('E_CONFIG')` with the file named in the message.
 */
export { type LoadedConfig, loadConfig, SEARCH_PLACES, xdgConfigFile } from './load.js';
export { describeProfile, type ProfileSpec, type ResolvedProfile, resolveProfile } from './profile.js';
export type { CommonProfile, TlsSettings, VendorName } from './schema.js';
