/**
 * Tokenizers for the header values of the opening handshake
 * (RFC 6455 sections 4.1 and 9.1, RFC 7230 section 3.2.6).
 *
 * Each is a single left-to-right pass with no regular expression that could
 * backtrack, so parse time stays linear in the length of the value
 * (the ReDoS class of CVE-2021-32640). Names end up as Map keys, never as
 * object properties, so `__proto__` or `constructor` is just a name.
 */

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TOKEN_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TOKEN_CHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN_CHAR[c] = 1;

export function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN_CHAR[code] === 1;
}

export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTokenChar(value.charCodeAt(i))) return false;
  return true;
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** A small cursor over a header value. */
class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  skipWhitespace(): void {
    while (this.pos < this.text.length && isWhitespace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  /** Reads a token, or returns '' when none starts here. */
  token(): string {
    const start = this.pos;
    while (this.pos < this.text.length && isTokenChar(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Reads a quoted-string starting at '"'; null when it is not terminated. */
  quotedString(): string | null {
    const text = this.text;
    this.pos++; // opening quote
    // The value as slices of the text between escapes: no string per character.
    const parts: string[] = [];
    let start = this.pos;
    while (this.pos < text.length) {
      const code = text.charCodeAt(this.pos);
      if (code === 0x22) {
        parts.push(text.slice(start, this.pos++));
        return parts.join('');
      }
      if (code === 0x5c) {
        if (this.pos + 1 >= text.length) return null;
        parts.push(text.slice(start, this.pos), text[this.pos + 1]);
        this.pos += 2;
        start = this.pos;
      } else {
        this.pos++;
      }
    }
    return null;
  }
}

/**
 * Most elements in one list. Real clients offer a handful of subprotocols or
 * extensions; a 64 KiB header of 20,000 offers would only make us allocate
 * (and the garbage collector trace) 20,000 objects, which grows faster than
 * linearly. Longer lists are refused as malformed.
 */
export const MAX_LIST_ELEMENTS = 256;

/**
 * Walks a `1#element` list: comma-separated, empty elements skipped (7230
 * section 7). `element` reads one element at the cursor and returns false on
 * bad syntax. Returns false when the list is malformed or too long.
 */
function walkList(value: string, element: (scanner: Scanner) => boolean): boolean {
  const scanner = new Scanner(value);
  let elements = 0;
  for (;;) {
    scanner.skipWhitespace();
    if (scanner.done) return true;
    if (scanner.peek() === 0x2c) {
      scanner.pos++;
      continue;
    }
    if (++elements > MAX_LIST_ELEMENTS || !element(scanner)) return false;
    scanner.skipWhitespace();
    if (scanner.done) return true;
    if (scanner.peek() !== 0x2c) return false;
    scanner.pos++;
  }
}

/** Parses `1#token` (a comma-separated list of tokens). Returns null on bad syntax. */
export function parseTokenList(value: string): string[] | null {
  const tokens: string[] = [];
  const ok = walkList(value, (scanner) => {
    const token = scanner.token();
    tokens.push(token);
    return token !== '';
  });
  return ok ? tokens : null;
}

/**
 * Case-insensitive membership in a comma-separated header list such as
 * Connection or Upgrade. Elements are compared whole, so Upgrade's
 * "name/version" products (7230 section 6.7) can sit beside "websocket".
 */
export function tokenListIncludes(value: string | undefined, wanted: string): boolean {
  if (value === undefined) return false;
  const lower = wanted.toLowerCase();
  for (const element of value.split(',')) {
    let start = 0;
    let end = element.length;
    while (start < end && isWhitespace(element.charCodeAt(start))) start++;
    while (end > start && isWhitespace(element.charCodeAt(end - 1))) end--;
    if (end - start === lower.length && element.slice(start, end).toLowerCase() === lower) return true;
  }
  return false;
}

/**
 * Sec-WebSocket-Protocol: a list of distinct tokens (4.1: "unique strings").
 * Null when the syntax is bad or a protocol repeats.
 */
export function parseSubprotocols(value: string): string[] | null {
  const protocols = parseTokenList(value);
  if (protocols === null) return null;
  if (new Set(protocols).size !== protocols.length) return null;
  return protocols;
}

/** One offered or accepted extension with its parameters in order. */
export interface ExtensionOffer {
  name: string;
  /** Parameter name → value; `true` for a parameter given without a value. */
  params: Map<string, string | true>;
  /** Names of parameters that appeared more than once (RFC 7692 declines such offers). */
  duplicateParams: string[];
}

/**
 * Sec-WebSocket-Extensions (9.1):
 *   extension-list = 1#extension
 *   extension      = token *( ";" param )
 *   param          = token [ "=" (token / quoted-string) ]
 * Returns null on bad syntax.
 */
export function parseExtensions(value: string): ExtensionOffer[] | null {
  const offers: ExtensionOffer[] = [];
  const ok = walkList(value, (scanner) => {
    const name = scanner.token();
    if (name === '') return false;
    const offer: ExtensionOffer = { name, params: new Map(), duplicateParams: [] };
    offers.push(offer);
    scanner.skipWhitespace();
    while (!scanner.done && scanner.peek() === 0x3b) {
      scanner.pos++;
      scanner.skipWhitespace();
      const param = scanner.token();
      if (param === '') return false;
      scanner.skipWhitespace();
      let paramValue: string | true = true;
      if (!scanner.done && scanner.peek() === 0x3d) {
        scanner.pos++;
        scanner.skipWhitespace();
        if (scanner.done) return false;
        if (scanner.peek() === 0x22) {
          const quoted = scanner.quotedString();
          // 9.1: a quoted value must still be a token once unquoted.
          if (quoted === null || !isToken(quoted)) return false;
          paramValue = quoted;
        } else {
          paramValue = scanner.token();
          if (paramValue === '') return false;
        }
        scanner.skipWhitespace();
      }
      if (offer.params.has(param)) offer.duplicateParams.push(param);
      else offer.params.set(param, paramValue);
    }
    return true;
  });
  return ok ? offers : null;
}

/** Formats extensions back into a header value. */
export function formatExtensions(extensions: Array<{ name: string; params: Map<string, string | true> }>): string {
  return extensions
    .map(({ name, params }) => {
      let text = name;
      for (const [key, value] of params) text += value === true ? `; ${key}` : `; ${key}=${value}`;
      return text;
    })
    .join(', ');
}
