/**
 * npm run test:docs [-- README.md docs/howto/http2.md ...] [--no-build] [--typecheck]
 *
 * Every code block of README.md and docs/ (spec/docs/blocks.ts says how a
 * block declares what it needs) is checked as a reader would use it:
 *
 * 1. `npm run build`, so that `import … from 'netws'` in a block resolves as
 *    in an application: by the package's own name and "exports" (a package
 *    may import itself by name), to dist/ and its shipped declarations.
 * 2. Each TypeScript/JavaScript block (with its hidden `before`/`after`
 *    lines) is written to .scratch/docs/, and all of them are type-checked in
 *    one strict `tsc` run against those declarations (JavaScript too,
 *    checkJs); errors are reported at the block's line in the Markdown.
 * 3. Each block that forms a program is run (tsx for TypeScript, node for
 *    JavaScript) against real servers on free ports (a real redis-server for
 *    the Redis ones): it must exit 0 on its own and print what `expect`
 *    says, or, for a server, print what `until` says and then pass its probe
 *    (an echo, an HTTP GET, or a hidden client program), after which it is
 *    stopped. Shell blocks that start something (`npm start`, `npx tsx …`)
 *    are run and probed the same way.
 *
 * A block that is not run must carry a visible note saying why. JSON blocks
 * must parse. The summary counts blocks run, type-checked only and skipped.
 * First of all, every relative link and anchor of these pages must lead
 * somewhere (spec/docs/links.ts, also `npm run check:links` alone).
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../../src/index.ts';
import { freePort, RedisServer, redisAvailable } from '../redis-server.ts';
import { type Block, CODE_LANGS, markdownFiles, readBlocks, SHELL_LANGS, variantsOf } from './blocks.ts';
import { checkLinks } from './links.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const scratch = path.join(root, '.scratch/docs');
const args = process.argv.slice(2);
const only = args.filter((arg) => !arg.startsWith('--'));
const typecheckOnly = args.includes('--typecheck');
const RUN_TIMEOUT = 30_000;
const PROBE_TIMEOUT = 20_000;
const PARALLEL = 2;
const PORT_PATTERN = /\b(80\d\d|8443)\b/g;

interface Prepared {
  block: Block;
  where: string;
  /** The file written for a code block (absolute), type-checked. */
  path?: string;
  /** A block with `file:`: its name in `dir` and its content, written again before each later block runs. */
  named?: { path: string; content: string };
  /** Lines of hidden code before the block in that file. */
  offset: number;
  port?: number;
  dir: string;
  /** A shell block's `run:` as written, before its ports were replaced. */
  shownRun?: string;
}

const failures: string[] = [];
/** The blocks (file:line) that failed a check. */
const failed = new Set<string>();
const fail = (where: string, message: string): void => {
  failed.add(where);
  failures.push(`${where}: ${message}`);
  console.log(`  FAIL ${where}: ${message}`);
};

function slug(file: string): string {
  return file.replace(/\.md$/, '').replace(/[^\w]+/g, '-');
}

