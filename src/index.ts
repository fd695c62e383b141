// The public surface, nothing else, in the two shapes ws users write: named
// exports (`import { WebSocketServer } from 'netws'`), and the WebSocket
// class carrying the rest as static properties, as ws's index.js builds it
// (`import WebSocket from 'netws'; new WebSocket.Server(...)`), which is
// also what `require('netws')` returns (commonjs.cts).
import { WebSocket as WebSocketClass } from './websocket.ts';
import { WebSocketServer, prepareMessage } from './server.ts';
import { createWebSocketStream } from './streams/duplex.ts';
import { WebSocketStream, WebSocketStreamError } from './streams/websocket-stream.ts';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent } from './events.ts';
import { PreparedMessage } from './protocol/prepared.ts';
import { WebSocketError, ProtocolError } from './protocol/errors.ts';
import { CloseCode, isValidCloseCode } from './protocol/close.ts';
import { Protocol } from './protocol/protocol.ts';
import { InProcessBus } from './adapters/in-process.ts';
import { Receiver } from './compat/receiver.ts';
import { Sender } from './compat/sender.ts';

export { WebSocketServer, createWebSocketStream, prepareMessage, PreparedMessage, WebSocketStream, WebSocketStreamError, InProcessBus };
export { CONNECTING, OPEN, CLOSING, CLOSED } from './websocket.ts';
export { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent };
export { WebSocketError, ProtocolError, CloseCode, isValidCloseCode, Protocol, Receiver, Sender };
export type {
  BinaryType,
  ClientOptions,
  EventHandler,
  MessagesOptions,
  RawData,
  SendData,
  SendOptions,
  SendStreamOptions,
  WebSocketEventListener,
} from './websocket.ts';
export type { ReceivedMessage } from './connection/reader.ts';
export type { WebSocketCloseInfo, WebSocketOpenInfo, WebSocketStreamOptions } from './streams/websocket-stream.ts';
export type { CloseEventInit, ErrorEventInit, EventInit, MessageEventInit } from './events.ts';
export type { AddEventListenerOptions, WebSocketEventMap } from './browser-api.ts';
export type { ConnectionOptions, HeartbeatOptions } from './options/connection.ts';
export type {
  ServerOptions,
  UpgradeRequest,
  VerifyClientInfo,
  VerifyClientCallback,
  VerifyClientCallbackSync,
  VerifyClientCallbackAsync,
} from './options/server.ts';
export type { PerMessageDeflateOptions } from './protocol/permessage-deflate.ts';
export type { ProtocolHandler, ProtocolOptions } from './protocol/protocol.ts';
export type { ReceiverOptions } from './compat/receiver.ts';
export type { FrameOptions, SenderSendOptions } from './compat/sender.ts';
export type { PublishData, PublishOptions, ServerPublishOptions } from './topics.ts';
export type { AdapterHost, TopicAdapter } from './adapters/interface.ts';

// The names ws's index.js attaches, enumerable as there.
const wsStatics = { Server: WebSocketServer, WebSocketServer, WebSocket: WebSocketClass, createWebSocketStream, Receiver, Sender };
// The other named exports, so that CommonJS code reaches them too
// (`require('netws').CloseCode`); not enumerable, so Object.keys() of the
// class lists what it lists with ws. CONNECTING...CLOSED are the class's own.
const netwsStatics = {
  prepareMessage,
  PreparedMessage,
  WebSocketStream,
  WebSocketStreamError,
  CloseEvent,
  ErrorEvent,
  MessageEvent,
  WebSocketEvent,
  WebSocketError,
  ProtocolError,
  CloseCode,
  isValidCloseCode,
  Protocol,
  InProcessBus,
};
for (const [statics, enumerable] of [
  [wsStatics, true],
  [netwsStatics, false],
] as const) {
  for (const [name, value] of Object.entries(statics)) {
    Object.defineProperty(WebSocketClass, name, { value, enumerable, writable: true, configurable: true });
  }
}

