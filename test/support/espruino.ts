// Runs lib/ code in the real Espruino interpreter ($ESPRUINO, a Linux build), minified with
// the shipped terser settings (rollup.config.mjs), so tests run what the board runs.
// Tests that use it skip when ESPRUINO is unset.
import { writeFileSync, mkdtempSync, rmSync, existsSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { rollup } from "rollup";
import ts from "typescript";
import { minify } from "terser";
import { terserOptions } from "../../rollup.config.mjs";
import { builds } from "../../tools/real-interpreter/run";

const path = process.env.ESPRUINO ? resolve(process.env.ESPRUINO) : "";
/** The interpreter, or null when $ESPRUINO is unset or not a file. */
export const ESPRUINO: string | null = path && existsSync(path) && statSync(path).isFile() ? path : null;
export const ESPRUINO_HINT = "set ESPRUINO=/path/to/espruino (a Linux build of the interpreter) to run these";

/** lib/ files (e.g. "bytes.ts") as one ES2015 script, bundled by rollup as the firmware is
 * (each file's module-level names kept apart, renamed where two files use the same one; the
 * names the files export stay as they are), with no import or export left. */
export async function libScript(...files: string[]): Promise<string> {
  const LIB = fileURLToPath(new URL("../../lib/", import.meta.url));
  const entry = "\0lib-entry";
  const bundle = await rollup({
    input: entry,
    treeshake: false,
    plugins: [
      {
        name: "lib-script",
        resolveId(source, importer) {
          if (source == entry) return entry;
          if (importer && source.startsWith("."))
            return resolve(importer == entry ? LIB : dirname(importer), source) + ".ts";
          return null;
        },
        load(id) {
          if (id == entry) return files.map((f) => 'export * from "./' + f.replace(/\.ts$/, "") + '";').join("\n");
          return null;
        },
        transform(code, id) {
          if (!id.endsWith(".ts")) return null;
          return ts.transpileModule(code, {
            compilerOptions: { target: ts.ScriptTarget.ES2015, module: ts.ModuleKind.ES2015 },
          }).outputText;
        },
      },
    ],
  });
  const { output } = await bundle.generate({ format: "es" });
  await bundle.close();
  return output[0].code.replace(/^export \{[^}]*\};?\s*$/m, "");
}

/** code minified as the bundle is (top-level names kept: a script's globals are not mangled). */
export async function minifyAsShipped(code: string): Promise<string> {
  return (await minify(code, terserOptions)).code!;
}

/** Source text with every non-ASCII char as \uXXXX (the bundle is ASCII, as the board reads bytes). */
export const asciiSource = (s: string) =>
  s.replace(/[^\x00-\x7f]/g, (c) => "\\u" + (c.charCodeAt(0) + 0x10000).toString(16).slice(1));

/** Runs script in the interpreter (in a fresh temp dir). Lines `@@name <json>` it prints
 * come back parsed in markers; output is everything printed. The script should end with quit(). */
export function runInEspruino(script: string, timeoutMs = 30000): { markers: Record<string, any>; output: string } {
  if (!ESPRUINO) throw new Error(ESPRUINO_HINT);
  const dir = mkdtempSync(join(tmpdir(), "espruino-test-"));
  try {
    writeFileSync(join(dir, "t.js"), script, "latin1");
    const r = spawnSync(ESPRUINO, ["t.js"], { cwd: dir, input: "", timeout: timeoutMs, encoding: "latin1" });
    const output = (r.stdout || "") + (r.stderr || ""),
      markers: Record<string, any> = {};
    for (const line of output.split(/\r?\n/)) {
      const m = /^@@(\w+) (.*)$/.exec(line);
      if (m) markers[m[1]] = JSON.parse(m[2]);
    }
    return { markers, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Espruino-side helpers for harness scripts: H(bytes) is lower-case hex, OUT(name, value)
 * prints a marker line. */
export const HARNESS_HELPERS = `
var H=function(s){var r="";for(var i=0;i<s.length;i++)r+=(s.charCodeAt(i)+256).toString(16).slice(1);return r};
var OUT=function(k,v){console.log("@@"+k+" "+JSON.stringify(v))};
`;

/** The interpreter builds to run real-interpreter tests on (tools/real-interpreter/run.ts
 * builds()), or one placeholder when there is none: the tests are then still declared, and
 * reported as skipped (their describe is skipped without $ESPRUINO). */
export function buildsOrNone(): [string, string][] {
  const found = Object.entries(builds());
  return found.length ? found : [["no interpreter", ""]];
}
