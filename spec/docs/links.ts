/**
 * npm run check:links: every relative link and anchor of README.md and
 * docs/ (the generated reference included) must lead somewhere. A link to a
 * file must name a file or folder of the repository; a `#fragment` must name
 * a heading of the target page, made into an anchor as GitHub makes it
 * (lower case, punctuation dropped, spaces to hyphens, `-1`, `-2` for
 * repeats) or an explicit `<a id>`/`<a name>`. Links to other sites are not
 * fetched (CI has no network but the package registries).
 */

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(relative);
      else if (entry.name.endsWith('.md')) files.push(relative);
    }
  };
  walk('docs');
  return files;
}

/** The text outside fenced code blocks (links inside code are code). */
function prose(text: string): string {
  let fenced = false;
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line;
    })
    .join('\n');
}

/** GitHub's anchor for a heading. */
function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const anchorCache = new Map<string, Set<string>>();

function anchorsOf(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (anchors !== undefined) return anchors;
  anchors = new Set();
  const seen = new Map<string, number>();
  const text = prose(readFileSync(file, 'utf8'));
  for (const match of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    // Inline code and links in a heading count by their text.
    const plain = match[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = slugOf(plain);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  for (const match of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]);
  anchorCache.set(file, anchors);
  return anchors;
}

export function checkLinks(): string[] {
  const problems: string[] = [];
  for (const file of markdownFiles()) {
    const absolute = path.join(root, file);
    const lines = prose(readFileSync(absolute, 'utf8')).split('\n');
    lines.forEach((line, index) => {
      const targets = [
        ...[...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
        ...[...line.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]),
      ];
      for (const target of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
        const [pathPart, fragment] = target.split('#', 2) as [string, string | undefined];
        const where = `${file}:${index + 1}`;
        const resolved = pathPart === '' ? absolute : path.resolve(path.dirname(absolute), decodeURIComponent(pathPart));
        if (!resolved.startsWith(root)) {
          problems.push(`${where}: ${target} leaves the repository`);
          continue;
        }
        if (!existsSync(resolved)) {
          problems.push(`${where}: ${target}: no such file`);
          continue;
        }
        if (fragment === undefined || fragment === '') continue;
        if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
          problems.push(`${where}: ${target}: an anchor into something that is not a Markdown page`);
          continue;
        }
        if (!anchorsOf(resolved).has(fragment))
          problems.push(`${where}: ${target}: no heading #${fragment} in ${path.relative(root, resolved)}`);
      }
    });
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = checkLinks();
  if (problems.length > 0) {
    console.error(`${problems.length} broken links:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log(`links: every relative link and anchor of README.md and docs/ leads somewhere (${markdownFiles().length} pages)`);
  }
}
