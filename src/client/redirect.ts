/**
 * What a followed redirect may carry. Credentials (Authorization, Cookie,
 * and `auth` or URL credentials) go only back to the origin the handshake
 * started at, and not from wss: down to ws:; the user's Host header goes only
 * to the same host. This is ws's rule (curl's since 7.77.0): it compares with
 * the first URL, not the previous hop, and a 'redirect' listener turns it
 * off (the listener decides, with the request in hand).
 */

import type { Target } from './address.ts';

/** The first URL's host (with its port) or UNIX socket path, and its security. */
export interface Origin {
  ipc: boolean;
  secure: boolean;
  /** URL.host for TCP, the socket path for ws+unix:. */
  place: string;
}

export function originOf(target: Target): Origin {
  const ipc = target.socketPath !== undefined;
  return { ipc, secure: target.secure, place: ipc ? target.socketPath! : target.url.host };
}

/** Which of the user's headers a redirect to `next` must drop. */
export function redirectDrops(origin: Origin, next: Target): { credentials: boolean; host: boolean } {
  const sameHost = originOf(next).ipc === origin.ipc && originOf(next).place === origin.place;
  return { credentials: !sameHost || (origin.secure && !next.secure), host: !sameHost };
}
