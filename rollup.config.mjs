// Bundles firmware/main.ts into ONE ES2015 script for Espruino (dist/firmware.js).
import { readFileSync } from "node:fs";
import typescript from "@rollup/plugin-typescript";
import terser from "@rollup/plugin-terser";
import json from "@rollup/plugin-json";

// The shipped minifier settings: tests and benchmarks that minify code for the real
// interpreter import these, so they run what the board runs.
export const terserOptions = {
  ecma: 2015,
  // terser's default reduce_vars/inline: numeric constants and functions called once are
  // inlined, so they leave no name in the bundle's scope (every name left there is resident
  // on the board: a function ~8 JsVars). Espruino does not hoist var: the subset check
  // (tools/build/check-bundle.ts) rejects a bundle that uses a var before its statement.
  compress: { passes: 3, pure_getters: true, inline: 1 },
  mangle: { properties: { regex: /^_/ } },
  format: { ascii_only: true, comments: false },
};

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

const firmware = {
  input: process.env.FIRMWARE_INPUT || "firmware/main.ts",
  output: {
    file: process.env.FIRMWARE_OUTPUT || "dist/firmware.js",
    format: "iife",
    // VERSION is a declared constant in the source (read once, by iot.version).
    intro: `const VERSION=${JSON.stringify(pkg.version)};`,
    // The user's application (Storage file app.js) runs after the firmware has
    // started, outside the IIFE so that its eval cannot pin the firmware's names.
    // Booted by the OTA loader (firmware/loader.js), the loader runs the app instead (it
    // picks the app file and rolls a failing new app back).
    footer: `global.otaLoader||(function(c){if(c)eval(c)})(require("Storage").read("app.js"));`,
  },
  plugins: [
    json({ preferConst: true, compact: true }),
    typescript({
      tsconfig: "./tsconfig.json",
      outDir: undefined,
      noEmitOnError: true,
      include: ["lib/**/*.ts", "firmware/**/*.ts"],
    }),
    terser(terserOptions),
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
