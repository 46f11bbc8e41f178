// Bundles firmware/main.ts into ONE ES2015 script for Espruino (dist/firmware.js).
import { readFileSync } from "node:fs";
import typescript from "@rollup/plugin-typescript";
import terser from "@rollup/plugin-terser";
import json from "@rollup/plugin-json";
import { minify } from "terser";
import { Parser } from "acorn";

// The shipped minifier settings: tests and benchmarks that minify code for the real
// interpreter import these, so they run what the board runs.
export const terserOptions = {
  ecma: 2015,
  // terser's default reduce_vars/inline: numeric constants and functions called once are
  // inlined, so they leave no name in the bundle's scope (every name left there is resident
  // on the board: a function ~8 JsVars). Espruino does not hoist var: the subset check
  // (tools/build/check-bundle.ts) rejects a bundle that uses a var before its statement.
  compress: { passes: 3, pure_getters: true, inline: 1, if_return: false },
  mangle: { properties: { regex: /^_/ } },
  // braces: an `if` body in braces that is not run is skipped token by token; without them
  // Espruino parses it (without running it), which costs more: 0.7 % of a post's CPU for 113
  // bytes (bench/cpu-one.ts)
  format: { ascii_only: true, comments: false, braces: true },
};

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

// The user's application (Storage file app.js) runs after the firmware has started, inside
// a function so that its top-level names are its own. Booted by the OTA loader
// (firmware/loader.js), the loader runs the app instead (it picks the app file and rolls a
// failing new app back). Appended after minification: terser leaves every name of a scope
// that contains eval unmangled.
const RUN_APP = `global.otaLoader||(function(c){if(c)eval(c)})(require("Storage").read("app.js"));`;

// Globals the firmware's own top-level names are renamed to: "$" and a base-36 count ($0, $1,
// ..., $z, $10).
// "$" and digits, then letters, then "_": 63 names of two chars ($0 … $_), then three ($00 …)
const NAME_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
const dollarName = (n) => {
  let name = "";
  do {
    name = NAME_CHARS[n % 63] + name;
    n = Math.floor(n / 63) - 1;
  } while (n >= 0);
  return "$" + name;
};

/**
 * Minifies the firmware as top-level code, not wrapped in a function. Espruino gives every
 * function the chain of scopes it was made in, and a chain of two or more scopes is an array
 * copied into each function (one JsVar for the array and one per scope). Wrapped in an IIFE,
 * every closure made inside a factory (Link(), makeIot(), ...) had the chain [IIFE, factory]:
 * at the top level the chain of such a closure is [factory] alone, stored without an array,
 * and a top-level function has none at all. Measured in 2v29 booted from Storage: 178 JsVars
 * fewer online, on both builds (docs/ESPRUINO.md, section 7).
 *
 * The firmware's top-level names then are globals, so they are renamed to names that a user's
 * code does not use ($0, $1, ...; docs/API.md says so), in a second terser pass that mangles
 * only them. Top-level `const`/`let` become `var`: the OTA loader evaluates the firmware inside
 * a block (try {}), and Espruino scopes a `let`/`const` evaluated in a block to a block scope
 * object that would again be in every function's chain.
 * @param {{ keep?: string[] }} [o] keep: top-level names left as they are (bench markers)
 */
export function minifyTopLevel(o = {}) {
  const keep = o.keep || [];
  const declaredNames = (body) =>
    body.flatMap((node) =>
      node.type == "VariableDeclaration" ? node.declarations.map((d) => d.id.name) : node.id ? [node.id.name] : [],
    );
  return {
    name: "minify-top-level",
    async renderChunk(code, chunk, outputOptions) {
      const sourceMap = !!outputOptions.sourcemap;
      // const/let -> var, padded to the same length (the source map stays valid)
      for (const node of Parser.parse(code, { ecmaVersion: 2022 }).body)
        if (node.type == "VariableDeclaration" && node.kind != "var")
          code = code.slice(0, node.start) + "var".padEnd(node.kind.length) + code.slice(node.start + node.kind.length);
      // pass 1: everything but the top-level names
      const first = await minify(code, {
        ...terserOptions,
        compress: { ...terserOptions.compress, toplevel: true, top_retain: keep },
        mangle: { ...terserOptions.mangle, toplevel: false },
        sourceMap: sourceMap && { asObject: true },
      });
      // pass 2: only the top-level names (every other identifier is reserved)
      const topLevel = new Set(declaredNames(Parser.parse(first.code, { ecmaVersion: 2022 }).body));
      const reserved = new Set(keep);
      for (const [name] of first.code.matchAll(/[A-Za-z_$][\w$]*/g)) if (!topLevel.has(name)) reserved.add(name);
      const second = await minify(first.code, {
        ecma: terserOptions.ecma,
        compress: false,
        mangle: { toplevel: true, reserved: [...reserved], nth_identifier: { get: dollarName } },
        format: terserOptions.format,
        sourceMap: sourceMap && { content: first.map, asObject: true },
      });
      const body = Parser.parse(second.code, { ecmaVersion: 2022 }).body;
      for (const node of body)
        if (node.type == "VariableDeclaration" && node.kind != "var")
          throw new Error("firmware bundle: a top-level " + node.kind + " is left");
      for (const name of declaredNames(body))
        if (!name.startsWith("$") && !keep.includes(name))
          throw new Error("firmware bundle: top-level name " + name + " was not renamed to a $ name");
      return { code: second.code + ";\n" + RUN_APP, map: sourceMap ? second.map : null };
    },
  };
}

const firmware = {
  input: process.env.FIRMWARE_INPUT || "firmware/main.ts",
  output: {
    file: process.env.FIRMWARE_OUTPUT || "dist/firmware.js",
    // top-level code, no wrapper: see minifyTopLevel()
    format: "es",
    // VERSION is a declared constant in the source (read once, by iot.version).
    intro: `const VERSION=${JSON.stringify(pkg.version)};`,
  },
  plugins: [
    json({ preferConst: true, compact: true }),
    typescript({
      tsconfig: "./tsconfig.json",
      outDir: undefined,
      noEmitOnError: true,
      include: ["lib/**/*.ts", "firmware/**/*.ts"],
    }),
    minifyTopLevel(),
  ],
};

// The OTA boot loader (plain ES5, stored as .bootcde by `npm run flash`): minified, its
// names kept where eval needs them (terser leaves scopes that contain eval unmangled).
const loader = {
  input: "firmware/loader.js",
  output: { file: "dist/loader.js", format: "es" },
  plugins: [terser({ ecma: 5, compress: { passes: 2 }, format: { ascii_only: true, comments: false } })],
  onwarn(warning, warn) {
    if (warning.code != "EVAL") warn(warning);
  },
};

export default process.env.FIRMWARE_INPUT ? firmware : [firmware, loader];
