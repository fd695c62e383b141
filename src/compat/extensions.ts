/**
 * What ws's Receiver and Sender take as `extensions`: the extension objects
 * ws negotiated (its PerMessageDeflate). netws's permessage-deflate belongs to
 * its connections (the zlib pool, the per-turn budget, the memory bounds), so
 * these stand-alone parts carry none: an extension given is refused at
 * construction rather than ignored, which would read compressed frames as
 * protocol errors or send uncompressed ones the peer expects compressed.
 */
export function noExtension(extensions: Record<string, unknown> | null | undefined, part: string): void {
  if (extensions === undefined || extensions === null || Object.keys(extensions).length === 0) return;
  throw new TypeError(
    `netws's ${part} takes no extension (${Object.keys(extensions).join(', ')}): permessage-deflate is a WebSocket's own`,
  );
}
