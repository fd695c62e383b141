/**
 * createWebSocketStream(ws, options): the connection as a Node Duplex, with
 * ws's semantics, so `pipeline(file, createWebSocketStream(ws))` works.
 * Each write is one message; each message is one chunk read. Backpressure
 * goes both ways: a full readable side pauses the connection (TCP then
 * pushes back on the peer), and a write completes only once its message
 * was handed to the kernel, so the writable side's highWaterMark bounds
 * what waits in user space.
 *
 * Ending the writable side starts the closing handshake; the readable side
 * ends when the connection closes; destroying the stream terminates the
 * connection (unless an error already closed it properly).
 */

import { Duplex, type DuplexOptions } from 'node:stream';
import type { WebSocket } from '../websocket.ts';

function emitClose(stream: Duplex): void {
  stream.emit('close');
}

/** The stream ended both ways: nothing more to do but to free it. */
function destroyWhenDone(this: Duplex): void {
  if (!this.destroyed && this.writableFinished) this.destroy();
}

/** An error ends the stream; with nobody listening it is thrown, as any stream error is. */
function destroyOnError(this: Duplex, error: Error): void {
  this.removeListener('error', destroyOnError);
  this.destroy();
  if (this.listenerCount('error') === 0) this.emit('error', error);
}

export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  // Whether destroying the stream still has to cut the connection.
  let terminateOnDestroy = true;

  const duplex = new Duplex({
    ...options,
    // The stream's end and close follow the connection's, not Node's defaults.
    autoDestroy: false,
    emitClose: false,
    // Bytes go out as messages; only the readable side may be in object mode (text as strings).
    objectMode: false,
    writableObjectMode: false,

    read() {
      if (ws.isPaused) ws.resume();
    },

    write(chunk: Buffer, _encoding, callback) {
      whenOpen(ws, () => ws.send(chunk, callback));
    },

    final(callback) {
      whenOpen(ws, () => {
        // A client whose handshake failed has no socket: its 'error' decides.
        const socket = ws._socket;
        if (socket === null) return;
        if (socket.writableFinished) {
          callback();
          if (duplex.readableEnded) duplex.destroy();
          return;
        }
        // The readable side ends with the connection's 'close'; the stream is freed then.
        socket.once('finish', () => callback());
        ws.close();
      });
    },

    destroy(error, callback) {
      if (ws.readyState === ws.CLOSED) {
        callback(error);
        process.nextTick(emitClose, duplex);
        return;
      }
      let reported = false;
      ws.once('error', (closingError: Error) => {
        reported = true;
        callback(closingError);
      });
      ws.once('close', () => {
        if (!reported) callback(error);
        process.nextTick(emitClose, duplex);
      });
      if (terminateOnDestroy) ws.terminate();
    },
  });

  ws.on('message', (data, isBinary) => {
    const chunk = !isBinary && duplex.readableObjectMode ? data.toString() : data;
    if (!duplex.push(chunk)) ws.pause();
  });

  ws.once('error', (error: Error) => {
    if (duplex.destroyed) return;
    // The connection is already closing itself (a close frame may be on its
    // way to the peer): terminating it now could cut that frame off.
    terminateOnDestroy = false;
    duplex.destroy(error);
  });

  ws.once('close', () => {
    if (!duplex.destroyed) duplex.push(null);
  });

  duplex.on('end', destroyWhenDone);
  duplex.on('error', destroyOnError);
  return duplex;
}

/** Runs `action` now, or once a connecting client is open. */
function whenOpen(ws: WebSocket, action: () => void): void {
  if (ws.readyState === ws.CONNECTING) ws.once('open', action);
  else action();
}