/** The WebSocket class, with the other classes and functions as static properties. */
const WebSocket = WebSocketClass as typeof WebSocketClass & typeof wsStatics & typeof netwsStatics;
type WebSocket = WebSocketClass;
// Every exported type under the class's name too, as @types/ws has them: for
// `WebSocket.ServerOptions` after a default import, and for CommonJS code,
// whose `require('netws')` is typed as this one name (commonjs.cts).
declare namespace WebSocket {
  export type Server = import('./server.ts').WebSocketServer;
  export type WebSocketServer = import('./server.ts').WebSocketServer;
  export type WebSocket = WebSocketClass;
  export type PreparedMessage = import('./protocol/prepared.ts').PreparedMessage;
  export type WebSocketStream = import('./streams/websocket-stream.ts').WebSocketStream;
  export type WebSocketStreamError = import('./streams/websocket-stream.ts').WebSocketStreamError;
  export type WebSocketStreamOptions = import('./streams/websocket-stream.ts').WebSocketStreamOptions;
  export type WebSocketOpenInfo = import('./streams/websocket-stream.ts').WebSocketOpenInfo;
  export type WebSocketCloseInfo = import('./streams/websocket-stream.ts').WebSocketCloseInfo;
  export type MessagesOptions = import('./websocket.ts').MessagesOptions;
  export type ReceivedMessage<Data = unknown> = import('./connection/reader.ts').ReceivedMessage<Data>;
  export type CloseEvent = import('./events.ts').CloseEvent;
  export type ErrorEvent = import('./events.ts').ErrorEvent;
  export type MessageEvent = import('./events.ts').MessageEvent;
  export type WebSocketEvent = import('./events.ts').WebSocketEvent;
  export type WebSocketError = import('./protocol/errors.ts').WebSocketError;
  export type ProtocolError = import('./protocol/errors.ts').ProtocolError;
  export type Protocol = import('./protocol/protocol.ts').Protocol;
  export type Receiver = import('./compat/receiver.ts').Receiver;
  export type Sender = import('./compat/sender.ts').Sender;
  export type ReceiverOptions = import('./compat/receiver.ts').ReceiverOptions;
  export type RawData = import('./websocket.ts').RawData;
  export type SendData = import('./websocket.ts').SendData;
  export type SendOptions = import('./websocket.ts').SendOptions;
  export type SendStreamOptions = import('./websocket.ts').SendStreamOptions;
  export type EventInit = import('./events.ts').EventInit;
  export type CloseEventInit = import('./events.ts').CloseEventInit;
  export type ErrorEventInit = import('./events.ts').ErrorEventInit;
  export type MessageEventInit = import('./events.ts').MessageEventInit;
  export type AddEventListenerOptions = import('./browser-api.ts').AddEventListenerOptions;
  export type BinaryType = import('./websocket.ts').BinaryType;
  export type EventHandler<E extends Event> = import('./websocket.ts').EventHandler<E>;
  export type WebSocketEventListener<E extends Event = Event> = import('./websocket.ts').WebSocketEventListener<E>;
  export type WebSocketEventMap = import('./browser-api.ts').WebSocketEventMap;
  export type ClientOptions = import('./websocket.ts').ClientOptions;
  export type ConnectionOptions = import('./options/connection.ts').ConnectionOptions;
  export type ServerOptions = import('./options/server.ts').ServerOptions;
  export type UpgradeRequest = import('./options/server.ts').UpgradeRequest;
  export type VerifyClientInfo = import('./options/server.ts').VerifyClientInfo;
  export type VerifyClientCallback = import('./options/server.ts').VerifyClientCallback;
  /** @types/ws's names: verifyClient's two forms, and the data a message carries. */
  export type VerifyClientCallbackSync = import('./options/server.ts').VerifyClientCallbackSync;
  export type VerifyClientCallbackAsync = import('./options/server.ts').VerifyClientCallbackAsync;
  export type Data = import('./websocket.ts').RawData | string;
  export type PerMessageDeflateOptions = import('./protocol/permessage-deflate.ts').PerMessageDeflateOptions;
  export type HeartbeatOptions = import('./options/connection.ts').HeartbeatOptions;
  export type ProtocolHandler = import('./protocol/protocol.ts').ProtocolHandler;
  export type ProtocolOptions = import('./protocol/protocol.ts').ProtocolOptions;
  export type InProcessBus = import('./adapters/in-process.ts').InProcessBus;
  export type PublishData = import('./topics.ts').PublishData;
  export type PublishOptions = import('./topics.ts').PublishOptions;
  export type ServerPublishOptions = import('./topics.ts').ServerPublishOptions;
  export type AdapterHost = import('./adapters/interface.ts').AdapterHost;
  export type TopicAdapter = import('./adapters/interface.ts').TopicAdapter;
}
export { WebSocket, WebSocket as default };
