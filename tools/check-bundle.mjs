// Checks the emitted bundle, not the source: it must parse as ES2015, use only
// what Espruino 2v29 supports, be pure ASCII, and fit board.json's byte budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { parse } from "acorn";
import { ancestor, fullAncestor, recursive, base } from "acorn-walk";

// Built-in modules an Espruino ESP32 firmware may require.
export const BUILTIN_MODULES = ["net", "crypto", "Storage", "Wifi", "TelnetServer", "tls"];
const BANNED_GLOBALS = ["Map", "Set", "WeakMap", "WeakSet", "Symbol", "Proxy", "Reflect", "TextEncoder", "TextDecoder"];
const BANNED_MEMBERS = {
  Array: ["from"],
  Uint8Array: ["from"],
  Number: ["isInteger"],
  Math: ["trunc", "imul"],
  Object: ["freeze"],
};
const ERROR_CLASSES = ["Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "InternalError"];
const isFunction = (n) =>
  n.type === "FunctionExpression" || n.type === "ArrowFunctionExpression" || n.type === "FunctionDeclaration";
const isLoop = (n) => n.type === "ForStatement" || n.type === "ForInStatement" || n.type === "ForOfStatement";
const propName = (n) => (n.computed ? null : n.property.name);

/** Returns a list of problems ("line:col what") in the given bundle text; empty when it is fine. */
export function checkBundle(code) {
  const problems = [];
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    if (c > 126 || (c < 32 && c !== 10 && c !== 13 && c !== 9)) {
      problems.push(`offset ${i}: non-ASCII character U+${c.toString(16).padStart(4, "0")} (the device reads the file as bytes)`);
      break;
    }
  }
  let ast;
  try {
    ast = parse(code, { ecmaVersion: 2015, sourceType: "script", locations: true });
  } catch (e) {
    problems.push(`not ES2015: ${e.message}`);
    return problems;
  }
  const report = (node, what) => problems.push(`${node.loc.start.line}:${node.loc.start.column} ${what}`);
  // Names declared anywhere in the bundle: a local `Map` is not the global one.
  const declared = new Set();
  ancestor(ast, {
    VariableDeclarator(n) { if (n.id.type === "Identifier") declared.add(n.id.name); },
    FunctionDeclaration(n) { if (n.id) declared.add(n.id.name); },
    ClassDeclaration(n) { if (n.id) declared.add(n.id.name); },
  });
  ancestor(ast, {
    ObjectPattern: (n) => report(n, "destructuring"),
    ArrayPattern: (n) => report(n, "destructuring"),
    SpreadElement: (n) => report(n, "spread"),
    RestElement: (n) => report(n, "rest parameter"),
    AssignmentPattern: (n) => report(n, "default parameter"),
    TaggedTemplateExpression: (n) => report(n, "tagged template"),
    LabeledStatement: (n) => report(n, "label"),
    YieldExpression: (n) => report(n, "generator"),
    Property(n) {
      if (n.computed) report(n, "computed key");
      if (n.kind === "get" || n.kind === "set") report(n, `${n.kind}ter`);
    },
    MethodDefinition(n) {
      if (n.computed) report(n, "computed key");
      if (n.kind === "get" || n.kind === "set") report(n, `class ${n.kind}ter`);
    },
    Function(n) {
      if (n.generator) report(n, "generator");
      if (n.async) report(n, "async function");
    },
    Class(n) {
      if (n.superClass && n.superClass.type === "Identifier" && ERROR_CLASSES.includes(n.superClass.name))
        report(n, `class extends ${n.superClass.name}`);
    },
    Identifier(n, ancestors) {
      const parent = ancestors[ancestors.length - 2];
      if (!BANNED_GLOBALS.includes(n.name) || declared.has(n.name)) return;
      if (parent && parent.type === "MemberExpression" && parent.property === n && !parent.computed) return;
      if (parent && parent.type === "Property" && parent.key === n && !parent.computed) return;
      report(n, `global ${n.name}`);
    },
    MemberExpression(n) {
      const name = propName(n);
      if (n.object.type === "Identifier" && !declared.has(n.object.name) && (BANNED_MEMBERS[n.object.name] || []).includes(name))
        report(n, `${n.object.name}.${name}`);
      if (name === "finally") report(n, "Promise.prototype.finally");
    },
    CallExpression(n) {
      if (n.callee.type !== "Identifier" || n.callee.name !== "require") return;
      const arg = n.arguments[0];
      if (!arg || arg.type !== "Literal" || !BUILTIN_MODULES.includes(arg.value))
        report(n, `require of ${arg && arg.type === "Literal" ? JSON.stringify(arg.value) : "a computed name"} (only Espruino built-ins: ${BUILTIN_MODULES.join(", ")})`);
    },
    // A closure created inside `for (let|const …)` captures the last value on Espruino.
    VariableDeclaration(n, ancestors) {
      if (n.kind === "var") return;
      const loop = ancestors[ancestors.length - 2];
      if (!loop || !isLoop(loop) || (loop.init !== n && loop.left !== n)) return;
      let found = false;
      ancestor(loop.body, {
        FunctionExpression: () => (found = true),
        ArrowFunctionExpression: () => (found = true),
        FunctionDeclaration: () => (found = true),
      });
      if (found || isFunction(loop.body)) report(loop, `closure over for (${n.kind} …)`);
    },
  });
  hoistingAndThis(ast, report);
  return problems;
}