function extensionOf(block: Block): string {
  if (block.lang === 'ts' || block.lang === 'typescript') return '.ts';
  if (block.lang === 'cjs') return '.cjs';
  if (block.lang === 'mjs') return '.mjs';
  return /\brequire\(/.test(block.code) && !/^import\s/m.test(block.code) ? '.cjs' : '.mjs';
}

/** One free port per Markdown file and port number: a file's blocks run one after the other and may refer to each other's ports. */
const ports = new Map<string, number>();

async function portFor(file: string, portText: string): Promise<number> {
  const key = `${file}\0${portText}`;
  if (!ports.has(key)) ports.set(key, await freePort());
  return ports.get(key)!;
}

async function prepare(block: Block): Promise<Prepared> {
  const where = `${block.file}:${block.line}${block.variant === undefined ? '' : ` (with ${block.variant})`}`;
  const dir = path.join(scratch, slug(block.file));
  mkdirSync(dir, { recursive: true });
  const directive = block.directive;
  const prepared: Prepared = { block, where, offset: directive?.before.length ?? 0, dir };
  // Every port the block names (8000-8099, 8443) becomes a free one, the same one across the page's blocks.
  const everything = [
    block.code,
    directive?.run,
    directive?.probe,
    directive?.until,
    directive?.expect,
    ...(directive?.before ?? []),
    ...(directive?.after ?? []),
    ...Object.values(directive?.env ?? {}),
  ].join('\n');
  const named = new Set(everything.match(PORT_PATTERN) ?? []);
  const mapping = new Map<string, number>();
  for (const text of named) mapping.set(text, await portFor(block.file, text));
  prepared.port = mapping.get('8080') ?? mapping.values().next().value;
  const withPort = (text: string): string => text.replace(PORT_PATTERN, (text) => String(mapping.get(text) ?? text));
  if (directive !== null) {
    prepared.shownRun = directive.run;
    if (directive.run !== undefined) directive.run = withPort(directive.run);
    if (directive.probe !== undefined) directive.probe = withPort(directive.probe);
    if (directive.until !== undefined) directive.until = withPort(directive.until);
    if (directive.expect !== undefined) directive.expect = withPort(directive.expect);
    for (const [name, value] of Object.entries(directive.env)) directive.env[name] = withPort(value);
  }
  const isCode = CODE_LANGS.has(block.lang) && block.mode !== 'skip';
  // Hidden lines go around code, and around a config block too (a fragment made a whole file).
  const wrapped = !SHELL_LANGS.has(block.lang) && block.mode !== 'skip';
  const source = withPort(wrapped ? [...(directive?.before ?? []), block.code, ...(directive?.after ?? [])].join('\n') : block.code) + '\n';
  if (isCode) {
    prepared.path = path.join(dir, `line-${block.line}${block.variant === undefined ? '' : `-${block.variant}`}${extensionOf(block)}`);
    writeFileSync(prepared.path, source);
  }
  if (directive?.file !== undefined) {
    // A file later blocks use (a module, a page): the last version is there for the type check.
    prepared.named = { path: path.join(dir, directive.file), content: source };
    writeFileSync(prepared.named.path, source);
  }
  return prepared;
}

/** What may be wrong with a block before anything runs. */
function lint(prepared: Prepared): void {
  const { block, where } = prepared;
  if (CODE_LANGS.has(block.lang) && block.mode !== 'run' && block.note === null) {
    fail(where, `a ${block.mode === 'skip' ? 'skipped' : 'type-checked only'} block needs a visible note ("> Not run: why") below it`);
  }
  if (
    !CODE_LANGS.has(block.lang) &&
    !SHELL_LANGS.has(block.lang) &&
    block.mode === 'run' &&
    (block.directive?.run === undefined || block.directive.file === undefined)
  ) {
    fail(where, 'a config block to run needs `file:` (where it is written) and `run:` (the command that reads it)');
  }
  if (SHELL_LANGS.has(block.lang)) {
    const starts = /(^|&&\s*|\s)(npm start|npm run example|npx tsx|node\s+\S+\.(m?js|ts))/m.test(block.code);
    if (block.mode === 'run') {
      const command = prepared.shownRun;
      if (command === undefined) fail(where, 'a shell block to run needs `run: <command>` (or `run: block`)');
      else if (command !== 'block' && !block.code.includes(command.split(' && ').at(-1)!))
        fail(where, `the block does not show \`${command}\``);
    } else if (starts && block.directive === null) {
      fail(where, 'a shell block that starts something must be run (a doctest directive) or say why not');
    }
  }
  if (block.lang === 'json' && block.mode !== 'skip') {
    try {
      JSON.parse(block.code);
    } catch (error) {
      fail(where, `JSON does not parse: ${(error as Error).message}`);
    }
  }
}

function typecheck(prepared: Prepared[]): void {
  const files = prepared.filter((p) => p.path !== undefined);
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2022'],
      types: ['node'],
      strict: true,
      noEmit: true,
      allowJs: true,
      checkJs: true,
      skipLibCheck: true,
      allowImportingTsExtensions: true,
      isolatedModules: true,
    },
    files: files.map((p) => path.relative(scratch, p.path!)),
  };
  writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(scratch, 'tsconfig.json'), '--pretty', 'false'], {
      cwd: scratch,
      encoding: 'utf8',
    });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  const byPath = new Map(files.map((p) => [path.resolve(p.path!), p]));
  // A module another block imports (`file: server.ts`): its errors belong to the last block that wrote it.
  for (const p of prepared) if (p.named !== undefined && p.path !== undefined) byPath.set(path.resolve(p.named.path), p);
  for (const line of output.split('\n')) {
    const match = /^(.+?)\((\d+),(\d+)\): (error .*)$/.exec(line);
    if (match === null) {
      if (line.trim() !== '' && !line.startsWith(' ')) fail('tsc', line);
      else if (line.trim() !== '' && failures.length > 0) failures[failures.length - 1] += `\n${line}`;
      continue;
    }
    const owner = byPath.get(path.resolve(scratch, match[1]));
    if (owner === undefined) {
      fail(match[1], match[4]);
      continue;
    }
    const lineInBlock = Number(match[2]) - owner.offset;
    const at =
      lineInBlock >= 1 && lineInBlock <= owner.block.code.split('\n').length ? `line ${owner.block.line + lineInBlock - 1}` : 'hidden code';
    fail(owner.where, `${at}: ${match[4]}`);
  }
  console.log(`  type-checked ${files.length} blocks (tsc, strict, against the package's own declarations)`);
}

