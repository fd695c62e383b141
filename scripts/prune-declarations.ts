/**
 * Part of `npm run build`: the shipped declarations are only what the
 * public API reaches (scripts/declarations.ts). tsc emits a .d.ts for every
 * file of src/, the internal parts of a connection included; this keeps, in
 * each file, the declarations the entry points reach and the imports and
 * re-exports they use, and removes the files nothing public reaches. Users'
 * editors then show the public surface only, and the package is smaller.
 * The TSDoc of what remains is kept. Checked by spec/package/ (the
 * declarations typecheck with skipLibCheck off in four resolution modes).
 *
 * Usage: tsx scripts/prune-declarations.ts [dist]
 */

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { PublicSurface, walk } from './declarations.ts';

const dist = path.resolve(process.argv[2] ?? fileURLToPath(new URL('../dist/', import.meta.url)));
const surface = new PublicSurface(dist);
const kept = new Set<ts.Statement>(surface.reached.keys());

let removed = 0;
let rewritten = 0;
for (const file of [...walk(dist)]) {
  // The CommonJS entries only re-export an ES module entry's declarations.
  if (file.endsWith('commonjs.d.cts')) continue;
  const module = surface.modules.get(file);
  const source = module?.source ?? ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const used = (name: string): boolean => surface.usedImports.has(`${file}\u0000${name}`);
  const parts: string[] = [];
  let keepsDeclaration = false;
  for (const statement of source.statements) {
    const text = keptText(statement, used);
    if (text === null) continue;
    // A file ships if something public is declared or re-exported in it (imports alone do not count).
    if (!ts.isImportDeclaration(statement) && !ts.isImportEqualsDeclaration(statement) && !isModuleMarker(statement))
      keepsDeclaration = true;
    parts.push(text);
  }
  if (!keepsDeclaration) {
    rmSync(file);
    removed++;
    continue;
  }
  const text = `${parts.join('\n')}\n`;
  if (text !== source.text) {
    writeFileSync(file, text);
    rewritten++;
  }
}
console.log(`declarations: ${surface.reached.size} public, ${rewritten} files pruned, ${removed} internal files removed`);

/** What of `statement` ships: all of it, the used part of an import or re-export, or nothing (null). */
function keptText(statement: ts.Statement, used: (name: string) => boolean): string | null {
  const full = statement.getFullText().replace(/^\n+/, '');
  if (kept.has(statement)) return full;
  if (ts.isImportDeclaration(statement)) {
    const specifier = (statement.moduleSpecifier as ts.StringLiteral).text;
    // node:* and other packages: their names are not followed, and an unused import of them is harmless.
    if (!specifier.startsWith('.')) return full;
    const clause = statement.importClause;
    if (clause === undefined) return null;
    const names: string[] = [];
    const typeOnly = clause.isTypeOnly ? 'type ' : '';
    const bindings = clause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) return used(bindings.name.text) ? full : null;
    if (clause.name && used(clause.name.text)) names.push('default as ' + clause.name.text);
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) if (used(element.name.text)) names.push(element.getText());
    }
    return names.length === 0 ? null : `import ${typeOnly}{ ${names.join(', ')} } from '${specifier}';`;
  }
  if (ts.isImportEqualsDeclaration(statement)) return used(statement.name.text) ? full : null;
  if (ts.isExportDeclaration(statement)) {
    const clause = statement.exportClause;
    // `export {};` marks a module; `export * from` is followed name by name, so the whole of it ships.
    if (clause === undefined || !ts.isNamedExports(clause)) return full;
    const fromFile = statement.moduleSpecifier !== undefined;
    if (clause.elements.length === 0) return full;
    const elements = clause.elements.filter((element) =>
      fromFile
        ? used(`${element.name.text}\u0000reexport`)
        : surface.visited.has(`${statement.getSourceFile().fileName}\u0000${(element.propertyName ?? element.name).text}`),
    );
    if (elements.length === 0) return null;
    const typeOnly = statement.isTypeOnly ? 'type ' : '';
    const from = fromFile ? ` from '${(statement.moduleSpecifier as ts.StringLiteral).text}'` : '';
    return `export ${typeOnly}{ ${elements.map((element) => element.getText()).join(', ')} }${from};`;
  }
  if (ts.isExportAssignment(statement)) return full;
  return null;
}

/** `export {};`: tsc's mark of a module that exports nothing. */
function isModuleMarker(statement: ts.Statement): boolean {
  return (
    ts.isExportDeclaration(statement) &&
    statement.exportClause !== undefined &&
    ts.isNamedExports(statement.exportClause) &&
    statement.exportClause.elements.length === 0
  );
}
