// The firmware build's last step (rollup.config.mjs, minifyTopLevel): the bundle runs as
// top-level code with its top-level names renamed to $0, $1, ... and its top-level const/let
// made var (docs/ESPRUINO.md §7). Checked on small inputs, run in Node's vm, and on the shipped
// bundle.
import { describe, it, expect } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import vm from "node:vm";
import { Parser } from "acorn";
import { minifyTopLevel } from "../rollup.config.mjs";

const topLevelDeclarations = (code: string) =>
  Parser.parse(code, { ecmaVersion: 2022 }).body.flatMap((node: any) =>
    node.type == "VariableDeclaration"
      ? node.declarations.map((d: any) => ({ kind: node.kind, name: d.id.name }))
      : node.id
        ? [{ kind: node.type, name: node.id.name }]
        : [],
  );
const build = async (code: string, keep?: string[]) =>
  ((await (minifyTopLevel({ keep }) as any).renderChunk(code, {}, {})) as { code: string }).code;
// runs the output the way a board without the OTA loader does (the footer reads app.js)
const run = (code: string) => {
  const context: any = { require: () => ({ read: () => undefined }) };
  context.global = context;
  vm.runInNewContext(code, context);
  return context;
};

describe("the firmware build (minifyTopLevel)", () => {
  it("renames every top-level name to a $ name and makes top-level const/let var", async () => {
    const code = await build(`
      const base = 40;
      let count = 0;
      function bump(step) { count += step; return count + base; }
      class Counter { constructor() { this.value = bump(2); } }
      global.result = [new Counter().value, bump(1), bump(1)];`);
    const declared = topLevelDeclarations(code);
    expect(declared.length).toBeGreaterThan(0);
    for (const d of declared) {
      expect(d.name).toMatch(/^\$\w+$/);
      if (/^(var|let|const)$/.test(d.kind)) expect(d.kind).toBe("var");
    }
    expect(code).not.toMatch(/\b(base|count|bump|Counter)\b/);
    expect(run(code).result).toEqual([42, 43, 44]);
  });

  it("keeps a local that shadows a top-level name apart from it", async () => {
    const code = await build(`
      const value = 1;
      function addOne(value) { return value + 1; }
      function read() { return value; }
      function nested() { const value = 7; return () => value + read(); }
      global.result = [addOne(5), read(), nested()(), addOne(read())];`);
    expect(run(code).result).toEqual([6, 1, 8, 2]);
  });

  it("appends the footer that runs app.js, outside anything terser renames", async () => {
    const code = await build("global.ran = 1;");
    expect(
      code.trimEnd().endsWith(`global.otaLoader||(function(c){if(c)eval(c)})(require("Storage").read("app.js"));`),
    ).toBe(true);
    const context: any = { require: () => ({ read: () => "global.app = 2" }) };
    context.global = context;
    vm.runInNewContext(code, context);
    expect([context.ran, context.app]).toEqual([1, 2]);
  });

  it("leaves the names it is told to keep (the bench's markers)", async () => {
    const code = await build(
      "var __mark = function (n) { global.marks.push(n) }; global.marks = []; __mark(1); __mark(2);",
      ["__mark"],
    );
    expect(topLevelDeclarations(code).map((d: any) => d.name)).toContain("__mark");
    expect(run(code).marks).toEqual([1, 2]);
  });

  it.skipIf(!existsSync("dist/firmware.js"))(
    "the shipped bundle has only $ names and no const/let at its top level",
    () => {
      const declared = topLevelDeclarations(readFileSync("dist/firmware.js", "latin1"));
      expect(declared.length).toBeGreaterThan(10);
      expect(declared.filter((d: any) => !/^\$\w+$/.test(d.name) || /^(let|const)$/.test(d.kind))).toEqual([]);
    },
  );
});
