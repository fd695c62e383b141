/**
 * How one option value is checked: its type, its range, what `undefined`
 * (and, where ws reads it so, `null`) means. Every option of every class is
 * read through one of these, in the file of the class that owns it
 * (connection.ts, server.ts, client.ts, compression/settings.ts), so each
 * option is checked in exactly one place. A wrong type throws a TypeError
 * and an out-of-range number a RangeError naming the option, so a careless
 * value fails at construction instead of turning into a NaN allocation or
 * a 1 ms timer on a live connection.
 */

export type Options = Record<string, unknown>;

/** A value's kind, for error messages: 'null' rather than typeof's 'object'. */
export function describe(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

/** A boolean option; undefined gives the default. */
export function booleanOption(options: Options, name: string, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`The "${name}" option must be a boolean, not ${describe(value)}`);
  return value;
}

/** A function option; undefined (or null, as ws's defaults are) gives undefined. */
export function functionOption<T extends (...args: never[]) => unknown>(options: Options, name: string): T | undefined {
  const value = options[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'function') throw new TypeError(`The "${name}" option must be a function, not ${describe(value)}`);
  return value as T;
}

/** A string option; undefined or null gives undefined. */
export function stringOption(options: Options, name: string): string | undefined {
  const value = options[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new TypeError(`The "${name}" option must be a string, not ${describe(value)}`);
  return value;
}

export interface NumberRange {
  /** Smallest accepted value. */
  min: number;
  /** Largest accepted value; default no bound. */
  max?: number;
  integer?: boolean;
  /** 0 means "no limit" and resolves to this value instead. */
  zeroMeans?: number;
}

/** A number option, checked against `range`; undefined gives the default. */
export function numberOption(options: Options, name: string, fallback: number, range: NumberRange): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`The "${name}" option must be a number, not ${describe(value)}`);
  }
  if (range.integer !== false && !Number.isInteger(value)) throw new RangeError(`The "${name}" option must be an integer`);
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (value < range.min || value > max) {
    throw new RangeError(`The "${name}" option must be from ${range.min} to ${max}, not ${value}`);
  }
  if (value === 0 && range.zeroMeans !== undefined) return range.zeroMeans;
  return value;
}

/** A limit on messages, in bytes or counts: 0 means no limit (`unlimited`), as in ws. */
export function limitOption(options: Options, name: string, fallback: number, unlimited: number): number {
  return numberOption(options, name, fallback, { min: 0, max: unlimited, zeroMeans: unlimited });
}

/** Longest timer Node keeps: longer values fire at once. */
export const MAX_TIMER = 2 ** 31 - 1;

/** A timeout in milliseconds: at least 1, at most what setTimeout can wait. */
export function millisecondsOption(options: Options, name: string, fallback: number): number {
  return numberOption(options, name, fallback, { min: 1, max: MAX_TIMER });
}
