/** Connection helpers shared by the connection, deflate and stream cases. */

import type { Test } from 'uvu';
import { compat, type Body, type CaseOptions, type Lib, type Loose, type Run } from './harness.ts';
import { MASK, encodeFrame, switchingProtocols, upgradeRequest, type FrameSpec, type RawSocket } from './wire.ts';

export type End = 'client' | 'server';
export const ENDS: End[] = ['client', 'server'];

/** Registers one case per end: the library under test is the client, then the server; the peer is ws. */
export function bothEnds(
  test: Test,
  title: string,
  body: (lib: Lib, t: Run, end: End) => Promise<unknown> | unknown,
  options: CaseOptions | ((end: End) => CaseOptions) = {},
): void {
  for (const end of ENDS) {
    const bodyForEnd: Body = (lib, t) => body(lib, t, end);
    compat(test, `${title} [${end}]`, bodyForEnd, typeof options === 'function' ? options(end) : options);
  }
}

/**
 * The library under test on `end`, a raw TCP peer on the other, past the
 * handshake: frames the peer sends are masked when it is the client.
 */
export async function rawPeer(
  t: Run,
  end: End,
  options: Record<string, unknown> = {},
  extraRequestHeaders: string[] = [],
  extraResponseLines: string[] = [],
): Promise<{ local: Loose; raw: RawSocket; frame: (spec: FrameSpec) => Buffer; wss?: Loose; serverCloses: () => void }> {
  const frame = (spec: FrameSpec): Buffer =>
    encodeFrame({ ...spec, mask: spec.mask === undefined ? (end === 'server' ? MASK : null) : spec.mask });
  // After the closing handshake a server closes the TCP connection (RFC 6455 7.1.1); a raw server peer does it when told.
  const serverCloses = (raw: RawSocket) => (): void => {
    if (end === 'client') raw.socket.end();
  };
  if (end === 'server') {
    const wss = await t.server(options);
    const connection = t.wait<[Loose]>(wss, 'connection');
    const raw = await t.raw(wss.address().port);
    raw.socket.setNoDelay(true);
    raw.write(upgradeRequest({ headers: extraRequestHeaders }));
    await raw.readHead();
    const [local] = await connection;
    return { local, raw, frame, wss, serverCloses: serverCloses(raw) };
  }
  const server = await t.rawServer();
  const local = t.client(`ws://127.0.0.1:${server.port}`, options);
  const raw = await server.connection();
  raw.socket.setNoDelay(true);
  raw.write(switchingProtocols(await raw.readHead(), extraResponseLines));
  await t.wait(local, 'open');
  return { local, raw, frame, serverCloses: serverCloses(raw) };
}
