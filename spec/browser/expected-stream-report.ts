/**
 * What spec/browser/websocketstream.js reports, in Chromium 156 (its native
 * WebSocketStream) and in Node (netws's) alike: recorded from Chromium, so
 * netws is held to what the browser does.
 */

export function expectedStreamReport(): Record<string, unknown> {
  return {
    errorClass: {
      full: [true, 'WebSocketError', 'message', 4000, 'why'],
      bare: ['WebSocketError', '', null, ''],
      reasonOnly: 1000,
      invalid: ['DOMException InvalidAccessError', 'DOMException SyntaxError'],
    },
    constructorErrors: ['DOMException SyntaxError', 'DOMException SyntaxError', 'DOMException SyntaxError'],
    url: true,
    toStringTag: '[object WebSocketStream]',
    opened: {
      keys: ['extensions', 'protocol', 'readable', 'writable'],
      protocol: 'chat.v2',
      compressed: true,
      readable: true,
      writable: true,
      same: true,
    },
    desiredSize: 1,
    text: ['string', 'héllo 👋'],
    uint8Array: ['[object ArrayBuffer]', '256:452919424'],
    arrayBuffer: '4:31810',
    dataView: '2:193',
    notBufferSources: ['42', '[object Object]'],
    big: '1048576:4060610560',
    bigFromServer: '1048576:4060610560',
    order: 'm0,m1,m2,m3,m4,m5,m6,m7,m8,m9,m10,m11,m12,m13,m14,m15,m16,m17,m18,m19',
    closeErrors: ['DOMException InvalidAccessError', 'DOMException InvalidAccessError', 'DOMException SyntaxError'],
    serverClose: {
      read: [
        'resolved',
        {
          done: true,
        },
      ],
      closed: [
        'resolved',
        {
          closeCode: 4001,
          reason: 'bye from server',
        },
      ],
      writerClosed: ['rejected', 'DOMException InvalidStateError'],
      write: ['rejected', 'DOMException InvalidStateError'],
    },
    clientCloses: {
      closeWithCode: {
        closed: [
          'resolved',
          {
            closeCode: 4002,
            reason: 'bye from client',
          },
        ],
        serverSaw: {
          code: 4002,
          reason: 'bye from client',
          wasClean: true,
        },
      },
      closeNoArguments: {
        closed: [
          'resolved',
          {
            closeCode: 1005,
            reason: '',
          },
        ],
        serverSaw: {
          code: 1005,
          reason: '',
          wasClean: true,
        },
      },
      reasonOnly: {
        closed: [
          'resolved',
          {
            closeCode: 1000,
            reason: 'only a reason',
          },
        ],
        serverSaw: {
          code: 1000,
          reason: 'only a reason',
          wasClean: true,
        },
      },
      writerClose: {
        closed: [
          'resolved',
          {
            closeCode: 1005,
            reason: '',
          },
        ],
        serverSaw: {
          code: 1005,
          reason: '',
          wasClean: true,
        },
      },
      writerAbortWithError: {
        closed: [
          'resolved',
          {
            closeCode: 4003,
            reason: 'aborted',
          },
        ],
        serverSaw: {
          code: 4003,
          reason: 'aborted',
          wasClean: true,
        },
      },
      writerAbortPlain: {
        closed: [
          'resolved',
          {
            closeCode: 1005,
            reason: '',
          },
        ],
        serverSaw: {
          code: 1005,
          reason: '',
          wasClean: true,
        },
      },
      readableCancelWithError: {
        closed: [
          'resolved',
          {
            closeCode: 4004,
            reason: 'cancelled',
          },
        ],
        serverSaw: {
          code: 4004,
          reason: 'cancelled',
          wasClean: true,
        },
      },
      readableCancelPlain: {
        closed: [
          'resolved',
          {
            closeCode: 1005,
            reason: '',
          },
        ],
        serverSaw: {
          code: 1005,
          reason: '',
          wasClean: true,
        },
      },
    },
    unclean: {
      read: ['rejected', 'DOMException WebSocketError closeCode=1006 reason=""'],
      closed: ['rejected', 'DOMException WebSocketError closeCode=1006 reason=""'],
      writerClosed: ['rejected', 'DOMException WebSocketError closeCode=1006 reason=""'],
      write: ['rejected', 'DOMException WebSocketError closeCode=1006 reason=""'],
    },
    abortedBeforeConstruction: {
      opened: ['rejected', 'DOMException AbortError'],
      closed: ['rejected', 'DOMException AbortError'],
    },
    abortedWhileConnecting: {
      opened: ['rejected', 'DOMException AbortError'],
      closed: ['rejected', 'DOMException AbortError'],
    },
    abortAfterOpen: [
      'resolved',
      {
        closeCode: 1000,
        reason: '',
      },
    ],
    closedBeforeOpen: {
      opened: ['rejected', 'DOMException WebSocketError closeCode=null reason=""'],
      closed: ['rejected', 'DOMException WebSocketError closeCode=1006 reason=""'],
    },
    refused: {
      opened: ['rejected', 'DOMException WebSocketError closeCode=null reason=""'],
      closed: ['rejected', 'DOMException WebSocketError closeCode=1006 reason=""'],
    },
  };
}
