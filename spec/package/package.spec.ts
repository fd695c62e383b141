/**
 * The package as users get it: `npm pack` (which builds through prepack),
 * the tarball installed offline into a fresh project, then used with plain
 * node from an ES module and from CommonJS, and typechecked as a TypeScript
 * consumer would. The consumer files are in ./consumer/.
 *
 * NETWS_PACKAGE_NODES (paths joined with ':') runs the two node consumers
 * under more node binaries too, e.g. to check the Node versions in `engines`.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('package: npm pack, installed and used');

const root = fileURLToPath(new URL('../../', import.meta.url));
const consumerFiles = fileURLToPath(new URL('./consumer/', import.meta.url));
const nodes = [process.execPath, ...(process.env.NETWS_PACKAGE_NODES ?? '').split(path.delimiter).filter(Boolean)];

// Children get the environment of a shell, not of the enclosing `npm test`:
// npm_config_local_prefix would point a nested npm at this repository,
// NODE_V8_COVERAGE would make c8 collect (and later parse) tsc's coverage,
// and NODE_OPTIONS could load tsx, hiding a dist/ that plain node cannot run.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE_V8_COVERAGE' && name !== 'NODE_OPTIONS'),
);

const execFileAsync = promisify(execFile);

/** Runs a command to completion within `timeout` ms (then SIGKILL), failing with its output. */
async function run(file: string, args: string[], cwd: string, timeout: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { cwd, env, timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    const failure = error as { killed?: boolean; code?: unknown; stdout?: string; stderr?: string };
    const how = failure.killed ? `killed after ${timeout} ms` : `exit code ${String(failure.code)}`;
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}): ${how}\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

interface Installed {
  /** The temporary project, with node_modules/netws installed from the tarball. */
  project: string;
  /** The packed tarball, in the project. */
  tarball: string;
  /** Paths inside the tarball, without the leading `package/`. */
  files: string[];
}

let installed: Promise<Installed> | undefined;
let temporary: string | undefined;

/** Packs and installs once for all tests (a failing uvu before() hook would not fail the run). */
function install(): Promise<Installed> {
  installed ??= (async () => {
    const project = (temporary = await mkdtemp(path.join(os.tmpdir(), 'netws-package-')));
    // The tarball is the one file in the fresh directory (npm's stdout can carry script output).
    await run('npm', ['pack', '--pack-destination', project], root, 120_000);
    const tarball = path.join(project, (await readdir(project)).find((name) => name.endsWith('.tgz')) ?? 'no tarball');
    const listing = await run('tar', ['-tzf', tarball], project, 10_000);
    const files = listing
      .split('\n')
      .filter(Boolean)
      .map((entry) => entry.replace(/^package\//, ''));

    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'netws-consumer', private: true }));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', tarball], project, 60_000);
    await cp(consumerFiles, project, { recursive: true });
    // The ws-idioms file as an ES module too (the project has no "type": a .ts file is CommonJS).
    await cp(path.join(project, 'types-ws-idioms.ts'), path.join(project, 'types-ws-idioms.mts'));
    // TypeScript and @types/node come from this repository, not the registry.
    const compilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      target: 'es2022',
      types: ['node'],
      typeRoots: [path.join(root, 'node_modules/@types')],
    };
    const tsconfig = (options: object, files: string[]) => JSON.stringify({ compilerOptions: { ...compilerOptions, ...options }, files });
    await writeFile(
      path.join(project, 'tsconfig.nodenext.json'),
      tsconfig({ module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022'] }, [
        'types-esm.mts',
        'types-cjs.cts',
        'types-ws-idioms.ts',
        'types-ws-idioms.mts',
      ]),
    );
    // Tools that ignore "exports" (TypeScript's node10 resolution, old bundlers): "main", "types" and "typesVersions".
    await writeFile(
      path.join(project, 'tsconfig.node10.json'),
      tsconfig({ module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true, lib: ['es2022'] }, ['types-ws-idioms.ts']),
    );
    await writeFile(
      path.join(project, 'tsconfig.bundler.json'),
      tsconfig({ module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'] }, ['types-esm.mts', 'types-ws-idioms.mts']),
    );
    return { project, tarball, files };
  })();
  return installed;
}

