/**
 * The config file's shape (zod, strict objects: an unknown key is an error) and the typed profile
 * settings the rest of recpull receives once secrets are resolved.
 *
 * Layout of a config file: `<vendor>: { <profile>: {...} }` plus an optional `$schema` string.
 */
import { z } from 'zod';
import { isTimeZone } from '../core/dates.js';

/** A vendor section name. */
export type VendorName = string;

/** Keys every profile of every vendor may set. */
export type { CommonProfile } from '../vendors/definition.js';

/** TLS options of a vendor connection. */
export interface TlsSettings {
  /** Absolute path of a PEM file with extra CA certificates (resolved against the config file's folder). */
  caFile?: string;
  /** Skip certificate verification. Dangerous; for lab systems only. */
  insecure?: boolean;
}

/** An http(s) URL without credentials in it. */
export const httpUrl = z
  .string()
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
      } catch {
        return false;
      }
    },
    { message: 'expected an http(s) URL' },
  )
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return u.username === '' && u.password === '';
      } catch {
        return true;
      }
    },
    { message: 'must not contain credentials (use the username/password keys)' },
  );

/** A non-empty string. */
export const nonEmpty = z.string().min(1, { message: 'must not be empty' });

/** `tls: {caFile, insecure}`. */
export const tls = z.strictObject({
  caFile: nonEmpty.optional(),
  insecure: z.boolean().optional(),
});

/** The keys every profile may set (see `CommonProfile`), `tls` included. */
export const commonKeys = {
  out: nonEmpty.optional(),
  concurrency: z.int().min(1).max(64).optional(),
  template: nonEmpty.optional(),
  retries: z.int().min(0).max(20).optional(),
  retryBase: z.number().positive().max(600).optional(),
  timeout: z.number().positive().optional(),
  userAgent: nonEmpty.optional(),
  tls: tls.optional(),
};

/** An IANA time zone name (`tz` keys). */
export const timeZone = z
  .string()
  .refine(isTimeZone, { message: 'expected an IANA time zone (e.g. Europe/Paris)' });

/** `{limit, windowSeconds}`: at most `limit` requests per `windowSeconds` seconds (a rate-limit group's cap). */
export const rateCap = z.strictObject({ limit: z.int().positive(), windowSeconds: z.number().positive() });

/** Adds "exactly one of `key` / `keyFile`" checks (at most one for `optional` keys) to a profile schema. */
function exactlyOne(keys: readonly string[], optional: readonly string[] = []) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    for (const key of [...keys, ...optional]) {
      const has = value[key] !== undefined;
      const hasFile = value[`${key}File`] !== undefined;
      if (has && hasFile) {
        ctx.addIssue({ code: 'custom', path: [key], message: `set either ${key} or ${key}File, not both` });
      } else if (!has && !hasFile && !optional.includes(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `missing: set ${key} or ${key}File` });
      }
    }
  };
}

/**
 * A vendor's profile schema: its own keys plus `commonKeys`, strict (an unknown key is an error), with
 * "exactly one of `<secret>` / `<secret>File`" for each of `secretKeys` and "at most one" for each of
 * `optionalSecretKeys`. Secrets are strings; `<secret>File` names a file holding one.
 */
export function profileSchema<T extends z.core.$ZodLooseShape>(
  shape: T,
  secretKeys: readonly string[],
  optionalSecretKeys: readonly string[] = [],
) {
  const withFiles: Record<string, z.ZodType> = {};
  for (const key of [...secretKeys, ...optionalSecretKeys]) {
    withFiles[key] = nonEmpty.optional();
    withFiles[`${key}File`] = nonEmpty.optional();
  }
  return z
    .strictObject({ ...shape, ...withFiles, ...commonKeys })
    .superRefine(exactlyOne(secretKeys, optionalSecretKeys));
}

/** Allowed keys of each object in the schema, by path without the vendor/profile prefix ('' = profile). */
export function allowedKeys(profileSchema: unknown, path: readonly PropertyKey[]): string[] {
  let schema: unknown = profileSchema;
  for (const seg of path) {
    schema = unwrap(schema);
    const shape = (schema as { shape?: Record<string, unknown> }).shape;
    if (!shape || typeof seg !== 'string') return [];
    schema = shape[seg];
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { unwrap?: () => unknown; def?: { innerType?: unknown; in?: unknown } } | undefined;
  for (let i = 0; i < 8 && s; i++) {
    if (typeof s.unwrap === 'function') s = s.unwrap() as typeof s;
    else if (s.def?.innerType) s = s.def.innerType as typeof s;
    else if (s.def?.in) s = s.def.in as typeof s;
    else break;
  }
  return s;
}

/** Human wording of one zod issue: what was expected at that key. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return 'unknown key';
    case 'invalid_type':
      if (issue.input === undefined) return `missing (expected ${article(issue.expected)})`;
      return `expected ${article(issue.expected)}`;
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      return `expected a number ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return `expected a number ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_union':
      return 'expected a string';
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  switch (expected) {
    case 'int':
      return 'integer';
    case 'object':
      return 'mapping';
    case 'array':
      return 'list';
    default:
      return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}
