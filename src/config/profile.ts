/**
 * Picking one `<vendor>.<profile>` section of a loaded config: `${ENV}` interpolation, validation,
 * `<key>File` secrets, permission warnings, secret registration; and its redacted rendering.
 */
import { stringify } from 'yaml';
import type { z } from 'zod';
import { RecpullError } from '../core/errors.js';
import { redact, redactDeep, registerSecret } from '../core/redact.js';
import type { LoadedConfig } from './load.js';
import { allowedKeys, describeIssue } from './schema.js';
import {
  checkCaFile,
  expandHome,
  hasEnvReference,
  interpolateDeep,
  literalSecretWarning,
  readSecretFile,
  resolveConfigPath,
} from './secrets.js';

/** What `resolveProfile` needs of a vendor (its registry definition has these). */
export interface ProfileSpec {
  /** The config section (the vendor's name). */
  name: string;
  profileSchema: z.ZodType<unknown>;
  secretKeys: readonly string[];
  optionalSecretKeys?: readonly string[];
}

/** One profile, validated and with its secrets resolved. `S` is the vendor's resolved profile type. */
export interface ResolvedProfile<S = Record<string, unknown>> {
  vendor: string;
  profile: string;
  /** The config file it came from. */
  filepath: string;
  settings: S;
  /** Human-readable warnings (secrets readable by others); the caller decides how to show them. */
  warnings: string[];
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(
        row[j]! + 1,
        row[j - 1]! + 1,
        prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function formatIssues(file: string, spec: ProfileSpec, profile: string, issues: z.core.$ZodIssue[]): string {
  const vendor = spec.name;
  const lines: string[] = [];
  for (const issue of issues) {
    const base = [vendor, profile, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(spec.profileSchema, issue.path);
      for (const key of issue.keys) {
        const near = allowed.find((k) => editDistance(k, key) <= 2);
        const hint = near ? `did you mean ${near}?` : `expected one of ${allowed.join(', ')}`;
        lines.push(`${base}.${key}: unknown key (${hint})`);
      }
    } else {
      lines.push(`${base}: ${describeIssue(issue)}`);
    }
  }
  return lines.length === 1
    ? `${file}: ${lines[0]}`
    : `${file}: invalid ${vendor}.${profile}:\n  ${lines.join('\n  ')}`;
}

/**
 * Validates and resolves `<vendor>.<profile>` of a loaded config.
 *
 * Order: `${ENV}` / `${ENV:-default}` interpolation of every string (from `process.env`); zod validation
 * (strict: unknown keys are errors; exactly one of `password`/`passwordFile`, `clientSecret`/
 * `clientSecretFile`, `jwt`/`jwtFile`); `<key>File` read into `<key>` (relative to the config file's
 * folder, `~` expanded, one trailing newline trimmed); `tls.caFile` made absolute the same way and checked
 * (readable, a PEM certificate), `out` gets
 * `~` expanded. Every resolved secret is passed to `registerSecret()`. ringcentral `server`/`mediaServer`
 * get their defaults.
 *
 * `warnings` holds one line when the config file holds a literal secret (neither `${ENV}` nor `*File`) and
 * is readable by group/others, and one per `*File` that is.
 *
 * @throws RecpullError `E_CONFIG`, naming the file: vendor section missing (says what to add, points at
 *   config.example.yaml); unknown profile (lists the existing ones); unset environment variable (key path +
 *   variable); validation failure (`timplus.default.url: expected an http(s) URL`, one line per problem);
 *   unreadable or empty secret file; unreadable `tls.caFile` or one without a certificate.
 */
export async function resolveProfile<S = Record<string, unknown>>(
  loaded: LoadedConfig,
  spec: ProfileSpec,
  profile: string,
): Promise<ResolvedProfile<S>> {
  const vendor = spec.name;
  const file = loaded.filepath;
  const root = isMapping(loaded.raw) ? loaded.raw : {};
  const section = root[vendor];
  if (!isMapping(section)) {
    throw new RecpullError(
      'E_CONFIG',
      `${file} has no "${vendor}" section; add "${vendor}:" with a "${profile}:" profile under it (see config.example.yaml)`,
    );
  }
  const rawProfile = Object.hasOwn(section, profile) ? section[profile] : undefined;
  if (rawProfile === undefined) {
    const names = Object.keys(section);
    throw new RecpullError(
      'E_CONFIG',
      `${file}: no profile "${profile}" under ${vendor}; profiles: ${names.length ? names.join(', ') : '(none)'}`,
    );
  }
  if (!isMapping(rawProfile)) {
    throw new RecpullError('E_CONFIG', `${file}: ${vendor}.${profile}: expected a mapping of settings`);
  }

  const secretKeys = [...spec.secretKeys, ...(spec.optionalSecretKeys ?? [])];
  const literal = secretKeys.filter(
    (k) => typeof rawProfile[k] === 'string' && !hasEnvReference(rawProfile[k]),
  );
  const interpolated = interpolateDeep(rawProfile, `${vendor}.${profile}`, file, process.env);

  const parsed = spec.profileSchema.safeParse(interpolated, { reportInput: true });
  if (!parsed.success) {
    throw new RecpullError('E_CONFIG', formatIssues(file, spec, profile, parsed.error.issues));
  }

  const warnings: string[] = [];
  const literalWarning = await literalSecretWarning(file, literal);
  if (literalWarning) warnings.push(literalWarning);

  const settings: Record<string, unknown> = { ...(parsed.data as Record<string, unknown>) };
  for (const key of secretKeys) {
    const fileKey = `${key}File`;
    const secretPath = settings[fileKey];
    if (typeof secretPath === 'string') {
      const read = await readSecretFile(secretPath, `${vendor}.${profile}.${fileKey}`, file);
      settings[key] = read.value;
      if (read.warning) warnings.push(read.warning);
    }
    delete settings[fileKey];
    if (typeof settings[key] === 'string') registerSecret(settings[key]);
  }
  if (typeof settings.out === 'string') settings.out = expandHome(settings.out);
  const tls = settings.tls as { caFile?: string } | undefined;
  if (tls?.caFile !== undefined) {
    const caFile = resolveConfigPath(tls.caFile, file);
    await checkCaFile(caFile, `${vendor}.${profile}.tls.caFile`, file);
    settings.tls = { ...tls, caFile };
  }

  return { vendor, profile, filepath: file, settings: settings as S, warnings };
}

/**
 * The resolved profile as YAML (`<vendor>: { <profile>: settings }` under a `# file` comment), every secret
 * `***`: for `recpull config check`. Safe to print.
 */
export function describeProfile(resolved: ResolvedProfile<unknown>): string {
  const body = stringify({ [resolved.vendor]: { [resolved.profile]: redactDeep(resolved.settings) } });
  return redact(`# ${resolved.filepath}\n${body}`);
}
