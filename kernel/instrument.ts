/**
 * What the ctxlab kernel does to a cell's JavaScript between tslab's converter and vm (executor.ts):
 *
 *  1. **Interrupt checkpoints.** Every loop body starts with `__ctxlab__.loop()`, every `await X`
 *     becomes `__ctxlab__.after(await __ctxlab__.race(X))`, and every function given to
 *     `.then/.catch/.finally` is wrapped by `__ctxlab__.cb(f)`. Each checks the AbortSignal of the
 *     execution that owns the running code (AsyncLocalStorage, kernel/context.ts): once that cell was
 *     interrupted, its code throws `CellInterrupted` at the next checkpoint, and an await it is
 *     blocked in is rejected at once. So an interrupted cell stops *its own code* — the loop, the
 *     awaited chain, the timer callback — not only the kernel's wait for it. Library calls that
 *     honour the signal (dTraining, dInference, …) stop at their next step by themselves; a top-level
 *     statement that awaits one (`const r = await dTraining(…)`) completes with its result before the
 *     cell stops, so later cells read `r`.
 *  2. **Declarations survive a throw.** The CommonJS emit starts with `exports.a = exports.b = void 0`,
 *     which would reset names of earlier cells that this cell redeclares before it reached them; it is
 *     dropped, so a cell that throws keeps what it completed and leaves the rest as it was
 *     (`keptDeclarations` does the same for the type declarations of later cells).
 *  3. **Source maps.** Both of tslab's emits (TypeScript → ES module, → CommonJS) produce maps;
 *     `CellMap` composes them so stack frames name the cell's own line and column.
 */
import { createRequire, SourceMap } from "node:module";
import type * as TS from "typescript";

const require = createRequire(import.meta.url);
const ts = require("@tslab/typescript-for-tslab") as typeof TS;

/** The global the instrumented code calls (installed by executor.ts). */
export const HOOK = "__ctxlab__";

function hook(f: TS.NodeFactory, name: string, args: readonly TS.Expression[]): TS.CallExpression {
  return f.createCallExpression(f.createPropertyAccessExpression(f.createIdentifier(HOOK), name), undefined, args);
}

function withCheck(f: TS.NodeFactory, body: TS.Statement): TS.Block {
  const check = f.createExpressionStatement(hook(f, "loop", []));
  return ts.isBlock(body) ? f.updateBlock(body, [check, ...body.statements]) : f.createBlock([check, body], true);
}

/** Whether `s` awaits outside any nested function. */
function awaitsDirectly(s: TS.Node): boolean {
  let found = false;
  const look = (n: TS.Node): void => {
    if (found || ts.isFunctionLike(n) || ts.isClassLike(n)) return;
    if (ts.isAwaitExpression(n)) found = true;
    else ts.forEachChild(n, look);
  };
  look(s);
  return found;
}

/**
 * The `before` transformer of the second emit (ES module → CommonJS): checkpoints (1). A top-level
 * declaration or expression statement that awaits (`const r = await longThing()`) checks after the
 * whole statement instead of right after its await: when the awaited call returns within the grace
 * period after an interrupt (a library call that honours the signal returns its result at its next
 * step), the statement completes — `r` holds that result in later cells — and the cell stops there.
 */
export function checkpoints(context: TS.TransformationContext): (sf: TS.SourceFile) => TS.SourceFile {
  const f = context.factory;
  const make = (deferred: boolean): ((node: TS.Node) => TS.Node) => {
    const visit = (node: TS.Node): TS.Node => {
      if (deferred && (ts.isFunctionLike(node) || ts.isClassLike(node))) return normal(node); // its own awaits check at once
      const n = ts.visitEachChild(node, visit, context);
      if (ts.isForStatement(n)) return f.updateForStatement(n, n.initializer, n.condition, n.incrementor, withCheck(f, n.statement));
      if (ts.isForOfStatement(n)) return f.updateForOfStatement(n, n.awaitModifier, n.initializer, n.expression, withCheck(f, n.statement));
      if (ts.isForInStatement(n)) return f.updateForInStatement(n, n.initializer, n.expression, withCheck(f, n.statement));
      if (ts.isWhileStatement(n)) return f.updateWhileStatement(n, n.expression, withCheck(f, n.statement));
      if (ts.isDoStatement(n)) return f.updateDoStatement(n, withCheck(f, n.statement), n.expression);
      if (ts.isAwaitExpression(n)) {
        const raced = f.updateAwaitExpression(n, hook(f, "race", [n.expression]));
        return deferred ? raced : hook(f, "after", [raced]);
      }
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && ["then", "catch", "finally"].includes(n.expression.name.text)) {
        return f.updateCallExpression(n, n.expression, n.typeArguments, n.arguments.map((a) => (ts.isFunctionLike(a) ? hook(f, "cb", [a]) : a)));
      }
      return n;
    };
    return visit;
  };
  const normal = make(false);
  const deferred = make(true);
  return (sf) =>
    f.updateSourceFile(
      sf,
      sf.statements.flatMap((s) =>
        (ts.isVariableStatement(s) || ts.isExpressionStatement(s)) && awaitsDirectly(s)
          ? [deferred(s) as TS.Statement, f.createExpressionStatement(hook(f, "after", []))]
          : [normal(s) as TS.Statement],
      ),
    );
}

/** `exports.a = exports.b = … = void 0;` */
function isExportsReset(s: TS.Statement): boolean {
  if (!ts.isExpressionStatement(s)) return false;
  let e: TS.Expression = s.expression;
  while (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
    const l = e.left;
    if (!(ts.isPropertyAccessExpression(l) && ts.isIdentifier(l.expression) && l.expression.text === "exports")) return false;
    e = e.right;
  }
  return ts.isVoidExpression(e) && e !== s.expression;
}

