// The check `npm run build` runs after rollup: on the emitted bundle, not the source, because
// terser can introduce what the source never had. The bundle must parse as ES2015, use only
// what Espruino 2v29 supports (docs/ESPRUINO.md), avoid the traps of its parser
// (parser-traps.ts), be pure ASCII (the device reads the file as bytes), and fit board.json's
// byte budget.
//
// usage: tsx tools/build/check-bundle.ts [bundle.js]   (default dist/firmware.js; exit 1 on a problem)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parse } from "acorn";
import { ancestor } from "acorn-walk";
import { parserTraps, isFunction } from "./parser-traps";

export { skippedThisArrows } from "./parser-traps";

// acorn's node types are a union too narrow for these checks; nodes are treated as data.
type Node = any;

// Built-in modules an Espruino ESP32 firmware may require.
export const BUILTIN_MODULES = ["net", "crypto", "Storage", "Wifi", "TelnetServer", "tls", "http"];
const BANNED_GLOBALS = ["Map", "Set", "WeakMap", "WeakSet", "Symbol", "Proxy", "Reflect", "TextEncoder", "TextDecoder"];
const BANNED_MEMBERS: Record<string, string[]> = {
  Array: ["from"],
  Uint8Array: ["from"],
  Number: ["isInteger"],
  Math: ["trunc", "imul"],
  Object: ["freeze"],
};
const ERROR_CLASSES = ["Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "InternalError"];
const isLoop = (n: Node) => n.type === "ForStatement" || n.type === "ForInStatement" || n.type === "ForOfStatement";
const propName = (n: Node) => (n.computed ? null : n.property.name);

/** Returns a list of problems ("line:col what") in the given bundle text; empty when it is fine. */
export function checkBundle(code: string): string[] {
  const problems: string[] = [];
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    if (c > 126 || (c < 32 && c !== 10 && c !== 13 && c !== 9)) {
      problems.push(
        `offset ${i}: non-ASCII character U+${c.toString(16).padStart(4, "0")} (the device reads the file as bytes)`,
      );
      break;
    }
  }
  let ast: Node;
  try {
    ast = parse(code, { ecmaVersion: 2015, sourceType: "script", locations: true });
  } catch (e) {
    problems.push(`not ES2015: ${(e as Error).message}`);
    return problems;
  }
  const report = (node: Node, what: string) => problems.push(`${node.loc.start.line}:${node.loc.start.column} ${what}`);
  // Names declared anywhere in the bundle: a local `Map` is not the global one.
  const declared = new Set<string>();
  ancestor(ast, {
    VariableDeclarator(n) {
      if (n.id.type === "Identifier") declared.add(n.id.name);
    },
    FunctionDeclaration(n) {
      if (n.id) declared.add(n.id.name);
    },
    ClassDeclaration(n) {
      if (n.id) declared.add(n.id.name);
    },
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
    Identifier(n, ancestors: Node[]) {
      const parent = ancestors[ancestors.length - 2];
      if (!BANNED_GLOBALS.includes(n.name) || declared.has(n.name)) return;
      if (parent && parent.type === "MemberExpression" && parent.property === n && !parent.computed) return;
      if (parent && parent.type === "Property" && parent.key === n && !parent.computed) return;
      report(n, `global ${n.name}`);
    },
    MemberExpression(n) {
      const name = propName(n);
      if (
        n.object.type === "Identifier" &&
        !declared.has(n.object.name) &&
        (BANNED_MEMBERS[n.object.name] || []).includes(name)
      )
        report(n, `${n.object.name}.${name}`);
      if (name === "finally") report(n, "Promise.prototype.finally");
    },
    CallExpression(n) {
      if (n.callee.type !== "Identifier" || n.callee.name !== "require") return;
      const arg = n.arguments[0];
      if (arg?.type !== "Literal" || !BUILTIN_MODULES.includes(arg.value as string))
        report(
          n,
          `require of ${arg && arg.type === "Literal" ? JSON.stringify(arg.value) : "a computed name"} (only Espruino built-ins: ${BUILTIN_MODULES.join(", ")})`,
        );
    },
    // A closure created inside `for (let|const …)` captures the last value on Espruino.
    VariableDeclaration(n, ancestors: Node[]) {
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
  parserTraps(ast, report);
  return problems;
}

/** Sizes of a bundle text in bytes. */
export function bundleSizes(code: string) {
  const buf = Buffer.from(code, "latin1");
  return { raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length };
}

const USAGE = `usage: tsx tools/build/check-bundle.ts [bundle.js]   (npm run build runs it on dist/firmware.js)
  Checks that the script parses as ES2015, uses nothing Espruino 2v29 lacks, is pure ASCII and (for
  the firmware) fits board.json's bundleLimit. Exit 0 when it passes, 1 with the problems listed.`;

function main() {
  if (process.argv[2] === "--help" || process.argv[2] === "-h") {
    console.log(USAGE);
    process.exit(0);
  }
  const root = new URL("../..", import.meta.url);
  const board = JSON.parse(readFileSync(new URL("board.json", root), "utf8"));
  const file = process.argv[2] || fileURLToPath(new URL("dist/firmware.js", root));
  const code = readFileSync(file, "latin1");
  const problems = checkBundle(code);
  const { raw, gzip } = bundleSizes(code);
  console.log(
    `${file}: ${raw} bytes raw, ${gzip} bytes gzip (limit ${board.bundleLimit}, target ${board.bundleTarget})`,
  );
  if (problems.length) {
    console.error(`Espruino subset check FAILED (${problems.length}):\n  ` + problems.join("\n  "));
    process.exit(1);
  }
  console.log("Espruino subset check passed");
  // what the platform's OTA console asks for when this file is uploaded as the firmware image
  const image = Buffer.from(code, "latin1"),
    digest = (alg: string) => createHash(alg).update(image).digest("hex");
  console.log(`OTA image: size ${raw}, MD5 ${digest("md5")}, SHA256 ${digest("sha256")}`);
  if (raw > board.bundleLimit) {
    console.error(`bundle is ${raw} bytes, over board.json bundleLimit ${board.bundleLimit}`);
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
