/** What spec/browser/roundtrip.js must report, in Node and in Chromium alike. */

export function expectedReport(): Record<string, unknown> {
  return {
    constructorErrors: ['DOMException SyntaxError', 'DOMException SyntaxError', 'DOMException SyntaxError', 'DOMException SyntaxError'],
    initial: { readyState: 0, bufferedAmount: 0, url: true },
    opened: { readyState: 1, protocol: 'chat.v2', constants: [0, 1, 2, 3] },
    text: { data: 'héllo 👋', isMessageEvent: true, targetIsSocket: true, type: 'message' },
    arrayBuffer: { isArrayBuffer: true, digest: '256:' + digestOf(Uint8Array.from({ length: 256 }, (_, i) => i)) },
    view: '10:' + digestOf(Uint8Array.from({ length: 10 }, (_, i) => i + 10)),
    binaryType: 'blob',
    blob: {
      isBlob: true,
      digest: '104:' + digestOf(Buffer.concat([Buffer.from(Uint8Array.from({ length: 100 }, (_, i) => i)), Buffer.from('tail')])),
    },
    order: ['binary', 'second'],
    big: '1048576:' + digestOf(Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7) & 0xff)),
    bigFromServer: '1048576:' + digestOf(Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7) & 0xff)),
    listeners: ['object:a', 'plain:a', 'once:a', 'attribute:a', 'object:b'],
    closeErrors: ['DOMException InvalidAccessError', 'DOMException SyntaxError', 'DOMException InvalidAccessError'],
    serverClose: { code: 4001, reason: 'bye from server', wasClean: true, readyState: 3 },
    closingState: 2,
    clientClose: { code: 4002, reason: 'bye from client', wasClean: true },
    serverSaw: { code: 4002, reason: 'bye from client', wasClean: true },
  };
}

function digestOf(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
  return sum;
}
