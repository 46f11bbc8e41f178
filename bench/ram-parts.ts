// Where the resident JsVars are: the firmware built exactly as shipped (rollup.config.mjs,
// same terser settings) plus a marker call after every module and after every top-level
// statement of firmware/main.ts. Booted from Storage in the real interpreter with a saved
// config, each marker prints process.memory().usage; the difference between two markers is
// what that module's definitions (or that statement of main.ts) left resident. The last row
// is what going online added (the Alink, the session, the socket, the reader, the timers).
// Used by `npm run bench`; `npx tsx bench/ram-parts.ts` alone.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Parser } from "acorn";
import { rollup, type Plugin } from "rollup";
import config, { minifyTopLevel } from "../rollup.config.mjs";
import { builds, measureRam } from "./ram";

// A global defined before the firmware (rollup's banner): it reads the pool before it allocates.
const MARK = `var __mark=function(n){var u=process.memory().usage;console.log("@@mark "+JSON.stringify({n:n,u:u}))};`;

// The functions that build the resident objects, by file: a marker after each statement of
// their body. (They all run while the firmware boots; the MqttReader's constructor, which
// runs per connection, is left out.)
const BUILDERS: Record<string, string[]> = {
  "lib/link": ["Link"],
  "lib/logs": ["DeviceLog"],
  "lib/alink": ["Alink"],
  "firmware/console": ["makeIot"],
  "firmware/ota": ["makeOta"],
};

// Inserts a marker after every top-level statement of every module and of each BUILDERS
// function (multi-declarator declarations are split, one declarator per statement).
function markers(): Plugin {
  return {
    name: "ram-markers",
    transform(code, id) {
      const file = relative(process.cwd(), id).replace(/\.ts$/, "");
      if (!/^(lib|firmware)\//.test(file)) return null;
      const ast: any = Parser.parse(code, { ecmaVersion: 2022, sourceType: "module" });
      const edits: { at: number; end: number; text: string }[] = [];
      const label = (where: string, node: any) =>
        where + ": " + code.slice(node.start, node.end).replace(/\s+/g, " ").slice(0, 50);
      const markBody = (where: string, body: any[]) => {
        for (const node of body) {
          if (
            node.type == "ImportDeclaration" ||
            node.type == "ReturnStatement" ||
            (/^Export(Named|All)Declaration$/.test(node.type) && !node.declaration)
          )
            continue;
          const inner = /^Export/.test(node.type) ? node.declaration : node;
          if (inner.type == "VariableDeclaration" && inner.declarations.length > 1) {
            const text = inner.declarations
              .map(
                (d: any) =>
                  (inner === node ? "" : "export ") +
                  inner.kind +
                  " " +
                  code.slice(d.start, d.end) +
                  ";\n__mark(" +
                  JSON.stringify(label(where, d)) +
                  ");",
              )
              .join("\n");
            edits.push({ at: node.start, end: node.end, text: text });
          } else
            edits.push({ at: node.end, end: node.end, text: "\n__mark(" + JSON.stringify(label(where, node)) + ");" });
        }
      };
      markBody(file, ast.body);
      // function bodies of the builders, wherever they are
      const visit = (node: any) => {
        if (!node || typeof node.type != "string") return;
        const name = node.id?.name || node.key?.name || (node.type == "VariableDeclarator" && node.id.name);
        const fn = node.type == "VariableDeclarator" ? node.init : node.type == "MethodDefinition" ? node.value : node;
        if ((BUILDERS[file] || []).includes(name) && fn && /Function/.test(fn.type) && fn.body.type == "BlockStatement")
          markBody(file + " " + name + "()", fn.body.body);
        for (const key of Object.keys(node)) {
          const child = node[key];
          if (Array.isArray(child)) child.forEach(visit);
          else if (child && typeof child.type == "string") visit(child);
        }
      };
      visit(ast);
      edits.sort((a, b) => b.at - a.at);
      let out = code;
      for (const e of edits) out = out.slice(0, e.at) + e.text + out.slice(e.end);
      return { code: out, map: null };
    },
  };
}

/** Builds the marked bundle into a temp file and returns its path. */
export async function buildMarked(): Promise<string> {
  const firmware: any = Array.isArray(config) ? config[0] : config;
  // after the TypeScript plugin (markers see JavaScript), then the shipped minifier, which
  // leaves the marker function its name
  const plugins = [...firmware.plugins];
  plugins.splice(plugins.length - 1, 1, markers(), minifyTopLevel({ keep: ["__mark"] }));
  const bundle = await rollup({ ...firmware, plugins, onwarn: () => {} });
  const { output } = await bundle.generate({ ...firmware.output, file: undefined, banner: MARK });
  await bundle.close();
  const file = join(mkdtempSync(join(tmpdir(), "ram-parts-")), "firmware.js");
  writeFileSync(file, output[0].code, "latin1");
  return file;
}

export interface PartRow {
  part: string;
  jsvars: number;
}

/** JsVars each part left resident, booted from Storage, per interpreter build. */
export async function ramParts(): Promise<Record<string, PartRow[] | { error: string }>> {
  const file = await buildMarked(),
    out: Record<string, PartRow[] | { error: string }> = {};
  try {
    for (const [name, path] of Object.entries(builds())) {
      const figures = await measureRam(path, file, "storage", undefined, 0, true);
      if (figures.error || !figures.marks) {
        out[name] = { error: figures.error || "no markers" };
        continue;
      }
      const rows: PartRow[] = [];
      let last = figures.marks[0].u;
      for (const mark of figures.marks.slice(1)) {
        rows.push({ part: mark.n, jsvars: mark.u - last });
        last = mark.u;
      }
      rows.push({
        part: "online: what going online added (socket, reader, timers, NTP, queue)",
        jsvars: figures.onlineUsage! - figures.loadUsage!,
      });
      out[name] = rows;
    }
  } finally {
    rmSync(join(file, ".."), { recursive: true, force: true });
  }
  return out;
}

/** Rows summed by file (the part of a row's name before ":" and the builder's name). */
export function byFile(rows: PartRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows) {
    const file = row.part.replace(/[ :].*$/, "");
    out[file] = (out[file] || 0) + row.jsvars;
  }
  return out;
}

export function printParts(parts: Record<string, PartRow[] | { error: string }>, detail = true) {
  for (const [name, rows] of Object.entries(parts)) {
    console.log(
      "\nResident JsVars by file, booted from Storage, " +
        name +
        " (the statements of main.ts that build each part count where the part is built; the" +
        " bundle's function declarations are all made before its first statement, so the first" +
        " row holds every top-level function of every file)",
    );
    if (!Array.isArray(rows)) {
      console.log("  unavailable: " + rows.error);
      continue;
    }
    console.table(Object.fromEntries(Object.entries(byFile(rows)).map(([file, n]) => [file, { jsvars: n }])));
    if (detail) console.table(Object.fromEntries(rows.map((r) => [r.part, { jsvars: r.jsvars }])));
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ""))) printParts(await ramParts());