// Two traps of Espruino's parser (2v29, src/jsparse.c) that terser's output can hit:
// - `var` is not hoisted: a name used before its `var` statement runs refers to the
//   outer scope (terser may put `var a,b` at the end of a function).
// - an expression-bodied arrow loses `this` once a function is parsed in its body after
//   a `this` token.
// - an arrow using `this` in code the parser skips (right of &&/||, a ?: branch, a
//   brace-less if/loop body, an expression-bodied arrow) aborts debug builds when skipped.
function hoistingAndThis(ast, report) {
  const children = (n, fn) => {
    for (const k in n) {
      const v = n[k];
      if (Array.isArray(v)) v.forEach((x) => x && typeof x.type === "string" && fn(x));
      else if (v && typeof v.type === "string" && k !== "loc") fn(v);
    }
  };
  const scanScope = (scope) => {
    const decl = new Map(), uses = [];
    const walk = (n, top) => {
      if (!top && isFunction(n)) return scanScope(n);
      if (n.type === "VariableDeclaration" && n.kind === "var")
        for (const d of n.declarations) if (d.id.type === "Identifier" && !decl.has(d.id.name)) decl.set(d.id.name, n.start);
      if (n.type === "Identifier") uses.push(n);
      // property names are not variable uses
      if (n.type === "MemberExpression" && !n.computed) return walk(n.object, false);
      if ((n.type === "Property" || n.type === "MethodDefinition") && !n.computed) return walk(n.value, false);
      children(n, (c) => walk(c, false));
    };
    if (scope.type === "Program") walk(scope, true);
    else { scope.params.forEach((p) => walk(p, false)); walk(scope.body, true); }
    for (const u of uses) {
      const at = decl.get(u.name);
      if (at !== undefined && u.start < at) report(u, `'${u.name}' used before its var statement (Espruino does not hoist var)`);
    }
  };
  scanScope(ast);
  const visit = (n) => {
    if (n.type === "ArrowFunctionExpression" && n.expression) {
      let firstThis = Infinity, late = false;
      const w = (x, inRegular) => {
        if (x.type === "ThisExpression" && !inRegular) firstThis = Math.min(firstThis, x.start);
        if (isFunction(x)) {
          if (x.start > firstThis) late = true;
          if (x.type !== "ArrowFunctionExpression") inRegular = true;
        }
        children(x, (c) => w(c, inRegular));
      };
      w(n.body, false);
      if (late) report(n, "expression-bodied arrow with a function after `this` (Espruino loses `this`): use a block body");
    }
    children(n, visit);
  };
  visit(ast);
  for (const [node, why] of skippedThisArrowNodes(ast))
    report(node, `arrow using \`this\` in skipped code (${why}; Espruino debug builds abort): use a local for this`);
}

function skippedThisArrowNodes(ast) {
  const out = [];
  const usesThis = (fn) => {
    let u = false;
    recursive(fn.body, null, { ThisExpression() { u = true }, FunctionExpression() {}, FunctionDeclaration() {} }, base);
    return u;
  };
  fullAncestor(ast, (n, _st, anc) => {
    if (n.type !== "ArrowFunctionExpression" || !usesThis(n)) return;
    let block = false;
    for (let i = anc.length - 2; i >= 0; i--) {
      const p = anc[i], c = anc[i + 1];
      if (p.type === "FunctionExpression" || p.type === "FunctionDeclaration" || (p.type === "ArrowFunctionExpression" && p.body.type === "BlockStatement")) break;
      if (p.type === "BlockStatement") block = true;
      let why = null;
      if (p.type === "LogicalExpression" && c === p.right) why = "right of " + p.operator;
      if (p.type === "ConditionalExpression" && c !== p.test) why = "branch of ?:";
      if (!block && p.type === "IfStatement" && c !== p.test) why = "brace-less if branch";
      if (!block && /^(For|ForOf|ForIn|While)Statement$/.test(p.type) && c === p.body) why = "brace-less loop body";
      if (p.type === "ArrowFunctionExpression" && p.body.type !== "BlockStatement") why = "expression-bodied arrow";
      if (why) { out.push([n, why]); break; }
    }
  });
  return out;
}

/** Arrows using `this` where Espruino's parser may skip them, as "why: code" lines. */
export function skippedThisArrows(code) {
  const ast = parse(code, { ecmaVersion: 2015, sourceType: "script" });
  return skippedThisArrowNodes(ast).map(([n, why]) => why + ": " + code.slice(Math.max(0, n.start - 40), n.end + 10));
}

/** Sizes of a bundle text in bytes. */
export function bundleSizes(code) {
  const buf = Buffer.from(code, "latin1");
  return { raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length };
}

function main() {
  const root = new URL("..", import.meta.url);
  const board = JSON.parse(readFileSync(new URL("board.json", root), "utf8"));
  const file = process.argv[2] || fileURLToPath(new URL("dist/firmware.js", root));
  const code = readFileSync(file, "latin1");
  const problems = checkBundle(code);
  const { raw, gzip } = bundleSizes(code);
  console.log(`${file}: ${raw} bytes raw, ${gzip} bytes gzip (limit ${board.bundleLimit}, target ${board.bundleTarget})`);
  if (problems.length) {
    console.error(`Espruino subset check FAILED (${problems.length}):\n  ` + problems.join("\n  "));
    process.exit(1);
  }
  console.log("Espruino subset check passed");
  if (raw > board.bundleLimit) {
    console.error(`bundle is ${raw} bytes, over board.json bundleLimit ${board.bundleLimit}`);
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
