// Traps of Espruino's parser (2v29, src/jsparse.c) that terser's output can hit, checked on
// the bundle's syntax tree (see docs/ESPRUINO.md):
// - `var` is not hoisted: a name used before its `var` statement runs refers to the
//   outer scope (terser may put `var a,b` at the end of a function).
// - an expression-bodied arrow loses `this` once a function is parsed in its body after
//   a `this` token.
// - an arrow using `this` in code the parser skips (right of &&/||, a ?: branch, a
//   brace-less if/loop body, an expression-bodied arrow) aborts debug builds when skipped.
import { parse } from "acorn";
import { fullAncestor, recursive, base } from "acorn-walk";

// acorn's node types are a union too narrow for generic walking; these walkers treat nodes as data.
type Node = any;
export type Report = (node: Node, what: string) => void;

export const isFunction = (n: Node) =>
  n.type === "FunctionExpression" || n.type === "ArrowFunctionExpression" || n.type === "FunctionDeclaration";

/** Reports every parser trap in the tree. */
export function parserTraps(ast: Node, report: Report) {
  const children = (n: Node, fn: (child: Node) => void) => {
    for (const k in n) {
      const v = n[k];
      if (Array.isArray(v)) v.forEach((x) => x && typeof x.type === "string" && fn(x));
      else if (v && typeof v.type === "string" && k !== "loc") fn(v);
    }
  };
  const scanScope = (scope: Node) => {
    const decl = new Map<string, number>(),
      uses: Node[] = [];
    const walk = (n: Node, top: boolean): void => {
      if (!top && isFunction(n)) return scanScope(n);
      if (n.type === "VariableDeclaration" && n.kind === "var")
        for (const d of n.declarations)
          if (d.id.type === "Identifier" && !decl.has(d.id.name)) decl.set(d.id.name, n.start);
      if (n.type === "Identifier") uses.push(n);
      // property names are not variable uses
      if (n.type === "MemberExpression" && !n.computed) return walk(n.object, false);
      if ((n.type === "Property" || n.type === "MethodDefinition") && !n.computed) return walk(n.value, false);
      children(n, (c) => walk(c, false));
    };
    if (scope.type === "Program") walk(scope, true);
    else {
      scope.params.forEach((p) => walk(p, false));
      walk(scope.body, true);
    }
    for (const u of uses) {
      const at = decl.get(u.name);
      if (at !== undefined && u.start < at)
        report(u, `'${u.name}' used before its var statement (Espruino does not hoist var)`);
    }
  };
  scanScope(ast);
  const visit = (n: Node) => {
    if (n.type === "ArrowFunctionExpression" && n.expression) {
      let firstThis = Infinity,
        late = false;
      const w = (x: Node, inRegular: boolean) => {
        if (x.type === "ThisExpression" && !inRegular) firstThis = Math.min(firstThis, x.start);
        if (isFunction(x)) {
          if (x.start > firstThis) late = true;
          if (x.type !== "ArrowFunctionExpression") inRegular = true;
        }
        children(x, (c) => w(c, inRegular));
      };
      w(n.body, false);
      if (late)
        report(n, "expression-bodied arrow with a function after `this` (Espruino loses `this`): use a block body");
    }
    children(n, visit);
  };
  visit(ast);
  for (const [node, why] of skippedThisArrowNodes(ast))
    report(node, `arrow using \`this\` in skipped code (${why}; Espruino debug builds abort): use a local for this`);
}

function skippedThisArrowNodes(ast: Node): [Node, string][] {
  const out: [Node, string][] = [];
  const usesThis = (fn: Node) => {
    let u = false;
    recursive(
      fn.body,
      null,
      {
        ThisExpression() {
          u = true;
        },
        FunctionExpression() {},
        FunctionDeclaration() {},
      },
      base,
    );
    return u;
  };
  fullAncestor(ast, (n: Node, _st, anc: Node[]) => {
    if (n.type !== "ArrowFunctionExpression" || !usesThis(n)) return;
    let block = false;
    for (let i = anc.length - 2; i >= 0; i--) {
      const p = anc[i],
        c = anc[i + 1];
      if (
        p.type === "FunctionExpression" ||
        p.type === "FunctionDeclaration" ||
        (p.type === "ArrowFunctionExpression" && p.body.type === "BlockStatement")
      )
        break;
      if (p.type === "BlockStatement") block = true;
      let why: string | null = null;
      if (p.type === "LogicalExpression" && c === p.right) why = "right of " + p.operator;
      if (p.type === "ConditionalExpression" && c !== p.test) why = "branch of ?:";
      if (!block && p.type === "IfStatement" && c !== p.test) why = "brace-less if branch";
      if (!block && /^(For|ForOf|ForIn|While)Statement$/.test(p.type) && c === p.body) why = "brace-less loop body";
      if (p.type === "ArrowFunctionExpression" && p.body.type !== "BlockStatement") why = "expression-bodied arrow";
      if (why) {
        out.push([n, why]);
        break;
      }
    }
  });
  return out;
}

/** Arrows using `this` where Espruino's parser may skip them, as "why: code" lines. */
export function skippedThisArrows(code: string): string[] {
  const ast = parse(code, { ecmaVersion: 2015, sourceType: "script" });
  return skippedThisArrowNodes(ast).map(([n, why]) => why + ": " + code.slice(Math.max(0, n.start - 40), n.end + 10));
}
