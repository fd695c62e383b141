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

/**
 * A boolean option; undefined gives the default. 0 and 1 are taken too (a
 * value parsed from an environment variable, say), as ws's truthiness takes
 * them; anything else throws: ws would read the string 'false' as true,
 * which for `skipUTF8Validation` would turn a safety check off.
 */
export function booleanOption(options: Options, name: string, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (value === 0 || value === 1) return value === 1;
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
  /** Largest value; a larger one is clamped to it (what the implementation can hold), unless `strict`. */
  max?: number;
  /** Past `max` is an error (a port), not clamped. */
  strict?: boolean;
  /** 0 means "no limit" and resolves to this value instead. */
  zeroMeans?: number;
}

/**
 * A number option, checked against `range`; undefined gives the default.
 * As tolerant as ws, which reads these with `| 0` or hands them to
 * setTimeout: a fraction is truncated, a numeric string is its number, and
 * a value past what netws can hold is clamped (`maxPayload: 1e10`, common
 * in Socket.IO deployments, is the largest message a Buffer can hold).
 * What ws reads as "no limit" by accident (a negative number, NaN, null)
 * throws instead: a limit must not vanish because a config value was
 * missing or mistyped.
 */
export function numberOption(options: Options, name: string, fallback: number, range: NumberRange): number {
  const given = options[name];
  if (given === undefined) return fallback;
  const value = typeof given === 'string' && given.trim() !== '' && Number.isFinite(Number(given)) ? Number(given) : given;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`The "${name}" option must be a number, not ${describe(value)}`);
  }
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (value < range.min || (range.strict === true && value > max)) {
    throw new RangeError(`The "${name}" option must be from ${range.min} to ${max}, not ${value}`);
  }
  const number = Math.min(Math.trunc(value), max);
  if (number === 0 && range.zeroMeans !== undefined) return range.zeroMeans;
  return number;
}

/** A limit on messages, in bytes or counts: 0 means no limit (`unlimited`), as in ws. */
export function limitOption(options: Options, name: string, fallback: number, unlimited: number): number {
  return numberOption(options, name, fallback, { min: 0, max: unlimited, zeroMeans: unlimited });
}

/** Longest timer Node keeps: longer values fire at once. */
export const MAX_TIMER = 2 ** 31 - 1;

/** A timeout in milliseconds: at least 1; longer than setTimeout can wait is the longest it can (it would fire at once). */
export function millisecondsOption(options: Options, name: string, fallback: number): number {
  return numberOption(options, name, fallback, { min: 1, max: MAX_TIMER });
}