/** The `after` transformer of the second emit: drop the exports reset (2). */
export function keepEarlierValues(context: TS.TransformationContext): (sf: TS.SourceFile) => TS.SourceFile {
  return (sf) => context.factory.updateSourceFile(sf, sf.statements.filter((s) => !isExportsReset(s)));
}

const INLINE_MAP = /\n?\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/** Split an emit with an inline source map into the code and the map. */
export function takeInlineMap(js: string): { code: string; map?: object } {
  const m = INLINE_MAP.exec(js);
  if (!m) return { code: js };
  return { code: js.slice(0, m.index), map: JSON.parse(Buffer.from(m[1]!, "base64").toString("utf8")) as object };
}

/**
 * Positions in the code vm runs → positions in the cell. `first` maps the ES-module emit back to
 * tslab's source file (the cell after a one-line `export {};` prefix); `second` maps the CommonJS
 * emit back to the ES-module emit. `lineOffset` = lines the executor puts before the CommonJS code.
 */
export class CellMap {
  private readonly first?: SourceMap;
  private readonly second?: SourceMap;
  constructor(first: object | undefined, second: object | undefined, private readonly lineOffset: number, private readonly cellLines: number, private readonly codeLines: number) {
    this.first = first ? new SourceMap(first as never) : undefined;
    this.second = second ? new SourceMap(second as never) : undefined;
  }

  /**
   * 1-based line and column in the cell; undefined where the code has no cell source (helpers,
   * checks); "wrapper" for the executor's own lines around the code (its call of the cell).
   */
  locate(line: number, column: number): { line: number; column: number } | "wrapper" | undefined {
    if (line <= this.lineOffset || line > this.lineOffset + this.codeLines) return "wrapper";
    if (!this.first || !this.second) return undefined;
    const a = this.second.findEntry(line - 1 - this.lineOffset, column - 1) as { originalLine?: number; originalColumn?: number };
    if (a.originalLine === undefined) return undefined;
    const b = this.first.findEntry(a.originalLine, a.originalColumn ?? 0) as { originalLine?: number; originalColumn?: number };
    if (b.originalLine === undefined) return undefined;
    const cellLine = b.originalLine; // 0-based in tslab's file = 1-based in the cell (the prefix is one line)
    if (cellLine < 1 || cellLine > this.cellLines) return undefined;
    return { line: cellLine, column: (b.originalColumn ?? 0) + 1 };
  }
}

/** Names a top-level statement of a .d.ts binds at run time (imports, variables, functions, classes, enums, namespaces). */
function runtimeNames(s: TS.Statement): string[] {
  if (ts.isVariableStatement(s)) {
    const out: string[] = [];
    const add = (n: TS.BindingName): void => {
      if (ts.isIdentifier(n)) out.push(n.text);
      else for (const el of n.elements) if (!ts.isOmittedExpression(el)) add(el.name);
    };
    for (const d of s.declarationList.declarations) add(d.name);
    return out;
  }
  if ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isEnumDeclaration(s)) && s.name) return [s.name.text];
  if (ts.isModuleDeclaration(s) && ts.isIdentifier(s.name)) return [s.name.text];
  if (ts.isImportEqualsDeclaration(s)) return [s.name.text];
  if (ts.isImportDeclaration(s) && s.importClause && !s.importClause.isTypeOnly) {
    const c = s.importClause;
    const out = c.name ? [c.name.text] : [];
    if (c.namedBindings) {
      if (ts.isNamespaceImport(c.namedBindings)) out.push(c.namedBindings.name.text);
      else for (const e of c.namedBindings.elements) if (!e.isTypeOnly) out.push(e.name.text); // `type T` binds nothing at run time
    }
    return out;
  }
  return [];
}

function statements(dts: string): { text: string; names: string[] }[] {
  const sf = ts.createSourceFile("decl.d.ts", dts, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  return sf.statements.map((s) => ({ text: dts.slice(s.getFullStart(), s.getEnd()).replace(/^\n+/, ""), names: runtimeNames(s) }));
}

/** Names the cell's own top-level statements bind at run time. */
export function cellNames(src: string): Set<string> {
  const sf = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out = new Set<string>();
  for (const s of sf.statements) {
    if (ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s)) continue;
    for (const n of runtimeNames(s)) out.add(n);
  }
  return out;
}

/**
 * The declarations later cells see after a cell threw: everything of `next` (the failed cell's
 * declarations on top of the earlier ones) except the cell's runtime names it never reached
 * (`declared` minus `completed`), for which the earlier declaration (`prev`) stays, if any.
 */
export function keptDeclarations(prev: string, next: string, declared: Set<string>, completed: Set<string>): string {
  const missed = new Set([...declared].filter((n) => !completed.has(n)));
  if (!missed.size) return next;
  const kept = statements(next).filter((s) => !s.names.some((n) => missed.has(n)));
  const bound = new Set(kept.flatMap((s) => s.names));
  const restored = statements(prev).filter((s) => s.names.some((n) => missed.has(n)) && !s.names.some((n) => bound.has(n)));
  return [...kept, ...restored].map((s) => s.text).join("\n") + "\n";
}

/**
 * Whether emitted JavaScript awaits outside any function (then the executor runs it in an async
 * wrapper). tslab's own flag misses some cells (`p = new Promise(r => …); await p`).
 */
export function hasTopLevelAwait(js: string): boolean {
  const sf = ts.createSourceFile("cell.js", js, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  let found = false;
  const visit = (n: TS.Node): void => {
    if (found || ts.isFunctionLike(n) || ts.isClassLike(n)) return;
    if (ts.isAwaitExpression(n) || (ts.isForOfStatement(n) && n.awaitModifier)) {
      found = true;
      return;
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}
