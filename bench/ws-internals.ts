/**
 * ws's internal Receiver, Sender and mask helpers, reached by file path: ws's
 * package "exports" hides lib/, and the benchmark compares against exactly
 * the code a ws server runs.
 */

import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const wsDir = path.dirname(require.resolve('ws'));
const wsLib = (file: string): string => path.join(wsDir, 'lib', file);

export interface WsReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  write(chunk: Buffer): boolean;
}
export interface WsReceiverConstructor {
  new (options: { isServer: boolean; maxPayload: number; binaryType?: string }): WsReceiver;
}
export interface WsFrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}
export interface WsSenderConstructor {
  frame(data: Buffer, options: WsFrameOptions): Buffer[];
}
export interface MaskModule {
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
  unmask(buffer: Buffer, mask: Buffer): void;
}

export const Receiver = require(wsLib('receiver.js')) as WsReceiverConstructor;
export const Sender = require(wsLib('sender.js')) as WsSenderConstructor;
export const wsIsValidUtf8 = (require(wsLib('validation.js')) as { isValidUTF8(buf: Buffer): boolean }).isValidUTF8;

/** The addon itself (ws calls it for buffers of 32 bytes and more). */
export const bufferutil = require('bufferutil') as MaskModule;

/**
 * ws's pure-JS mask fallback, loaded as a second copy of lib/buffer-util.js
 * with WS_NO_BUFFER_UTIL set, so the copy this process already holds (which
 * uses bufferutil) is left as it is.
 */
export function loadWsJsMask(): MaskModule {
  const file = wsLib('buffer-util.js');
  const cached = require.cache[file];
  delete require.cache[file];
  const saved = process.env.WS_NO_BUFFER_UTIL;
  process.env.WS_NO_BUFFER_UTIL = '1';
  try {
    return require(file) as MaskModule;
  } finally {
    if (saved === undefined) delete process.env.WS_NO_BUFFER_UTIL;
    else process.env.WS_NO_BUFFER_UTIL = saved;
    if (cached) require.cache[file] = cached;
    else delete require.cache[file];
  }
}