let redis: RedisServer | null = null;
let redisChecked: boolean | null = null;

async function redisUrl(): Promise<string | null> {
  redisChecked ??= redisAvailable();
  if (!redisChecked) return null;
  redis ??= await RedisServer.start();
  return redis.url;
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(command: string, argv: string[], cwd: string, env: NodeJS.ProcessEnv): Running {
  // Its own process group, so that `npm start` goes with everything it started.
  const child = spawn(command, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function stop(running: Running): Promise<void> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  const kill = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-running.child.pid!, signal);
    } catch {
      // Gone already.
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 5000);
  await running.exited;
  clearTimeout(timer);
  kill('SIGKILL');
}

function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** The echo probe: text comes back as text, bytes as bytes. */
async function probeEcho(url: string): Promise<void> {
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const reply = (): Promise<[Buffer, boolean]> =>
      new Promise((resolve) => ws.once('message', (data, isBinary) => resolve([data as Buffer, isBinary])));
    ws.send('doctest ✓');
    const [text, textIsBinary] = await reply();
    if (textIsBinary || text.toString() !== 'doctest ✓')
      throw new Error(`text echo came back as ${textIsBinary ? 'binary' : 'text'} ${JSON.stringify(text.toString())}`);
    ws.send(Buffer.from([1, 2, 3]));
    const [bytes, bytesAreBinary] = await reply();
    if (!bytesAreBinary || !bytes.equals(Buffer.from([1, 2, 3]))) throw new Error('binary echo did not come back as the same bytes');
  } finally {
    ws.terminate();
  }
}

async function probe(prepared: Prepared, env: NodeJS.ProcessEnv): Promise<void> {
  const spec = prepared.block.directive?.probe;
  if (spec === undefined || spec === '') return;
  const [kind, url, pattern] = spec.split(/\s+/);
  if (kind === 'echo' && !spec.includes('\n')) return probeEcho(url);
  if (kind === 'http' && !spec.includes('\n')) {
    const response = await fetch(url);
    const body = await response.text();
    if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
    if (pattern !== undefined && !new RegExp(pattern).test(body)) throw new Error(`GET ${url}: the body does not match ${pattern}`);
    return;
  }
  const file = path.join(prepared.dir, `probe-${prepared.block.line}.ts`);
  writeFileSync(file, spec + '\n');
  const running = start(process.execPath, ['--import', 'tsx', file], prepared.dir, env);
  try {
    const code = await deadline(running.exited, PROBE_TIMEOUT, 'the probe');
    if (code !== 0) throw new Error(`the probe failed (exit ${code}):\n${running.output()}`);
  } finally {
    await stop(running);
  }
}

/** Every `file:` block of the same page up to this one, in order: the files as the reader has them at this point. */
function writeFilesUpTo(prepared: Prepared, all: Prepared[]): void {
  for (const p of all) {
    if (p.block.file === prepared.block.file && p.block.line <= prepared.block.line && p.named !== undefined) {
      writeFileSync(p.named.path, p.named.content);
    }
  }
}

/** Whether a program a block needs is on this machine. */
function installed(program: string): boolean {
  return spawnSync(program, ['-v'], { stdio: 'ignore' }).status === 0;
}

async function run(prepared: Prepared, all: Prepared[]): Promise<void> {
  const { block, where } = prepared;
  writeFilesUpTo(prepared, all);
  const directive = block.directive;
  const env: NodeJS.ProcessEnv = { ...process.env, ...directive?.env };
  delete env.NODE_OPTIONS;
  if (prepared.port !== undefined) env.PORT = String(prepared.port);
  if (directive?.redis) {
    const url = await redisUrl();
    if (url === null) {
      console.log(`  skip ${where}: no redis-server here`);
      return;
    }
    env.REDIS_URL = url;
  }
  if (directive?.needs !== undefined && !installed(directive.needs)) {
    const required = `NETWS_REQUIRE_${directive.needs.toUpperCase()}`;
    if (process.env[required] === '1') fail(where, `${directive.needs} is needed (${required}=1) but does not run here`);
    else console.log(`  skip ${where}: no ${directive.needs} here (${required}=1 makes that a failure)`);
    return;
  }
  let running: Running;
  if (!CODE_LANGS.has(block.lang)) {
    // `run: block` runs the whole block as a script, stopping at the first failing command.
    const script = directive!.run === 'block' ? `set -eo pipefail\n${block.code}` : directive!.run!;
    running = start('bash', ['-c', script], directive?.cwd === 'page' ? prepared.dir : root, env);
  } else {
    const program = prepared.named?.path ?? prepared.path!;
    const argv = program.endsWith('.ts') ? ['--import', 'tsx', program] : [program];
    running = start(process.execPath, argv, prepared.dir, env);
  }
  const started = Date.now();
  try {
    if (directive?.until !== undefined) {
      const until = new RegExp(directive.until, 'm');
      await deadline(
        new Promise<void>((resolve, reject) => {
          const check = (): void => {
            if (until.test(running.output())) resolve();
          };
          running.child.stdout!.on('data', check);
          running.child.stderr!.on('data', check);
          check();
          void running.exited.then((code) => reject(new Error(`exited (${code}) before printing /${directive.until}/`)));
        }),
        RUN_TIMEOUT,
        `waiting for /${directive.until}/`,
      );
      await deadline(probe(prepared, env), PROBE_TIMEOUT, 'the probe');
    } else {
      const code = await deadline(running.exited, RUN_TIMEOUT, 'the program to exit on its own');
      if (code !== 0) throw new Error(`exit code ${code}`);
      if (directive?.expect !== undefined && !new RegExp(directive.expect, 'm').test(running.output())) {
        throw new Error(`the output does not match /${directive.expect}/`);
      }
    }
    console.log(`  ok   ${where} (${Date.now() - started} ms)`);
  } catch (error) {
    const output = running.output().trim().split('\n').slice(-15).join('\n    ');
    fail(where, `${(error as Error).message}${output ? `\n    ${output}` : ''}`);
  } finally {
    await stop(running);
  }
}

