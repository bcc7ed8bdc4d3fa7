/** Flag checks shared by the vendors' `build` functions. */
import { InvalidArgumentError } from 'commander';
import { RecpullError } from '../core/errors.js';

/**
 * Throws `E_USAGE` unless exactly one way of choosing recordings was given: `choices` maps each way's flag
 * names (`'--input'`, `'--session-id'`) to whether it was given.
 */
export function requireOneSelection(choices: Record<string, boolean>): void {
  const given = Object.entries(choices).filter(([, v]) => v);
  if (given.length === 1) return;
  const names = Object.keys(choices).join(', or ');
  throw new RecpullError(
    'E_USAGE',
    given.length === 0
      ? `say what to fetch: ${names}`
      : `choose one of ${given.map(([k]) => k).join(' and ')}`,
  );
}

/** Parses a whole number within [min, max] for commander; throws InvalidArgumentError. */
export function intIn(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim()))
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/** `300`, `300s`, `5m`, `1h`, `1500ms` → ms (a bare number is seconds); throws InvalidArgumentError. */
export function parseDuration(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError('expected a duration such as 300, 90s, 5m or 1h');
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(Number(m[1]) * factor);
}

/** `parseDuration`, refusing 0 (an attempt with no time at all); throws InvalidArgumentError. */
export function positiveDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms <= 0) throw new InvalidArgumentError('expected a duration above 0, such as 90s or 10m');
  return ms;
}

/**
 * A value that may not be the empty string (`-o ''` meant the current folder, `--template ''` the default
 * template); throws InvalidArgumentError.
 */
export function nonEmpty(what: string) {
  return (value: string): string => {
    if (value === '') throw new InvalidArgumentError(`expected ${what}, not an empty string`);
    return value;
  };
}

/** `2G`, `500M`, `64K`, `1048576` (bytes; binary units) → bytes; throws InvalidArgumentError. */
export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError('expected a size such as 2G, 500M or 1048576');
  const unit = (m[2] ?? 'B').toUpperCase()[0] as string;
  const factor = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit] ?? 1;
  const n = Math.round(Number(m[1]) * factor);
  if (n < 1) throw new InvalidArgumentError('expected a size of at least 1 byte');
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a size below 8 PiB');
  return n;
}

/** A number of minutes (>= 0, fractions allowed) for commander; throws InvalidArgumentError. */
export function minutes(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of minutes (>= 0)');
  return n;
}
