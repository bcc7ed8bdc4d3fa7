/**
 * The config file's shape (zod, strict objects: an unknown key is an error) and the typed profile
 * settings the rest of recpull receives once secrets are resolved.
 *
 * Layout of a config file: `<vendor>: { <profile>: {...} }` plus an optional `$schema` string.
 */
import { z } from 'zod';
import { isTimeZone } from '../core/dates.js';

/** Vendors that have a config section. */
export const VENDORS = ['timplus', 'ringcentral'] as const;
/** A vendor that has a config section. */
export type VendorName = (typeof VENDORS)[number];

/** Keys every profile of every vendor may set. Units are noted per key; every key is optional. */
export interface CommonProfile {
  /** Output folder (`~` expanded; a relative path is relative to the working directory). */
  out?: string;
  /** Downloads in flight at once, 1..64. */
  concurrency?: number;
  /** Output path template (see src/core/template.ts). */
  template?: string;
  /** Retries per item after the first attempt, 0..20. */
  retries?: number;
  /** Request / body-progress timeout in seconds (> 0). */
  timeout?: number;
}

/** TLS options of a vendor connection. */
export interface TlsSettings {
  /** Absolute path of a PEM file with extra CA certificates (resolved against the config file's folder). */
  caFile?: string;
  /** Skip certificate verification. Dangerous; for lab systems only. */
  insecure?: boolean;
}

/** A resolved `timplus.<profile>` section. */
export interface TimplusProfile extends CommonProfile {
  /** Base URL of the TIM Plus web server, http(s), no credentials in it (e.g. `http://tim.example.com`). */
  url: string;
  username: string;
  /** The password, from `password` (after `${ENV}` interpolation) or read from `passwordFile`. */
  password: string;
  /** `User-Agent` header to send instead of recpull's own. */
  userAgent?: string;
  tls?: TlsSettings;
}

/** A resolved `ringcentral.<profile>` section. */
export interface RingcentralProfile extends CommonProfile {
  /** Platform API base URL. Default `https://platform.ringcentral.com`. */
  server: string;
  /** Media (recording content) base URL. Default `https://media.ringcentral.com`. */
  mediaServer: string;
  clientId: string;
  /** From `clientSecret` or `clientSecretFile`. */
  clientSecret: string;
  /** JWT credential, from `jwt` or `jwtFile`. */
  jwt: string;
  /** Extension id to read (default: the whole account / the JWT's own extension, decided by the vendor). */
  extension?: string;
  /** IANA time zone for date ranges and templates (e.g. `Europe/Paris`). */
  tz?: string;
  rateLimit?: {
    /** The `Heavy` API group: at most `limit` requests per `windowSeconds` seconds. */
    heavy?: { limit: number; windowSeconds: number };
  };
  tls?: TlsSettings;
}

/** Settings type per vendor. */
export interface ProfileSettings {
  timplus: TimplusProfile;
  ringcentral: RingcentralProfile;
}

/** Secret keys per vendor, each with its `<key>File` alternative. */
export const SECRET_KEYS: { readonly [V in VendorName]: readonly string[] } = {
  timplus: ['password'],
  ringcentral: ['clientSecret', 'jwt'],
};

const httpUrl = z
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

const nonEmpty = z.string().min(1, { message: 'must not be empty' });

const tls = z.strictObject({
  caFile: nonEmpty.optional(),
  insecure: z.boolean().optional(),
});

const common = {
  out: nonEmpty.optional(),
  concurrency: z.int().min(1).max(64).optional(),
  template: nonEmpty.optional(),
  retries: z.int().min(0).max(20).optional(),
  timeout: z.number().positive().optional(),
};

/** Adds "exactly one of `key` / `keyFile`" checks to a profile schema. */
function exactlyOne(keys: readonly string[]) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    for (const key of keys) {
      const has = value[key] !== undefined;
      const hasFile = value[`${key}File`] !== undefined;
      if (has && hasFile) {
        ctx.addIssue({ code: 'custom', path: [key], message: `set either ${key} or ${key}File, not both` });
      } else if (!has && !hasFile) {
        ctx.addIssue({ code: 'custom', path: [key], message: `missing: set ${key} or ${key}File` });
      }
    }
  };
}

/** A `timplus.<profile>` section as written (after `${ENV}` interpolation, before `*File` reading). */
export const timplusSection = z
  .strictObject({
    url: httpUrl,
    username: nonEmpty,
    password: nonEmpty.optional(),
    passwordFile: nonEmpty.optional(),
    userAgent: nonEmpty.optional(),
    tls: tls.optional(),
    ...common,
  })
  .superRefine(exactlyOne(SECRET_KEYS.timplus));

/** A `ringcentral.<profile>` section as written (after `${ENV}` interpolation, before `*File` reading). */
export const ringcentralSection = z
  .strictObject({
    server: httpUrl.default('https://platform.ringcentral.com'),
    mediaServer: httpUrl.default('https://media.ringcentral.com'),
    clientId: nonEmpty,
    clientSecret: nonEmpty.optional(),
    clientSecretFile: nonEmpty.optional(),
    jwt: nonEmpty.optional(),
    jwtFile: nonEmpty.optional(),
    extension: z.union([nonEmpty, z.int().nonnegative().transform(String)]).optional(),
    tz: z
      .string()
      .refine(isTimeZone, { message: 'expected an IANA time zone (e.g. Europe/Paris)' })
      .optional(),
    rateLimit: z
      .strictObject({
        heavy: z
          .strictObject({
            limit: z.int().positive(),
            windowSeconds: z.number().positive(),
          })
          .optional(),
      })
      .optional(),
    tls: tls.optional(),
    ...common,
  })
  .superRefine(exactlyOne(SECRET_KEYS.ringcentral));

/** Section schema per vendor. */
export const SECTION_SCHEMAS = {
  timplus: timplusSection,
  ringcentral: ringcentralSection,
} as const;

/** Section as validated, per vendor (secret keys still optional, `*File` keys still present). */
export type ParsedSection = { [V in VendorName]: z.output<(typeof SECTION_SCHEMAS)[V]> };

/** Allowed keys of each object in the schema, by path without the vendor/profile prefix ('' = profile). */
export function allowedKeys(vendor: VendorName, path: readonly PropertyKey[]): string[] {
  let schema: unknown = SECTION_SCHEMAS[vendor];
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
