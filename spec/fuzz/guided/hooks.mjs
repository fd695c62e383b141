/**
 * Module hooks of the coverage-guided fuzzer (registered by register.ts):
 * every `src/**.ts` file is compiled with TypeScript and instrumented with
 * edge counters, as libFuzzer's SanitizerCoverage does for C. V8's own
 * precise coverage (inspector Profiler) was measured first: one
 * takePreciseCoverage costs milliseconds, which caps a fuzzer at a few
 * hundred executions per second; a counter increment costs nanoseconds.
 *
 * A counter is `__netwsFz[i]++` on a global Uint32Array made by register.ts
 * in the main thread (a global, not a module binding, so a function called
 * through an import cycle before its module body ran still counts). Points:
 * each function's entry, both arms of every `if` (an implicit else too), of
 * `?:`, the right side of `&&`, `||` and `??` (and their assignments), each
 * `case`, each loop body and each `catch`. Plain JavaScript in this file:
 * the hooks thread loads it before anything could compile TypeScript for it.
 */

import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

let root = '';
/** Counter 0 is never used: an index of 0 means "none" in the reports. */
let nextCounter = 1;
let maxCounters = 0;

export function initialize(data) {
  root = data.root;
  maxCounters = data.maxCounters;
}

const COUNTERS = '__netwsFz';

function counterExpression(f, index) {
  return f.createPostfixIncrement(f.createElementAccessExpression(f.createIdentifier(COUNTERS), f.createNumericLiteral(index)));
}

