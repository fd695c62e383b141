/**
 * What the shipped declarations make public: starting from the package's
 * entry points (netws, netws/redis), every declaration their exports reach,
 * across files. Used by the API report (scripts/api-report.ts: what is
 * public) and by the build (scripts/prune-declarations.ts: ships only
 * that), so the two cannot disagree.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** The package's entry points, as declaration files relative to dist/ (the CommonJS ones only re-export these). */
export const ENTRIES = ['index.d.ts', 'adapters/redis.d.ts'];

export function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(file);
    else if (entry.name.endsWith('.d.ts') || entry.name.endsWith('.d.cts')) yield file;
  }
}

export interface Declaration {
  file: string;
  node: ts.Statement;
  text: string;
}

/** One declaration file: its top-level declarations by name, and where its imported names come from. */
export interface Module {
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

/** The declarations reached from the entry points of the declarations in `dir`. */
export class PublicSurface {
  readonly modules = new Map<string, Module>();
  readonly reached = new Map<ts.Statement, Declaration>();
  /** `file\0name` for every name looked up in a file (a declaration, an import, a re-export). */
  readonly visited = new Set<string>();
  /** `file\0local name` for every import a reached declaration uses. */
  readonly usedImports = new Set<string>();

  constructor(readonly dir: string) {
    for (const entry of ENTRIES) {
      const file = path.join(dir, entry);
      if (existsSync(file)) this.includeExport(file, '*');
    }
    this.includeAugmentations();
  }

  /** Marks `statement` of `file` reached, and everything it names: declarations of the file, imports, `import()` types. */
  private reach(file: string, module: Module, statement: ts.Statement): void {
    if (this.reached.has(statement)) return;
    this.reached.set(statement, { file, node: statement, text: statement.getText(module.source) });
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node)) {
        if (module.declarations.has(node.text)) this.include(file, node.text);
        const imported = module.imports.get(node.text);
        if (imported !== undefined) {
          this.usedImports.add(`${file}\u0000${node.text}`);
          this.includeExport(imported[0], imported[1]);
        }
      }
      if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        const target = resolveSpecifier(file, node.argument.literal.text);
        const qualifier = node.qualifier;
        if (target !== null && qualifier !== undefined)
          this.includeExport(target, ts.isIdentifier(qualifier) ? qualifier.text : qualifier.left.getText());
      }
      ts.forEachChild(node, visit);
    };
    ts.forEachChild(statement, visit);
  }

  /**
   * `declare module './x.js' { ... }` adds members to a declaration of x
   * (the topic methods of WebSocket, in topics.ts): reached when x's file is,
   * as it changes what that public declaration offers. Repeated until
   * nothing new is reached.
   */
  private includeAugmentations(): void {
    for (let before = -1; before !== this.reached.size; ) {
      before = this.reached.size;
      for (const module of [...this.modules.values()]) {
        for (const statement of module.source.statements) {
          if (!ts.isModuleDeclaration(statement) || !ts.isStringLiteral(statement.name)) continue;
          const target = resolveSpecifier(module.file, statement.name.text);
          if (target !== null && [...this.reached.values()].some((declaration) => declaration.file === target)) {
            this.reach(module.file, module, statement);
          }
        }
      }
    }
  }

  load(file: string): Module {
    const known = this.modules.get(file);
    if (known !== undefined) return known;
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const module: Module = { file, declarations: new Map(), imports: new Map(), starExports: [], exports: new Map(), source };
    this.modules.set(file, module);
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

  /** Includes what `name` means in `file` (a declaration, an import, a re-export), and everything it refers to. */
  include(file: string, name: string): void {
    const key = `${file}\u0000${name}`;
    if (this.visited.has(key)) return;
    this.visited.add(key);
    const module = this.load(file);
    const statements = module.declarations.get(name);
    if (statements !== undefined) {
      for (const statement of statements) this.reach(file, module, statement);
    }
    const imported = module.imports.get(name);
    if (imported !== undefined) {
      this.usedImports.add(key);
      this.includeExport(imported[0], imported[1]);
    }
  }

  /** Includes what `file` exports as `name` ('*': everything it exports). */
  includeExport(file: string, name: string): void {
    const module = this.load(file);
    if (name === '*') {
      for (const exported of module.exports.keys()) this.includeExport(file, exported);
      for (const star of module.starExports) this.includeExport(star, '*');
      return;
    }
    const local = module.exports.get(name);
    if (local !== undefined) {
      this.include(file, local);
      return;
    }
    for (const star of module.starExports) this.includeExport(star, name);
  }
}