async function main(): Promise<void> {
  const files = only.length > 0 ? only : markdownFiles(root);
  const brokenLinks = checkLinks();
  for (const problem of brokenLinks) fail('links', problem);
  console.log(`  links: ${brokenLinks.length} broken (README.md and docs/, the generated reference included)`);
  if (!args.includes('--no-build')) execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const blocks = readBlocks(root, files);
  const prepared: Prepared[] = [];
  // Copies taken before prepare() writes the ports into the directives.
  const variants = blocks.flatMap(variantsOf);
  for (const block of [...blocks, ...variants]) prepared.push(await prepare(block));
  for (const p of prepared) lint(p);
  typecheck(prepared);
  const toRun = typecheckOnly
    ? []
    : prepared.filter(
        (p) =>
          p.block.mode === 'run' && (CODE_LANGS.has(p.block.lang) || SHELL_LANGS.has(p.block.lang) || p.block.directive?.run !== undefined),
      );
  // Blocks of one file in order (a later one may use an earlier one's file); files in parallel.
  const queues = new Map<string, Prepared[]>();
  for (const p of toRun) if (!p.block.directive?.alone) queues.set(p.block.file, [...(queues.get(p.block.file) ?? []), p]);
  const pending = [...queues.values()];
  const worker = async (): Promise<void> => {
    for (let queue = pending.shift(); queue !== undefined; queue = pending.shift()) {
      for (const p of queue) await run(p, prepared);
    }
  };
  try {
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    for (const p of toRun) if (p.block.directive?.alone) await run(p, prepared);
  } finally {
    await redis?.stop();
  }
  const code = blocks.filter((b) => CODE_LANGS.has(b.lang));
  const shell = blocks.filter((b) => SHELL_LANGS.has(b.lang));
  const other = blocks.filter((b) => !CODE_LANGS.has(b.lang) && !SHELL_LANGS.has(b.lang));
  const count = (list: Block[], mode: string): number => list.filter((b) => b.mode === mode).length;
  console.log(
    `\n  ${files.length} files; TypeScript/JavaScript blocks: ${code.length} (${count(code, 'run')} run, ` +
      `${count(code, 'typecheck')} type-checked only, ${count(code, 'skip')} skipped with a note); ` +
      `shell blocks: ${shell.length} (${count(shell, 'run')} run); other blocks: ${blocks.length - code.length - shell.length} ` +
      `(${count(other, 'run')} run: configs)`,
  );
  if (variants.length > 0)
    console.log(
      `  and ${variants.length} blocks run again with another module: ${variants.map((b) => `${b.file}:${b.line} with ${b.variant}`).join(', ')}`,
    );
  for (const b of blocks.filter((b) => CODE_LANGS.has(b.lang) && b.mode !== 'run')) {
    console.log(`    ${b.mode === 'skip' ? 'skipped' : 'type-checked only'} ${b.file}:${b.line} ${b.note ?? ''}`);
  }
  const checked = prepared.filter((p) => p.path !== undefined || toRun.includes(p) || p.block.lang === 'json').map((p) => p.where);
  const failedBlocks = checked.filter((where) => failed.has(where)).length;
  console.log(`\ndocs: ${checked.length - failedBlocks} passed, ${failed.size} failed`);
  if (failures.length > 0) {
    console.log(`\n${failures.join('\n')}`);
    process.exitCode = 1;
  }
}

await main();
