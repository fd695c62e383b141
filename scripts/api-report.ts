/**
 * npm run api:report [-- --check]
 *
 * The public API as the shipped declarations give it: compiles src/'s
 * declarations as `npm run build` does (stripInternal), then, starting from
 * what the package's entry points export (netws, netws/redis), follows every
 * name their declarations use, across files, and writes the declarations
 * reached to etc/api-report.md, file by file. Declarations nothing public
 * reaches (the internal parts of a connection, say) are left out, so the
 * report changes only when the public surface does.
 *
 * --check (CI): fails if the report differs from the committed one (a change
 * of the public surface must be a reviewed change of that file too), or if
 * any shipped declaration still carries an @internal member.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../', import.meta.url));
const REPORT = path.join(root, 'etc/api-report.md');
const ENTRIES = ['index.d.ts', 'adapters/redis.d.ts'];

/** Compiles the declarations into a temporary folder; returns it. */
function emitDeclarations(): string {
  const out = mkdtempSync(path.join(os.tmpdir(), 'netws-api-'));
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  execFileSync(
    process.execPath,
    [tsc, '-p', path.join(root, 'tsconfig.json'), '--emitDeclarationOnly', '--declarationMap', 'false', '--outDir', out],
    {
      stdio: 'inherit',
    },
  );
  return out;
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(file);
    else if (entry.name.endsWith('.d.ts') || entry.name.endsWith('.d.cts')) yield file;
  }
}

interface Declaration {
  file: string;
  node: ts.Statement;
  text: string;
}

/** One declaration file: its top-level declarations by name, and where its imported names come from. */
interface Module {
  file: string;
  declarations: Map<string, ts.Statement[]>;
  /** Local name → [file, name there] (imports and `export { x } from`). */
  imports: Map<string, [string, string]>;
  /** `export * from`: files whose exports this one re-exports. */
  starExports: string[];
  /** Exported name → local name. */
  exports: Map<string, string>;
  source: ts.SourceFile;
}

function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null; // node:* and other packages: not ours
  const base = path.resolve(path.dirname(from), specifier).replace(/\.(c?js|ts)$/, '');
  for (const candidate of [`${base}.d.ts`, `${base}.d.cts`, path.join(base, 'index.d.ts')]) if (existsSync(candidate)) return candidate;
  return null;
}

function declarationNames(statement: ts.Statement): string[] {
  if (ts.isVariableStatement(statement)) return statement.declarationList.declarations.map((d) => d.name.getText());
  const name = (statement as ts.Statement & { name?: ts.Node }).name;
  return name === undefined ? [] : [name.getText()];
}

function isExported(statement: ts.Statement): boolean {
  return (ts.getCombinedModifierFlags(statement as unknown as ts.Declaration) & ts.ModifierFlags.Export) !== 0;
}

const modules = new Map<string, Module>();

function load(file: string): Module {
  const known = modules.get(file);
  if (known !== undefined) return known;
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const module: Module = { file, declarations: new Map(), imports: new Map(), starExports: [], exports: new Map(), source };
  modules.set(file, module);
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) || ts.isImportEqualsDeclaration(statement)) {
      const specifier = ts.isImportDeclaration(statement)
        ? (statement.moduleSpecifier as ts.StringLiteral).text
        : ((statement.moduleReference as ts.ExternalModuleReference).expression as ts.StringLiteral).text;
      const target = resolveSpecifier(file, specifier);
      if (target === null) continue;
      if (ts.isImportEqualsDeclaration(statement)) {
        module.imports.set(statement.name.text, [target, '*']);
        continue;
      }
      const clause = statement.importClause;
      if (clause?.name) module.imports.set(clause.name.text, [target, 'default']);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements)
          module.imports.set(element.name.text, [target, (element.propertyName ?? element.name).text]);
      } else if (bindings && ts.isNamespaceImport(bindings)) {
        module.imports.set(bindings.name.text, [target, '*']);
      }
    } else if (ts.isExportDeclaration(statement)) {
      const target = statement.moduleSpecifier ? resolveSpecifier(file, (statement.moduleSpecifier as ts.StringLiteral).text) : null;
      const clause = statement.exportClause;
      if (clause === undefined) {
        if (target !== null) module.starExports.push(target);
      } else if (ts.isNamedExports(clause)) {
        for (const element of clause.elements) {
          const local = (element.propertyName ?? element.name).text;
          if (target !== null) {
            const alias = `${element.name.text}\u0000reexport`;
            module.imports.set(alias, [target, local]);
            module.exports.set(element.name.text, alias);
          } else {
            module.exports.set(element.name.text, local);
          }
        }
      }
    } else if (ts.isExportAssignment(statement)) {
      module.exports.set('default', (statement.expression as ts.Identifier).text);
    } else {
      for (const name of declarationNames(statement)) {
        const list = module.declarations.get(name) ?? [];
        list.push(statement);
        module.declarations.set(name, list);
        if (isExported(statement)) {
          const isDefault = (ts.getCombinedModifierFlags(statement as unknown as ts.Declaration) & ts.ModifierFlags.Default) !== 0;
          module.exports.set(isDefault ? 'default' : name, name);
        }
      }
    }
  }
  return module;
}

