/**
 * ws's `Receiver`, over the protocol core: a Writable that takes the bytes a
 * peer sent on one connection and emits what they carry. For code written
 * against ws's parts (a test that feeds frames by hand, a proxy that reads a
 * stream of frames); a netws connection does not use it.
 *
 * Events, as ws names them: 'message' (data, isBinary), 'ping' (data),
 * 'pong' (data), 'conclude' (code, reason) for the peer's close frame (1005
 * and an empty reason for one without a code; the Writable then ends, so
 * a later write fails), and 'error' for a protocol violation, a RangeError or Error with ws's message, `code`
 * (WS_ERR_...) and the close code to send; the Writable ends there.
 * Nothing is written back: answering pings and close frames is the
 * caller's, as with ws's Receiver.
 */

import { Writable } from 'node:stream';
import { binaryMessageData, type BinaryType } from '../connection/data.ts';
import type { ProtocolError } from '../protocol/errors.ts';
import { Protocol, type ProtocolHandler } from '../protocol/protocol.ts';
import { noExtension } from './extensions.ts';

export interface ReceiverOptions {
  /** How binary messages are given: 'nodebuffer' (default), 'arraybuffer', 'fragments' or 'blob'. */
  binaryType?: BinaryType;
  /** Must be empty: permessage-deflate is a netws connection's own (see extensions.ts). */
  extensions?: Record<string, unknown>;
  /** The server's side: frames must be masked. Default false, as in ws. */
  isServer?: boolean;
  /** Largest message in bytes; 0 (the default, as in ws) for no limit. */
  maxPayload?: number;
  /** Do not check text for UTF-8. */
  skipUTF8Validation?: boolean;
  /** Accepted for ws's sake: events are always emitted as the bytes are parsed. */
  allowSynchronousEvents?: boolean;
}

/** What the Receiver hands the protocol core: its events, and nowhere to write. */
class ReceiverEvents implements ProtocolHandler {
  /** The protocol error of the chunk being parsed, for its write callback. */
  failure: ProtocolError | null = null;
  concluded = false;

  constructor(private readonly receiver: Receiver) {}

  write(): void {
    // The core's automatic answers (a close echo, a close frame after an error) are not ours to send.
  }

  onMessage(data: Buffer, isBinary: boolean, _compressed: boolean, fragments: Buffer[] | null): void {
    const receiver = this.receiver;
    receiver.emit('message', isBinary ? binaryMessageData(data, fragments, receiver.binaryType) : data, isBinary);
  }

  onPing(data: Buffer): void {
    this.receiver.emit('ping', data);
  }

  onPong(data: Buffer): void {
    this.receiver.emit('pong', data);
  }

  onCloseReceived(code: number, reason: Buffer): void {
    this.concluded = true;
    this.receiver.emit('conclude', code, reason);
    // Nothing may follow a close frame: later writes fail ('write after end'), as with ws.
    this.receiver.end();
  }

  onProtocolError(error: ProtocolError): void {
    this.failure = error;
  }
}

export class Receiver extends Writable {
  /** How binary messages are given, set at construction (as ws's is). */
  readonly binaryType: BinaryType;
  private readonly events: ReceiverEvents;
  private readonly protocol: Protocol;

  constructor(options: ReceiverOptions = {}) {
    super();
    noExtension(options.extensions, 'Receiver');
    this.binaryType = options.binaryType ?? 'nodebuffer';
    this.events = new ReceiverEvents(this);
    const maxPayload = options.maxPayload !== undefined && options.maxPayload > 0 ? options.maxPayload : Number.MAX_SAFE_INTEGER;
    this.protocol = new Protocol(
      { isServer: options.isServer === true, maxPayload, skipUTF8Validation: options.skipUTF8Validation === true, autoPong: false },
      this.events,
    );
    // One Buffer per frame, as ws gives 'fragments'.
    if (this.binaryType === 'fragments') this.protocol.keepFragments = true;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const events = this.events;
    if (!events.concluded) this.protocol.receiveData(chunk);
    const failure = events.failure;
    if (failure !== null) {
      events.failure = null;
      callback(failure);
      return;
    }
    callback();
  }
}
