import { describe, it, expect } from "vitest";
import { readFileSync, existsSync, writeFileSync, mkdtempSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkBundle, bundleSizes } from "../tools/build/check-bundle";

const board = JSON.parse(readFileSync("board.json", "utf8"));

// Each snippet uses exactly one feature Espruino lacks; the check must name it.
const banned: [string, string, RegExp][] = [
  ["object destructuring", "var {a}=o;", /destructuring/],
  ["array destructuring", "var [a]=o;", /destructuring/],
  ["destructured parameter", "function f({a}){}", /destructuring/],
  ["spread call", "f(...a);", /spread/],
  ["spread array", "var a=[...b];", /spread/],
  ["rest parameter", "function f(...a){}", /rest/],
  ["default parameter", "function f(a=1){}", /default parameter/],
  ["computed key", "var o={[k]:1};", /computed key/],
  ["computed method", "class A{[k](){}}", /computed key/],
  ["async function", "async function f(){}", /not ES2015|async/],
  ["await", "async function f(){await g()}", /not ES2015|async/],
  ["generator", "function* g(){yield 1}", /generator/],
  ["tagged template", "f`x`;", /tagged template/],
  ["label", "a:for(;;){break a}", /label/],
  ["class getter", "class A{get x(){return 1}}", /getter/],
  ["class setter", "class A{set x(v){}}", /setter/],
  ["object getter", "var o={get x(){return 1}};", /getter/],
  ["closure over for let", "for(let i=0;i<3;i++)setTimeout(function(){i},1);", /closure over for \(let/],
  ["closure over for const", "for(const x of a)g(()=>x);", /closure over for \(const/],
  ["closure over for-in let", "for(let k in o)g(()=>k);", /closure over for \(let/],
  ["class field", "class A{x=1}", /not ES2015/],
  ["private field", "class A{#x;}", /not ES2015/],
  ["class extends Error", "class E2 extends Error{}", /extends Error/],
  ["exponent operator", "var a=2**3;", /not ES2015/],
  ["optional chaining", "var a=o?.b;", /not ES2015/],
  ["nullish coalescing", "var a=o??b;", /not ES2015/],
  ["Map", "var m=new Map();", /global Map/],
  ["Set", "var s=new Set();", /global Set/],
  ["WeakMap", "new WeakMap();", /global WeakMap/],
  ["WeakSet", "new WeakSet();", /global WeakSet/],
  ["Symbol", "var s=Symbol('x');", /global Symbol/],
  ["Proxy", "new Proxy({},{});", /global Proxy/],
  ["Reflect", "Reflect.ownKeys(o);", /global Reflect/],
  ["Array.from", "Array.from(a);", /Array\.from/],
  ["Uint8Array.from", "Uint8Array.from(a);", /Uint8Array\.from/],
  ["Number.isInteger", "Number.isInteger(1);", /Number\.isInteger/],
  ["Math.trunc", "Math.trunc(1.5);", /Math\.trunc/],
  ["Math.imul", "Math.imul(1,2);", /Math\.imul/],
  ["Object.freeze", "Object.freeze(o);", /Object\.freeze/],
  ["TextEncoder", "new TextEncoder();", /global TextEncoder/],
  ["TextDecoder", "new TextDecoder();", /global TextDecoder/],
  ["Promise.finally", "p.finally(f);", /finally/],
  ["require of a non-built-in", "require('mqtt');", /require of "mqtt"/],
  ["computed require", "require(n);", /require of a computed name/],
  ["non-ASCII text", "var s='\u00e9';", /non-ASCII/],
  // Espruino's parser traps that terser output has hit (seen in the 2v29 interpreter)
  ["var used before its statement", "function f(t){e=t.a;return e;var e}", /'e' used before its var statement/],
  ["arrow losing this", "class A{m(){return ()=>this.w(function(){}())}}", /loses `this`/],
  [
    "nested arrow using this",
    "class A{m(){const s=t=>e=>{this.x&&t(e)};return s}}",
    /skipped code \(expression-bodied arrow/,
  ],
  ["this-arrow right of &&", "class A{m(){this.s&&this.t(()=>this.b())}}", /skipped code \(right of &&/],
];

describe("Espruino subset check", () => {
  for (const [name, code, pattern] of banned) {
    it(`catches ${name}`, () => {
      const problems = checkBundle(code);
      expect(problems.join("\n")).toMatch(pattern);
    });
  }

  it("accepts what Espruino supports", () => {
    const ok = `
      class A { constructor(){ this.x = 1 } m(){ return \`t\${this.x}\` } static s(){} }
      const f = (a, b) => a + b; let s = "\\xc2";
      for (let i = 0; i < 3; i++) f(i, 1);
      for (var j = 0; j < 3; j++) setTimeout(function(){ j }, 1);
      for (const x of [1,2]) f(x, 2);
      var m = {}; m.from = 1; var o = { Map: 1 }; o.Map;
      new Promise(function(r){ r(1) }).then(f);
      require("net"); require("crypto"); require("Storage"); require("Wifi"); require("TelnetServer");
      var u = new Uint8Array(4); var d = new DataView(u.buffer); [1].includes(1); "a".padStart(2);
      Object.assign({}, {}); JSON.stringify({a:1});
    `;
    expect(checkBundle(ok)).toEqual([]);
  });

  it("accepts var declared before use, block-bodied arrows and a function before this", () => {
    expect(checkBundle("function f(t){var e;e=t.a;return e}")).toEqual([]);
    expect(checkBundle("function f(){g(e);function g(){}}var e=1;")).toEqual([]);
    expect(checkBundle("class A{m(){return ()=>{this.w(function(){}())}}}")).toEqual([]);
    expect(checkBundle("class A{m(){return ()=>g(function(){},this.x)}}")).toEqual([]);
  });

  it("does not confuse a local variable with a banned global", () => {
    expect(checkBundle("function f(){var Map={};return Map}")).toEqual([]);
  });

  it("passes the real bundle, within board.json's byte limit", () => {
    expect(existsSync("dist/firmware.js"), "dist/firmware.js missing: run npm run build").toBe(true);
    const code = readFileSync("dist/firmware.js", "latin1");
    expect(checkBundle(code)).toEqual([]);
    const { raw, gzip } = bundleSizes(code);
    expect(raw).toBeLessThanOrEqual(board.bundleLimit);
    expect(gzip).toBeLessThan(raw);
    // One script: no module loader, and Espruino built-ins only.
    expect(code).not.toMatch(/\bimport\b|\bexport\b|module\.exports/);
  });

  it("the build step fails (exit 1) on a banned feature or over the byte limit, naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), "check-bundle-"));
    const run = (code: string) => {
      const f = join(dir, "b.js");
      writeFileSync(f, code, "latin1");
      return spawnSync(process.execPath, ["--import", "tsx", "tools/build/check-bundle.ts", f], { encoding: "utf8" });
    };
    const banned = run("var m=new Map();");
    expect(banned.status).toBe(1);
    expect(banned.stderr).toMatch(/subset check FAILED[\s\S]*global Map/);
    const big = run("var s='" + "x".repeat(board.bundleLimit) + "';");
    expect(big.status).toBe(1);
    expect(big.stderr).toMatch(new RegExp(`over board.json bundleLimit ${board.bundleLimit}`));
    const ok = run("var s='" + "x".repeat(100) + "';");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/\d+ bytes raw, \d+ bytes gzip/);
  });
});
