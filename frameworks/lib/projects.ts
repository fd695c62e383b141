/**
 * Scratch projects: a framework folder's package.json template and test
 * body, installed from the npm registry into a temporary directory, once
 * with the real ws and once with ws overridden to the packed netws tarball.
 * Both variants set npm `overrides` for ws, so that every copy of ws in the
 * tree is the one under test: express-ws still asks for ws 7 and
 * @y/websocket-server for ws 6, and their APIs differ from ws 8's, which
 * netws follows.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec } from './processes.ts';

export type Variant = 'ws' | 'netws';

export interface ProjectSpec {
  /** The folder under frameworks/ with package.json (the template) and the body. */
  folder: string;
  /** An npm spec whose tarball becomes the project itself (its own tests run in it). */
  upstream?: string;
  /** Also install netws under its own name in the netws variant, for `require('netws')`. */
  netwsByName?: boolean;
}

interface PackageJson {
  name?: string;
  description?: string;
  private?: boolean;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  overrides?: Record<string, string>;
  [field: string]: unknown;
}

const frameworksDir = fileURLToPath(new URL('../', import.meta.url));
const commonDir = path.join(frameworksDir, 'common');

/** `npm pack` of the repository (its prepack builds dist/) into `destination`; the tarball's path. */
export async function packNetws(repository: string, destination: string): Promise<string> {
  await mkdir(destination, { recursive: true });
  await exec('npm', ['pack', '--pack-destination', destination], repository, 300_000);
  const tarball = (await readdir(destination)).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack left no tarball in ${destination}`);
  return path.join(destination, tarball);
}

/** The ws version a template pins: every template lists ws in its dependencies. */
export async function pinnedWs(folder: string): Promise<string> {
  const template = JSON.parse(await readFile(path.join(frameworksDir, folder, 'package.json'), 'utf8')) as PackageJson;
  const version = template.dependencies?.ws;
  if (!version) throw new Error(`frameworks/${folder}/package.json does not pin ws`);
  return version;
}

/** Writes and installs the scratch project of `spec` for `variant` under `root`; its directory. */
export async function prepareProject(spec: ProjectSpec, variant: Variant, tarball: string, root: string): Promise<string> {
  const dir = path.join(root, `${spec.folder}-${variant}`);
  await mkdir(dir, { recursive: true });
  let base: PackageJson = {};
  if (spec.upstream) {
    const downloads = path.join(root, 'upstream', `${spec.folder}-${variant}`);
    await mkdir(downloads, { recursive: true });
    await exec('npm', ['pack', spec.upstream, '--prefer-offline', '--pack-destination', downloads], downloads, 120_000);
    const file = (await readdir(downloads)).find((name) => name.endsWith('.tgz'));
    await exec('tar', ['-xzf', path.join(downloads, file!), '-C', dir, '--strip-components=1'], dir, 60_000);
    base = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
  }
  const template = JSON.parse(await readFile(path.join(frameworksDir, spec.folder, 'package.json'), 'utf8')) as PackageJson;
  const wsSpec = variant === 'ws' ? await pinnedWs(spec.folder) : `file:${tarball}`;
  const manifest: PackageJson = {
    ...base,
    name: template.name,
    description: template.description,
    private: true,
    scripts: undefined,
    // An override and a direct dependency on the same package must agree, or npm refuses (EOVERRIDE).
    dependencies: { ...base.dependencies, ...template.dependencies, ws: wsSpec },
    devDependencies: template.devDependencies,
    overrides: { ws: wsSpec },
  };
  if (variant === 'netws' && spec.netwsByName) manifest.dependencies!.netws = `file:${tarball}`;
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await cp(path.join(frameworksDir, spec.folder), dir, { recursive: true, filter: (source) => path.basename(source) !== 'package.json' });
  await cp(commonDir, dir, { recursive: true });
  // No lockfile: the direct dependencies are pinned in the templates, their own follow npm's resolution of
  // the day, as a new project of a user's would. Install scripts stay off (npm 11 asks before running them).
  await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--no-package-lock'], dir, 300_000);
  return dir;
}

/** Every copy of ws installed in a project: "<name>@<version>" with its path, to check the override took. */
export async function wsCopies(dir: string): Promise<string[]> {
  const copies: string[] = [];
  const visit = async (modules: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(modules);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.startsWith('.')) continue;
      const packages = entry.startsWith('@') ? (await readdir(path.join(modules, entry))).map((name) => path.join(entry, name)) : [entry];
      for (const name of packages) {
        const packageDir = path.join(modules, name);
        if (name === 'ws') {
          const manifest = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as PackageJson;
          copies.push(`${manifest.name}@${manifest.version as string} (${path.relative(dir, packageDir)})`);
        }
        await visit(path.join(packageDir, 'node_modules'));
      }
    }
  };
  await visit(path.join(dir, 'node_modules'));
  return copies;
}

/** The installed versions of the template's direct dependencies. */
export async function installedVersions(dir: string, spec: ProjectSpec): Promise<string[]> {
  const template = JSON.parse(await readFile(path.join(frameworksDir, spec.folder, 'package.json'), 'utf8')) as PackageJson;
  const names = [...Object.keys(template.dependencies ?? {}), ...Object.keys(template.devDependencies ?? {})].filter(
    (name) => name !== 'ws',
  );
  const versions: string[] = [];
  if (spec.upstream) {
    const own = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
    versions.push(`${spec.upstream.replace(/@[^@]*$/, '')}@${own.version as string}`);
  }
  for (const name of names) {
    const manifest = JSON.parse(await readFile(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')) as PackageJson;
    versions.push(`${name}@${manifest.version as string}`);
  }
  return versions;
}
