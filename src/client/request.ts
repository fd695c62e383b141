/**
 * The opening handshake's HTTP request as node:http makes it: the options
 * for http.request (the user's own passed through, as ws does, so agent,
 * lookup, family, TLS settings and the rest keep node's meaning), the
 * header fields, and the default transports.
 */

import type http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { ClientHeaderValue, ClientOptions } from '../options/client.ts';
import type { Target } from './address.ts';

/** Header fields by lowercase name: the name as written and the value. */
export type HeaderFields = Map<string, [name: string, value: ClientHeaderValue]>;

export function headerFields(headers: Iterable<[string, ClientHeaderValue]>): HeaderFields {
  const fields: HeaderFields = new Map();
  for (const [name, value] of headers) fields.set(name.toLowerCase(), [name, value]);
  return fields;
}

export function basicAuthorization(credentials: string): string {
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}

/** net.connect for ws: and ws+unix: (a socketPath is net's `path`). */
function connectPlain(options: http.ClientRequestArgs): Duplex {
  return net.connect({ ...(options as net.NetConnectOpts), path: options.socketPath } as net.NetConnectOpts);
}

/** tls.connect for wss:, with every TLS setting of the options; SNI carries host names only (RFC 6066 section 3). */
export function connectSecure(options: http.ClientRequestArgs & tls.ConnectionOptions): Duplex {
  const host = options.host as string; // always set: requestOptions gives the URL's host
  const servername = options.servername ?? (net.isIP(host) === 0 ? host : '');
  return tls.connect({ ...options, path: undefined, servername } as tls.ConnectionOptions);
}

/**
 * http.request's options for one request: the user's options as they are
 * (unknown ones included), then what the handshake decides. Without an
 * agent, the connection is opened directly, never pooled.
 */
export function requestOptions(user: ClientOptions, target: Target, fields: HeaderFields, maxHeaderSize: number): http.RequestOptions {
  const defaultPort = target.secure ? 443 : 80;
  const headers: Record<string, ClientHeaderValue> = {};
  for (const [name, value] of fields.values()) headers[name] = value;
  return {
    ...(user as http.RequestOptions),
    // The Authorization header is built from `auth` by the handshake (it may drop it on a redirect).
    auth: undefined,
    timeout: undefined,
    hostname: undefined,
    protocol: undefined,
    method: 'GET',
    host: target.host,
    port: target.port || defaultPort,
    defaultPort: (user as http.RequestOptions).defaultPort || defaultPort,
    path: target.path,
    socketPath: target.socketPath,
    headers: headers as http.OutgoingHttpHeaders,
    maxHeaderSize,
    createConnection: (user.createConnection ?? (target.secure ? connectSecure : connectPlain)) as http.RequestOptions['createConnection'],
  };
}
