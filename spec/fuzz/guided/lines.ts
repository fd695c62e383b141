/** Line-level mutations for text heads (HTTP/1.1 heads, HTTP/2 header lists): the structure is lines of "name: value". */

import type { Random } from '../random.ts';

const SEPARATORS = ['\r\n', '\n', '\r', '\r\r\n', ''];
const ODD = [' ', '\t', '\x00', '\x7f', '\x0b', '\r', '\n', '\xff', '"', ',', ';', '=', ':', '\\', '(', '/', '\x80', ' \t '];

/** Edits one line of `text` (lines split on CRLF) or the set of lines; `words` are names and values to insert. */
export function mutateLines(random: Random, text: string, words: readonly string[]): string {
  const lines = text.split('\r\n');
  const i = random.below(lines.length);
  const line = lines[i];
  switch (random.below(12)) {
    case 0:
      lines.splice(random.below(lines.length + 1), 0, `${random.pick(words)}: ${random.pick(words)}`);
      break;
    case 1:
      lines.splice(random.below(lines.length + 1), 0, line);
      break;
    case 2:
      if (lines.length > 1) lines.splice(i, 1);
      break;
    case 3: {
      const j = random.below(lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      break;
    }
    case 4: {
      const at = random.below(line.length + 1);
      lines[i] = line.slice(0, at) + random.pick(ODD) + line.slice(at);
      break;
    }
    case 5: {
      const colon = line.indexOf(':');
      const value = colon === -1 ? line : line.slice(colon + 1);
      lines[i] = `${random.pick(words)}:${value}`;
      break;
    }
    case 6: {
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      const values = Array.from({ length: random.between(1, 4) }, () => random.pick(words));
      lines[i] = `${name}:${random.chance(0.5) ? ' ' : ''}${values.join(random.pick([', ', ',', ' ,', '; ', ' ']))}`;
      break;
    }
    case 7:
      lines[i] = random.chance(0.5) ? line.toUpperCase() : line.toLowerCase();
      break;
    case 8:
      // An obs-fold continuation line, or leading whitespace.
      lines.splice(i + 1, 0, `${random.pick([' ', '\t'])}${random.pick(words)}`);
      break;
    case 9: {
      // A long value or many lines: the size and count limits.
      if (random.chance(0.5)) lines[i] = line + 'a'.repeat(random.pick([10, 100, 1000, 5000]));
      else for (let k = random.between(2, 120); k > 0; k--) lines.splice(i, 0, `X-${k}: ${k}`);
      break;
    }
    case 10:
      return lines.join(random.pick(SEPARATORS));
    default: {
      const at = random.below(line.length + 1);
      lines[i] = line.slice(0, at) + line.slice(at + random.between(1, 8));
    }
  }
  return lines.join('\r\n');
}
