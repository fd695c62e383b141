/**
 * The `perMessageDeflate` option of a server or a client: its one check
 * (every field, once, when the server or client is made) and what it
 * resolves to, the configuration its connections share. What a connection
 * negotiates from it is src/protocol/permessage-deflate.ts's business.
 */

import zlib from 'node:zlib';
import type { DeflateParams, PerMessageDeflateOptions } from '../protocol/permessage-deflate.ts';
import { describe } from '../options/values.ts';
import { defaultZlibPool, ZlibPool } from './pool.ts';

export const DEFAULT_THRESHOLD = 1024;
export const DEFAULT_LEVEL = 6;
export const DEFAULT_MEM_LEVEL = 8;

/**
 * A server's or client's permessage-deflate configuration, resolved once:
 * what to negotiate, the zlib settings and the pool its connections share.
 */
export interface DeflateConfig {
  /** The user's options, for negotiation. */
  negotiation: PerMessageDeflateOptions;
  /** Messages smaller than this are sent uncompressed when our side keeps no context (as ws does). */
  threshold: number;
  /** Options for our deflate streams (`zlibDeflateOptions`, `level`, `memLevel`); windowBits is negotiated. */
  deflateOptions: zlib.ZlibOptions;
  /** Options for our inflate streams (`zlibInflateOptions`). */
  inflateOptions: zlib.ZlibOptions;
  pool: ZlibPool;
}

/** permessage-deflate as negotiated for one connection. */
export interface DeflateSettings {
  params: DeflateParams;
  config: DeflateConfig;
}

function windowBitsField(value: unknown, name: string): void {
  if (value === undefined || typeof value === 'boolean') return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 8 || value > 15) {
    throw new RangeError(`perMessageDeflate.${name} must be an integer from 8 to 15 or a boolean`);
  }
}

function booleanField(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`perMessageDeflate.${name} must be a boolean`);
}

function integerField(value: unknown, name: string, min: number, max: number, expected: string): void {
  if (value !== undefined && !(Number.isInteger(value) && (value as number) >= min && (value as number) <= max)) {
    throw new RangeError(`perMessageDeflate.${name} must be ${expected}`);
  }
}

/** zlib options a user may pass on (`zlibDeflateOptions`, `zlibInflateOptions`); windowBits is negotiated. */
function zlibOptions(value: unknown, name: string): zlib.ZlibOptions {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw new TypeError(`perMessageDeflate.${name} must be an object`);
  const { windowBits: _negotiated, ...rest } = value as zlib.ZlibOptions;
  return rest;
}

/**
 * The `perMessageDeflate` option, checked: null when off, else the
 * configuration (`true` means all defaults). A wrong type throws a
 * TypeError, an out-of-range value a RangeError naming the field. `ownPool`
 * gives a server its own zlib pool; clients share the default one unless
 * they set a concurrency of their own.
 */
export function resolveDeflateConfig(value: unknown, ownPool: boolean): DeflateConfig | null {
  if (value === false) return null;
  if (value !== true && (typeof value !== 'object' || value === null)) {
    throw new TypeError(`The "perMessageDeflate" option must be a boolean or an object, not ${describe(value)}`);
  }
  const options = (value === true ? {} : value) as PerMessageDeflateOptions;
  windowBitsField(options.serverMaxWindowBits, 'serverMaxWindowBits');
  windowBitsField(options.clientMaxWindowBits, 'clientMaxWindowBits');
  booleanField(options.serverNoContextTakeover, 'serverNoContextTakeover');
  booleanField(options.clientNoContextTakeover, 'clientNoContextTakeover');
  const { threshold, level, memLevel } = options;
  if (threshold !== undefined && !(typeof threshold === 'number' && threshold >= 0)) {
    throw new RangeError('perMessageDeflate.threshold must be a number >= 0');
  }
  integerField(level, 'level', 0, 9, 'an integer from 0 to 9');
  integerField(memLevel, 'memLevel', 1, 9, 'an integer from 1 to 9');
  integerField(options.concurrency, 'concurrency', 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
  integerField(options.concurrencyLimit, 'concurrencyLimit', 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
  const deflateOptions = zlibOptions(options.zlibDeflateOptions, 'zlibDeflateOptions');
  if (level !== undefined) deflateOptions.level = level;
  if (memLevel !== undefined) deflateOptions.memLevel = memLevel;
  deflateOptions.level ??= DEFAULT_LEVEL;
  deflateOptions.memLevel ??= DEFAULT_MEM_LEVEL;
  const inflateOptions = zlibOptions(options.zlibInflateOptions, 'zlibInflateOptions');
  // zlib checks its options when a stream is made: make one of each now, so a
  // bad value throws here rather than from inside a send on a live connection.
  if (options.zlibDeflateOptions != null) zlib.createDeflateRaw({ ...deflateOptions, windowBits: 15 }).close();
  if (options.zlibInflateOptions != null) zlib.createInflateRaw({ ...inflateOptions, windowBits: 15 }).close();
  const concurrency = options.concurrencyLimit ?? options.concurrency;
  return {
    negotiation: options,
    threshold: threshold ?? DEFAULT_THRESHOLD,
    deflateOptions,
    inflateOptions,
    pool: ownPool || concurrency !== undefined ? new ZlibPool(concurrency) : defaultZlibPool,
  };
}
