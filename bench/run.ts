// `npm run bench`: figures, not pass/fail. Prints tables and writes bench/results.json.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { rollup } from "rollup";
import typescript from "@rollup/plugin-typescript";
import terser from "@rollup/plugin-terser";
import json from "@rollup/plugin-json";
import { encodePublish, MqttReader } from "../lib/mqtt";

const board = JSON.parse(readFileSync("board.json", "utf8"));
const ESPRUINO_MQTT_MODULE = 6140; // Espruino's own MQTT module, minified (espruino.com/modules/MQTT.min.js)
const results: any = { date: new Date().toISOString(), node: process.version };

const sizes = (code: string) => {
  const b = Buffer.from(code, "latin1");
  return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
};

// Each part is bundled alone with the firmware's terser settings; other lib/ and
// firmware/ files are external, so each byte is counted in exactly one part.
const parts: [string, string[]][] = [
  ["codec", ["lib/mqtt.ts", "lib/bytes.ts"]],
  ["signer", ["lib/crypto.ts", "lib/aliyun.ts"]],
  ["link", ["lib/backoff.ts", "lib/link.ts", "firmware/device.ts"]],
  ["console", ["lib/config.ts", "firmware/console.ts", "firmware/main.ts"]],
  ["alink", ["lib/alink.ts"]],
];

async function partSize(files: string[]) {
  const mine = files.map((f) => f.replace(/\.ts$/, ""));
  const entry = "\0bench-entry";
  const bundle = await rollup({
    input: entry,
    treeshake: { moduleSideEffects: true },
    external: (id, importer) => {
      if (id === entry || !importer) return false;
      if (id.endsWith(".json")) return false;
      const abs = id.startsWith(".") ? new URL(id, "file://" + process.cwd() + "/" + importer.replace(process.cwd() + "/", "")).pathname : id;
      return !mine.some((m) => abs.endsWith(m) || abs.endsWith(m + ".ts"));
    },
    plugins: [
      {
        name: "entry",
        resolveId: (id) => (id === entry ? id : null),
        // Keep every export alive so nothing is tree-shaken away from the count.
        load: (id) => (id === entry ? files.map((f, i) => `export * as m${i} from "./${f}";`).join("\n") : null),
      },
      json({ preferConst: true, compact: true }),
      typescript({ tsconfig: "./tsconfig.json", outDir: undefined, noEmitOnError: false, include: ["lib/**/*.ts", "firmware/**/*.ts"] }),
    ],
    onwarn: () => {},
  });
  const { output } = await bundle.generate({
    format: "es",
    plugins: [terser({ ecma: 2015, compress: { passes: 3, pure_getters: true }, mangle: { properties: { regex: /^_/ } }, format: { ascii_only: true } })],
  });
  await bundle.close();
  return sizes(output[0].code);
}

function rate(fn: () => void, minMs = 300) {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    t = performance.now();
  }
  return Math.round((n * 1000) / (t - t0));
}

async function main() {
  // Bundle
  const code = readFileSync("dist/firmware.js", "latin1");
  const whole = sizes(code);
  results.bundle = { ...whole, limit: board.bundleLimit, target: board.bundleTarget, espruinoMqttModule: ESPRUINO_MQTT_MODULE, parts: {} as any };
  for (const [name, files] of parts) {
    if (files.every((f) => existsSync(f))) results.bundle.parts[name] = await partSize(files);
  }
  console.log("\nBundle (dist/firmware.js, bytes)");
  console.table({
    firmware: { raw: whole.raw, gzip: whole.gzip, "% of limit": Math.round((whole.raw / board.bundleLimit) * 100), "% of target": Math.round((whole.raw / board.bundleTarget) * 100) },
    ...Object.fromEntries(Object.entries(results.bundle.parts).map(([k, v]: any) => [`  ${k}`, { raw: v.raw, gzip: v.gzip }])),
    "Espruino MQTT module alone": { raw: ESPRUINO_MQTT_MODULE },
  });

  // Signing
  try {
    const { benchSign } = await import("./sign");
    results.sign = await benchSign();
  } catch (e: any) {
    results.sign = { error: String(e.message || e) };
    console.log("signing benchmark unavailable:", results.sign.error);
  }

  // Codec
  results.codec = {};
  for (const size of [16, 300, 20 * 1024]) {
    const payload = "x".repeat(size);
    const topic = "/sys/a1X2bEnP82z/example1/thing/event/property/post";
    const max = 64 * 1024;
    const bytes = encodePublish(topic, payload, 1, 7, false, max);
    const enc = rate(() => encodePublish(topic, payload, 1, 7, false, max));
    const reader = new MqttReader(max);
    let got = 0;
    const dec = rate(() => reader.push(bytes, () => got++));
    const r2 = new MqttReader(max);
    const chunks: string[] = [];
    for (let i = 0; i < bytes.length; i += 64) chunks.push(bytes.slice(i, i + 64));
    const decChunked = rate(() => { for (const c of chunks) r2.push(c, () => got++); });
    results.codec[`${size} B publish`] = { encodePerSec: enc, decodePerSec: dec, decode64BChunksPerSec: decChunked };
  }
  console.log("\nMQTT codec on the host (packets/s, QoS 1 PUBLISH)");
  console.table(results.codec);

  // Real interpreter
  const espruino = process.env.ESPRUINO;
  if (espruino && existsSync(espruino)) {
    try {
      // @ts-ignore -- plain ESM tool without types
      const { measureDevice } = await import("../tools/espruino-run.mjs");
      results.device = await measureDevice({ espruino, firmware: "dist/firmware.js" });
      console.log("\nIn the real Espruino interpreter (Linux build; JsVars are a lower bound for ESP32)");
      console.table(results.device);
    } catch (e: any) {
      results.device = { error: String(e.message || e) };
      console.log("device benchmark failed:", results.device.error);
    }
  } else {
    results.device = { skipped: "set ESPRUINO=/path/to/espruino (a Linux build of the Espruino interpreter) to measure JsVars, load-to-online time and publishes/s in the real interpreter" };
    console.log("\nIn the real Espruino interpreter: " + results.device.skipped);
  }

  writeFileSync("bench/results.json", JSON.stringify(results, null, 2) + "\n");
  console.log("\nwritten bench/results.json");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