test('npm pack ships dist/ (JavaScript without comments, the public declarations with their TSDoc), README.md, LICENSE, CHANGELOG.md, package.json', async () => {
  const { project, files, tarball } = await install();
  const outside = files.filter(
    (file) => !file.startsWith('dist/') && !['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json'].includes(file),
  );
  assert.equal(outside, [], 'files outside the allowed set');
  for (const file of ['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/commonjs.cjs']) {
    assert.ok(files.includes(file), `${file} is missing`);
  }
  const scripts = files.filter((file) => /\.c?js$/.test(file));
  assert.ok(scripts.length > 10, `only ${scripts.length} scripts`);
  assert.equal(
    files.filter((file) => file.endsWith('.map')),
    [],
    "no source maps (the JavaScript keeps src/'s structure and names)",
  );
  // The declarations of the entry points ship; those of internal parts do not (scripts/prune-declarations.ts).
  for (const file of ['dist/index.d.ts', 'dist/commonjs.d.cts', 'dist/adapters/redis.d.ts', 'dist/adapters/redis-commonjs.d.cts']) {
    assert.ok(files.includes(file), `${file} is missing`);
  }
  assert.not.ok(files.includes('dist/connection/transport.d.ts'), "an internal part's declarations shipped");
  // What framework authors weigh (ws: about 36 KB): at most 120 KB packed.
  const packed = (await stat(tarball)).size;
  assert.ok(packed <= 120 * 1024, `the tarball is ${packed} bytes, over 120 KiB`);
  const packageDir = path.join(project, 'node_modules/netws');
  const javascript = await readFile(path.join(packageDir, 'dist/websocket.js'), 'utf8');
  assert.not.match(javascript, /\/\*\*|^\s*\/\/ /m, 'comments left in the JavaScript');
  const declarations = await readFile(path.join(packageDir, 'dist/websocket.d.ts'), 'utf8');
  assert.ok((declarations.match(/\/\*\*/g) ?? []).length > 20, 'the TSDoc is gone from the declarations');
  const manifest = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.is(manifest.dependencies, undefined, 'netws has no runtime dependencies');
});

test('an ES module: default and named imports, the same class as require(), the WebAssembly mask, an echo round trip', async () => {
  const { project } = await install();
  for (const node of nodes) {
    assert.match(await run(node, ['run-esm.mjs'], project, 20_000), /esm ok/, node);
  }
});

test('CommonJS: require() returns the class with .Server, .WebSocketServer, .WebSocket, .createWebSocketStream, the same as import(); an echo round trip', async () => {
  const { project } = await install();
  for (const node of nodes) {
    assert.match(await run(node, ['run-cjs.cjs'], project, 20_000), /cjs ok/, node);
  }
});

test('TypeScript consumers typecheck: nodenext (ES module and CommonJS), bundler, node10; code written for @types/ws compiles', async () => {
  const { project } = await install();
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  await Promise.all(
    ['tsconfig.nodenext.json', 'tsconfig.bundler.json', 'tsconfig.node10.json'].map((config) =>
      run(process.execPath, [tsc, '-p', config], project, 120_000),
    ),
  );
});

test('tools that ignore "exports": require() of the package folder ("main") gives the class', async () => {
  const { project } = await install();
  const script =
    "const W = require('./node_modules/netws'); if (typeof W !== 'function' || W !== require('netws')) process.exit(1); console.log('main ok');";
  assert.match(await run(process.execPath, ['-e', script], project, 20_000), /main ok/);
});

test('attw: the types resolve in every mode (node10, node16 from CommonJS and ES modules, bundler); publint: no problem', async () => {
  const { project, tarball } = await install();
  const bin = (name: string) => path.join(root, 'node_modules/.bin', name);
  await run(bin('attw'), [tarball, '--format', 'table-flipped'], project, 120_000);
  const lint = await run(bin('publint'), ['run', tarball, '--strict'], project, 120_000);
  assert.not.match(lint, /error|warning|suggestion/i, lint);
});

test.after(async () => {
  if (temporary !== undefined) await rm(temporary, { recursive: true, force: true });
});

test.run();