/** Instruments one file's JavaScript; returns the code and its points (line and kind of each counter). */
export function instrument(fileName, js, originalLine = (line) => line) {
  const source = ts.createSourceFile(fileName, js, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const points = [];
  const transformer = (context) => {
    const f = context.factory;
    const point = (node, kind) => {
      const index = nextCounter++;
      const at = source.getLineAndCharacterOfPosition(node.getStart(source));
      const line = originalLine(at.line, at.character);
      points.push({ index, line, kind });
      return counterExpression(f, index);
    };
    const statement = (node, kind) => f.createExpressionStatement(point(node, kind));
    /** `stmt` as a block that counts first. */
    const counted = (stmt, kind, anchor) => {
      const visited = ts.visitNode(stmt, visit);
      const body = ts.isBlock(visited) ? [...visited.statements] : [visited];
      return f.createBlock([statement(anchor ?? stmt, kind), ...body], true);
    };
    const countedExpression = (expr, kind) =>
      f.createParenthesizedExpression(f.createCommaListExpression([point(expr, kind), ts.visitNode(expr, visit)]));
    const countedBody = (node) => {
      const body = ts.visitNode(node.body, visit);
      if (body === undefined) return undefined;
      if (ts.isBlock(body)) return f.updateBlock(body, [statement(node, 'function'), ...body.statements]);
      return f.createParenthesizedExpression(f.createCommaListExpression([point(node, 'function'), body]));
    };
    const visit = (node) => {
      if (ts.isIfStatement(node)) {
        const thenStatement = counted(node.thenStatement, 'then');
        const elseStatement =
          node.elseStatement === undefined
            ? f.createBlock([statement(node, 'else (implicit)')], true)
            : counted(node.elseStatement, 'else');
        return f.updateIfStatement(node, ts.visitNode(node.expression, visit), thenStatement, elseStatement);
      }
      if (ts.isConditionalExpression(node)) {
        return f.updateConditionalExpression(
          node,
          ts.visitNode(node.condition, visit),
          node.questionToken,
          countedExpression(node.whenTrue, '?:'),
          node.colonToken,
          countedExpression(node.whenFalse, ':'),
        );
      }
      if (ts.isBinaryExpression(node)) {
        const op = node.operatorToken.kind;
        const logical = [
          ts.SyntaxKind.AmpersandAmpersandToken,
          ts.SyntaxKind.BarBarToken,
          ts.SyntaxKind.QuestionQuestionToken,
          ts.SyntaxKind.AmpersandAmpersandEqualsToken,
          ts.SyntaxKind.BarBarEqualsToken,
          ts.SyntaxKind.QuestionQuestionEqualsToken,
        ];
        if (logical.includes(op)) {
          return f.updateBinaryExpression(
            node,
            ts.visitNode(node.left, visit),
            node.operatorToken,
            countedExpression(node.right, ts.tokenToString(op)),
          );
        }
      }
      if (ts.isCaseClause(node)) {
        return f.updateCaseClause(node, ts.visitNode(node.expression, visit), [
          statement(node, 'case'),
          ...ts.visitNodes(node.statements, visit),
        ]);
      }
      if (ts.isDefaultClause(node)) {
        return f.updateDefaultClause(node, [statement(node, 'default'), ...ts.visitNodes(node.statements, visit)]);
      }
      if (ts.isCatchClause(node)) {
        const block = ts.visitNode(node.block, visit);
        return f.updateCatchClause(node, node.variableDeclaration, f.updateBlock(block, [statement(node, 'catch'), ...block.statements]));
      }
      if (ts.isForStatement(node)) {
        return f.updateForStatement(
          node,
          ts.visitNode(node.initializer, visit),
          ts.visitNode(node.condition, visit),
          ts.visitNode(node.incrementor, visit),
          counted(node.statement, 'loop'),
        );
      }
      if (ts.isForOfStatement(node)) {
        return f.updateForOfStatement(
          node,
          node.awaitModifier,
          ts.visitNode(node.initializer, visit),
          ts.visitNode(node.expression, visit),
          counted(node.statement, 'loop'),
        );
      }
      if (ts.isForInStatement(node)) {
        return f.updateForInStatement(
          node,
          ts.visitNode(node.initializer, visit),
          ts.visitNode(node.expression, visit),
          counted(node.statement, 'loop'),
        );
      }
      if (ts.isWhileStatement(node)) {
        return f.updateWhileStatement(node, ts.visitNode(node.expression, visit), counted(node.statement, 'loop'));
      }
      if (ts.isDoStatement(node)) {
        return f.updateDoStatement(node, counted(node.statement, 'loop'), ts.visitNode(node.expression, visit));
      }
      if (ts.isFunctionDeclaration(node)) {
        return f.updateFunctionDeclaration(
          node,
          node.modifiers,
          node.asteriskToken,
          node.name,
          node.typeParameters,
          ts.visitNodes(node.parameters, visit),
          node.type,
          countedBody(node),
        );
      }
      if (ts.isFunctionExpression(node)) {
        return f.updateFunctionExpression(
          node,
          node.modifiers,
          node.asteriskToken,
          node.name,
          node.typeParameters,
          ts.visitNodes(node.parameters, visit),
          node.type,
          countedBody(node),
        );
      }
      if (ts.isArrowFunction(node)) {
        return f.updateArrowFunction(
          node,
          node.modifiers,
          node.typeParameters,
          ts.visitNodes(node.parameters, visit),
          node.type,
          node.equalsGreaterThanToken,
          countedBody(node),
        );
      }
      if (ts.isMethodDeclaration(node) && node.body !== undefined) {
        return f.updateMethodDeclaration(
          node,
          node.modifiers,
          node.asteriskToken,
          node.name,
          node.questionToken,
          node.typeParameters,
          ts.visitNodes(node.parameters, visit),
          node.type,
          countedBody(node),
        );
      }
      if (ts.isConstructorDeclaration(node) && node.body !== undefined) {
        return f.updateConstructorDeclaration(node, node.modifiers, ts.visitNodes(node.parameters, visit), countedBody(node));
      }
      if (ts.isGetAccessorDeclaration(node) && node.body !== undefined) {
        return f.updateGetAccessorDeclaration(
          node,
          node.modifiers,
          node.name,
          ts.visitNodes(node.parameters, visit),
          node.type,
          countedBody(node),
        );
      }
      if (ts.isSetAccessorDeclaration(node) && node.body !== undefined) {
        return f.updateSetAccessorDeclaration(node, node.modifiers, node.name, ts.visitNodes(node.parameters, visit), countedBody(node));
      }
      return ts.visitEachChild(node, visit, context);
    };
    return (file) => ts.visitNode(file, visit);
  };
  const result = ts.transform(source, [transformer]);
  const code = ts.createPrinter().printFile(result.transformed[0]);
  result.dispose();
  return { code, points };
}

export async function load(url, context, nextLoad) {
  if (root === '' || !url.startsWith(root) || !url.endsWith('.ts') || url.endsWith('.d.ts')) {
    return nextLoad(url, context);
  }
  const fileName = fileURLToPath(url);
  const typescript = readFileSync(fileName, 'utf8');
  const output = ts.transpileModule(typescript, {
    fileName,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: true,
      useDefineForClassFields: true,
      sourceMap: true,
    },
  });
  const js = output.outputText.replace(/\n\/\/# sourceMappingURL=.*$/, '');
  // Report lines of the TypeScript source, not of the JavaScript made from it.
  const map = new SourceMap(JSON.parse(output.sourceMapText));
  const originalLine = (line, column) => {
    const entry = map.findEntry(line, column);
    return entry.originalLine === undefined ? 0 : entry.originalLine + 1;
  };
  const first = nextCounter;
  const { code, points } = instrument(fileName, js, originalLine);
  if (nextCounter > maxCounters) throw new Error(`fuzz instrumentation: more than ${maxCounters} counters`);
  const file = fileName.slice(fileURLToPath(root).length);
  const meta = JSON.stringify({ file, first, end: nextCounter, points: points.map((p) => [p.index, p.line, p.kind]) });
  // The file's points, for the coverage report (register.ts collects them).
  const source = `globalThis.__netwsFzFiles?.push(${meta});\n${code}`;
  return { format: 'module', source, shortCircuit: true };
}
