/**
 * The code blocks of the documentation, as `npm run test:docs` reads them:
 * every fenced block of README.md and docs/**\/*.md (docs/reference/ is
 * generated from src/ and has none to run), with the hidden directive that
 * may stand right above it:
 *
 *     <!-- doctest
 *     mode: run | typecheck | skip   (run is the default for TS/JS)
 *     file: name.ts                  (the block is this file; later blocks and shell commands may use it)
 *     (ports 8000-8099 and 8443 named in a block become free ports, the same ones in all of a page's blocks)
 *     redis: true                    (a real redis-server; REDIS_URL is set)
 *     variant: redis=redis6          (run it again with this module imported instead; repeatable)
 *     needs: nginx                   (a program that must be installed: skipped without it, unless NETWS_REQUIRE_NGINX=1)
 *     env: NAME=value                (repeatable)
 *     run: npm start                 (shell: the command of the block to run; a config block with
 *                                     `mode: run` and `file:` is run by the command that reads it)
 *     cwd: page                      (shell, config: run it where this page's files are, not in the repository)
 *     alone: true                    (run after all the others, by itself: it rebuilds dist/, say)
 *     until: listening               (a program that serves: wait for this in its output, probe, stop it)
 *     probe: echo ws://localhost:8080/path | http http://localhost:8080/ [regex] | code (the lines below)
 *     expect: regex                  (what the program must print before it exits on its own)
 *     before: / after:               (hidden lines around the block, indented by two spaces)
 *     -->
 *
 * A block that is type-checked only or skipped must say why where a reader
 * sees it: the next line after the block starts with `> Not run` or
 * `> Type-checked, not run`.
 */

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type Mode = 'run' | 'typecheck' | 'skip';

export interface Block {
  /** The Markdown file, relative to the repository. */
  file: string;
  /** 1-based line of the first code line (after the opening fence). */
  line: number;
  lang: string;
  code: string;
  mode: Mode;
  directive: Directive | null;
  /** The visible note under a block that is not run. */
  note: string | null;
  /** A copy run with another module (`variant: redis=redis6`): the module it imports instead. */
  variant?: string;
}

export interface Directive {
  mode?: Mode;
  file?: string;
  redis?: boolean;
  needs?: string;
  alone?: boolean;
  env: Record<string, string>;
  /** `from` → `to`: import specifiers to run the block with again, one run each. */
  variants: [string, string][];
  run?: string;
  cwd?: string;
  until?: string;
  probe?: string;
  expect?: string;
  before: string[];
  after: string[];
  /** The directive's own line, for messages. */
  line: number;
}

export const CODE_LANGS = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs', 'cjs']);
export const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);

const MULTILINE = new Set(['before', 'after', 'probe']);

export function parseDirective(text: string, line: number): Directive {
  const directive: Directive = { env: {}, variants: [], before: [], after: [], line };
  let current: 'before' | 'after' | 'probe' | null = null;
  const probeLines: string[] = [];
  for (const raw of text.split('\n')) {
    const key = /^(\w+):\s?(.*)$/.exec(raw);
    if (key !== null && !raw.startsWith(' ')) {
      const [, name, value] = key;
      current = null;
      if (MULTILINE.has(name) && value.trim() === '') {
        current = name as 'before' | 'after' | 'probe';
        continue;
      }
      switch (name) {
        case 'mode':
          if (value !== 'run' && value !== 'typecheck' && value !== 'skip') throw new Error(`line ${line}: unknown mode ${value}`);
          directive.mode = value;
          break;
        case 'file':
        case 'needs':
        case 'run':
        case 'cwd':
        case 'until':
        case 'probe':
        case 'expect':
          directive[name] = value.trim();
          break;
        case 'redis':
        case 'alone':
          directive[name] = value.trim() === 'true';
          break;
        case 'variant': {
          const [from, to] = value.split('=').map((part) => part.trim());
          directive.variants.push([from, to]);
          break;
        }
        case 'env': {
          const equals = value.indexOf('=');
          directive.env[value.slice(0, equals).trim()] = value.slice(equals + 1).trim();
          break;
        }
        default:
          throw new Error(`line ${line}: unknown doctest key ${name}`);
      }
    } else if (current !== null) {
      const content = raw.startsWith('  ') ? raw.slice(2) : raw.trimStart();
      if (current === 'probe') probeLines.push(content);
      else directive[current].push(content);
    } else if (raw.trim() !== '') {
      throw new Error(`line ${line}: cannot read doctest line ${JSON.stringify(raw)}`);
    }
  }
  if (probeLines.length > 0) directive.probe = probeLines.join('\n');
  return directive;
}

/** The fenced blocks of one Markdown file, with their directives and notes. */
export function blocksOf(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(```+|~~~+)\s*([\w+-]*)/.exec(lines[i]);
    if (fence === null) continue;
    const [, indent, marker, lang] = fence;
    let end = i + 1;
    while (end < lines.length && !lines[end].trimStart().startsWith(marker)) end++;
    const code = lines
      .slice(i + 1, end)
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      .join('\n');
    // The directive: an HTML comment ending on the line above the fence.
    let directive: Directive | null = null;
    if (i > 0 && lines[i - 1].trim() === '-->') {
      let start = i - 1;
      while (start >= 0 && !lines[start].trimStart().startsWith('<!--')) start--;
      const first = lines[start].trim();
      if (first.startsWith('<!-- doctest')) {
        const body = [first.replace(/^<!-- doctest:?\s*/, ''), ...lines.slice(start + 1, i - 1)].join('\n');
        directive = parseDirective(body, start + 1);
      }
    } else if (i > 0 && /^<!-- doctest.*-->$/.test(lines[i - 1].trim())) {
      directive = parseDirective(
        lines[i - 1]
          .trim()
          .replace(/^<!-- doctest:?\s*/, '')
          .replace(/\s*-->$/, ''),
        i,
      );
    }
    let next = end + 1;
    while (next < lines.length && lines[next].trim() === '') next++;
    const note = next < lines.length && /^>\s*\**(Not run|Type-checked, not run)/i.test(lines[next]) ? lines[next] : null;
    const isCode = CODE_LANGS.has(lang);
    const mode: Mode = directive?.mode ?? (isCode ? 'run' : 'skip');
    blocks.push({ file, line: i + 2, lang, code, mode, directive, note });
    i = end;
  }
  return blocks;
}

/** README.md and every Markdown file under docs/ but the generated reference. */
export function markdownFiles(root: string): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (relative !== 'docs/reference') walk(relative);
      } else if (entry.name.endsWith('.md')) files.push(relative);
    }
  };
  walk('docs');
  return files.sort();
}

export function readBlocks(root: string, files = markdownFiles(root)): Block[] {
  return files.flatMap((file) => blocksOf(file, readFileSync(path.join(root, file), 'utf8')));
}

/** The copies of a block its `variant:` lines ask for: the same program importing another module. */
export function variantsOf(block: Block): Block[] {
  return (block.directive?.variants ?? []).map(([from, to]) => {
    const specifier = new RegExp(`(from\\s+|import\\(\\s*|require\\(\\s*)(['"])${from.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\2`, 'g');
    const code = block.code.replace(specifier, `$1$2${to}$2`);
    if (code === block.code) throw new Error(`${block.file}:${block.line}: variant ${from}=${to}: the block does not import ${from}`);
    return { ...block, code, variant: to, directive: structuredClone(block.directive) };
  });
}
