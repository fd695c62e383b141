export { WebSocket, CONNECTING, OPEN, CLOSING, CLOSED } from './websocket.ts';
export type { SendData, SendOptions } from './websocket.ts';
export { WebSocketServer } from './server.ts';
export type { ServerOptions, UpgradeRequest, VerifyClientInfo, VerifyClientCallback } from './server.ts';
export type { ClientOptions } from './client.ts';
export { WebSocketError, ProtocolError } from './protocol/errors.ts';
export { CloseCode, isValidCloseCode } from './protocol/close.ts';
export { Protocol } from './protocol/protocol.ts';
export type { ProtocolHandler, ProtocolOptions } from './protocol/protocol.ts';