const reached = new Map<ts.Statement, Declaration>();
const visited = new Set<string>();

/** Includes what `name` means in `file` (a declaration, an import, a re-export), and everything it refers to. */
function include(file: string, name: string): void {
  const key = `${file}\u0000${name}`;
  if (visited.has(key)) return;
  visited.add(key);
  const module = load(file);
  const statements = module.declarations.get(name);
  if (statements !== undefined) {
    for (const statement of statements) {
      if (reached.has(statement)) continue;
      reached.set(statement, { file, node: statement, text: statement.getText(module.source) });
      // Every identifier it uses may name another declaration of this file or an import.
      const visit = (node: ts.Node): void => {
        if (ts.isIdentifier(node)) {
          if (module.declarations.has(node.text)) include(file, node.text);
          const imported = module.imports.get(node.text);
          if (imported !== undefined) includeExport(imported[0], imported[1]);
        } else if (ts.isQualifiedName(node) || ts.isPropertyAccessExpression(node)) {
          // `import('./x.js').Name` and `ns.Name`: the left side is followed, and the name in it.
        }
        if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
          const target = resolveSpecifier(file, node.argument.literal.text);
          const qualifier = node.qualifier;
          if (target !== null && qualifier !== undefined)
            includeExport(target, ts.isIdentifier(qualifier) ? qualifier.text : qualifier.left.getText());
        }
        ts.forEachChild(node, visit);
      };
      ts.forEachChild(statement, visit);
    }
  }
  const imported = module.imports.get(name);
  if (imported !== undefined) includeExport(imported[0], imported[1]);
}

/** Includes what `file` exports as `name` ('*': everything it exports). */
function includeExport(file: string, name: string): void {
  const module = load(file);
  if (name === '*') {
    for (const exported of module.exports.keys()) includeExport(file, exported);
    for (const star of module.starExports) includeExport(star, '*');
    return;
  }
  const local = module.exports.get(name);
  if (local !== undefined) {
    include(file, local);
    return;
  }
  for (const star of module.starExports) includeExport(star, name);
}

function report(out: string): string {
  for (const entry of ENTRIES) includeExport(path.join(out, entry), '*');
  // Declaration merging (a class and its namespace, an interface merged into a class) lives in several statements: all are reached by name.
  const byFile = new Map<string, Declaration[]>();
  for (const declaration of reached.values()) {
    const list = byFile.get(declaration.file) ?? [];
    list.push(declaration);
    byFile.set(declaration.file, list);
  }
  const lines = [
    '# The public API of netws',
    '',
    'Generated by `npm run api:report` from the declarations `npm run build` ships (what the entry points',
    '`netws` and `netws/redis` export, and every declaration those reach). CI regenerates it and fails on a',
    'difference: a change here is a change of the public surface, to be reviewed as one.',
    '',
  ];
  for (const file of [...byFile.keys()].sort()) {
    const declarations = byFile.get(file)!.sort((a, b) => a.node.pos - b.node.pos);
    lines.push(`## ${path.relative(out, file).split(path.sep).join('/')}`, '', '```ts');
    for (const declaration of declarations) lines.push(declaration.text, '');
    lines.pop();
    lines.push('```', '');
  }
  return lines.join('\n');
}

const check = process.argv.includes('--check');
const out = emitDeclarations();
try {
  const internal: string[] = [];
  for (const file of walk(out)) {
    const text = readFileSync(file, 'utf8');
    if (text.includes('@internal')) internal.push(path.relative(out, file));
  }
  const text = report(out);
  if (check) {
    const committed = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : '';
    if (internal.length > 0) {
      console.error(`@internal members in the shipped declarations: ${internal.join(', ')}`);
      process.exitCode = 1;
    }
    if (committed !== text) {
      writeFileSync(`${REPORT}.new`, text);
      console.error(`etc/api-report.md is out of date: the public API changed. Review etc/api-report.md.new and run npm run api:report.`);
      process.exitCode = 1;
    } else if (internal.length === 0) {
      console.log(`api report: unchanged (${reached.size} declarations); no @internal member shipped`);
    }
  } else {
    writeFileSync(REPORT, text);
    console.log(
      `wrote etc/api-report.md (${reached.size} declarations)${internal.length > 0 ? `; @internal still in ${internal.join(', ')}` : ''}`,
    );
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
