// `npm run build:app -- path/to/app.ts [-o dist/app.js]`: builds an application written in
// TypeScript (or JavaScript) into the one script the firmware runs from the Storage file app.js,
// with the firmware's own toolchain: TypeScript (types/iot.d.ts for `iot`, ES2015 target),
// rollup (imports of your own modules are bundled), terser with the shipped terserOptions, then
// the Espruino subset check the firmware bundle passes. Type errors fail the build.
import { writeFileSync, mkdirSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, resolve, join } from "node:path";
import { fileURLToPath } from "node:url";
import { rollup } from "rollup";
import typescript from "@rollup/plugin-typescript";
import terser from "@rollup/plugin-terser";
import { terserOptions } from "../../rollup.config.mjs";
import { checkBundle, bundleSizes } from "./check-bundle";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const USAGE = `usage: npm run build:app -- app.ts [-o dist/app.js]
  Builds your app (TypeScript or JavaScript, ES2015 subset) into one script for the Storage file
  app.js: type-checked against types/iot.d.ts, minified with the firmware's terser settings and
  checked like the firmware bundle. Then: npm run upload-app -- --port P dist/app.js
  (or try it first: npm start -- --app dist/app.js).`;

/** Builds `input` into script text; throws with the type errors or the subset problems. */
export async function buildApp(input: string): Promise<string> {
  const warnings: string[] = [];
  // A throwaway tsconfig: the program's root files are the app and types/iot.d.ts, wherever the app is.
  const tmp = mkdtempSync(join(tmpdir(), "build-app-"));
  const tsconfig = join(tmp, "tsconfig.json");
  writeFileSync(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        target: "ES2015",
        module: "ESNext",
        moduleResolution: "bundler",
        lib: ["ES2015"],
        types: ["espruino"],
        typeRoots: [resolve(root, "node_modules/@types")],
        rootDir: "/",
        strict: true,
        skipLibCheck: true,
        allowJs: true,
        checkJs: false,
      },
      files: [resolve(input), resolve(root, "types/iot.d.ts")],
      include: [`${resolve(dirname(input))}/**/*.ts`],
    }),
  );
  let bundle: Awaited<ReturnType<typeof rollup>>;
  try {
    bundle = await rollup({
      input,
      onwarn: (w) => {
        warnings.push(w.message);
      },
      plugins: [
        typescript({
          tsconfig,
          include: [`${resolve(dirname(input))}/**/*`, resolve(root, "types/iot.d.ts")],
          noEmitOnError: true,
        }),
        terser(terserOptions as any),
      ],
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // iife: the app's top-level names stay its own (the firmware evals app.js inside a function anyway)
  const { output } = await bundle.generate({ format: "iife" });
  await bundle.close();
  const typeErrors = warnings.filter((w) => /TS\d+/.test(w));
  if (typeErrors.length) throw new Error("type errors:\n  " + typeErrors.join("\n  "));
  const code = output[0].code;
  const problems = checkBundle(code);
  if (problems.length)
    throw new Error(`Espruino subset check FAILED (${problems.length}):\n  ` + problems.join("\n  "));
  return code;
}

async function main(argv: string[]) {
  let input = "",
    out = "dist/app.js";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (a === "-o" || a === "--out") out = argv[++i];
    else if (!a.startsWith("-") && !input) input = a;
    else {
      console.error(`build:app: unknown argument ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  if (!input) {
    console.error(`build:app: which app?\n${USAGE}`);
    process.exit(2);
  }
  if (!existsSync(input)) {
    console.error(`build:app: ${input} not found`);
    process.exit(1);
  }
  let code: string;
  try {
    code = await buildApp(input);
  } catch (e) {
    console.error(`build:app: ${input}: ${(e as Error).message}`);
    process.exit(1);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code, "latin1");
  const { raw, gzip } = bundleSizes(code);
  console.log(`${out}: ${raw} bytes raw, ${gzip} bytes gzip, from ${input}; Espruino subset check passed`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
