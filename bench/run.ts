// `npm run bench`: figures, not pass/fail. Prints tables and writes bench/results.json.
// bench/cpu-one.ts (run by hand, BENCH_CALLGRIND=1) counts the interpreter's instructions per post of one bundle.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { rollup } from "rollup";
import { relative, resolve } from "node:path";
import { decode } from "@jridgewell/sourcemap-codec";
import config from "../rollup.config.mjs";
import { encodePublish, readPackets, type MqttReader } from "../lib/mqtt";

const board = JSON.parse(readFileSync("board.json", "utf8"));
const ESPRUINO_MQTT_MODULE = 6140; // Espruino's own MQTT module, minified (espruino.com/modules/MQTT.min.js)
const results: any = { date: new Date().toISOString(), node: process.version };
const failures: string[] = [];

const sizes = (code: string) => {
  const b = Buffer.from(code, "latin1");
  return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
};

// Per-part sizes: the real firmware build (rollup.config.mjs, same plugins and terser
// settings) with a source map; every byte of the minified bundle is attributed to the
// source file its mapping segment comes from, so the parts add up to the bundle.
const parts: [string, string[]][] = [
  ["codec", ["lib/mqtt.ts", "lib/bytes.ts"]],
  ["signer", ["lib/crypto.ts", "lib/aliyun.ts"]],
  ["link", ["lib/backoff.ts", "lib/link.ts", "firmware/device.ts"]],
  ["console", ["lib/config.ts", "firmware/console.ts", "firmware/main.ts", "board.json"]],
  ["alink", ["lib/alink.ts"]],
  ["device logs", ["lib/logs.ts"]],
  ["ota", ["lib/ota.ts", "lib/crc16.ts", "firmware/ota.ts"]],
];

async function partSizes() {
  // the config's first entry is the firmware (the second is the OTA loader)
  const firmware: any = Array.isArray(config) ? config[0] : config;
  const bundle = await rollup({ ...firmware, onwarn: () => {} });
  const { output } = await bundle.generate({ ...firmware.output, file: undefined, sourcemap: true });
  await bundle.close();
  const { code, map } = output[0] as any;
  const lines = code.split("\n"),
    decoded = decode(map.mappings),
    bytesBySource: Record<string, number> = {};
  let unmapped = 0;
  lines.forEach((line: string, li: number) => {
    const segs: number[][] = decoded[li] || [];
    if (!segs.length) {
      unmapped += line.length;
      return;
    }
    unmapped += segs[0][0];
    segs.forEach((seg, k) => {
      const end = k + 1 < segs.length ? segs[k + 1][0] : line.length,
        n = end - seg[0];
      if (seg.length < 2) {
        unmapped += n;
        return;
      }
      // sources are relative to the project root (no output file given)
      const src = relative(process.cwd(), resolve(map.sources[seg[1]]));
      bytesBySource[src] = (bytesBySource[src] || 0) + n;
    });
  });
  const out: Record<string, number> = {};
  for (const [name, files] of parts) out[name] = files.reduce((a, f) => a + (bytesBySource[f] || 0), 0);
  const known = parts.flatMap((p) => p[1]);
  out["other (the footer that runs app.js)"] =
    unmapped +
    Object.entries(bytesBySource)
      .filter(([f]) => !known.includes(f))
      .reduce((a, [, n]) => a + n, 0);
  return out;
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
  results.bundle = {
    ...whole,
    limit: board.bundleLimit,
    target: board.bundleTarget,
    espruinoMqttModule: ESPRUINO_MQTT_MODULE,
    parts: {} as any,
  };
  results.bundle.parts = await partSizes();
  console.log("\nBundle (dist/firmware.js, bytes)");
  console.table({
    firmware: {
      raw: whole.raw,
      gzip: whole.gzip,
      "% of limit": Math.round((whole.raw / board.bundleLimit) * 100),
      "% of target": Math.round((whole.raw / board.bundleTarget) * 100),
    },
    ...Object.fromEntries(Object.entries(results.bundle.parts).map(([k, v]: any) => [`  ${k}`, { raw: v }])),
    "Espruino MQTT module alone": { raw: ESPRUINO_MQTT_MODULE },
  });

  // Signing
  try {
    const { benchSign, printSign } = await import("./sign");
    results.sign = benchSign();
    printSign(results.sign);
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
    const bytes = encodePublish(topic, payload, 1, 7, max);
    const enc = rate(() => encodePublish(topic, payload, 1, 7, max));
    const reader: MqttReader = { _maxPacket: max };
    let got = 0;
    const dec = rate(() => readPackets(reader, bytes, () => got++));
    const r2: MqttReader = { _maxPacket: max };
    const chunks: string[] = [];
    for (let i = 0; i < bytes.length; i += 64) chunks.push(bytes.slice(i, i + 64));
    const decChunked = rate(() => {
      for (const c of chunks) readPackets(r2, c, () => got++);
    });
    results.codec[`${size} B publish`] = { encodePerSec: enc, decodePerSec: dec, decode64BChunksPerSec: decChunked };
  }
  console.log("\nMQTT codec on the host (packets/s, QoS 1 PUBLISH)");
  console.table(results.codec);

  // Real interpreter
  const espruino = process.env.ESPRUINO;
  if (espruino && existsSync(espruino)) {
    try {
      const { measureDevice } = await import("../tools/real-interpreter/measure");
      // plain TCP, as test:device --tcp: the budget is the firmware's own JsVars (see bench/ram.ts)
      results.device = await measureDevice({ espruino, firmware: "dist/firmware.js", tls: false });
      const d = results.device;
      console.log("\nIn the real Espruino interpreter (Linux build; JsVars are a lower bound for ESP32)");
      console.table({
        "JsVars after load (firmware, unconfigured)": { value: d.jsvarsFirmwareIdle },
        "JsVars online (firmware)": { value: d.jsvarsFirmwareOnline },
        "JsVars online, booted from Storage (firmware)": {
          value: d.jsvarsFirmwareOnlineBooted,
          budget: d.ramBudgetOnlineJsVars,
        },
        "JsVars after 10 / 50 / all posts": { value: [d.jsvarsAfter10, d.jsvarsAfter50, d.jsvarsEnd].join(" / ") },
        "load to online, ms (setup / boot from Storage)": { value: d.loadToOnlineMs + " / " + d.rebootLoadToOnlineMs },
        "QoS 1 publishes/s (1 in flight / 8 in flight)": { value: d.qos1PerSec + " / " + d.qos1WindowPerSec },
        "QoS 0 publishes/s": { value: d.qos0PerSec == null ? "n/a: iot.post is always QoS 1" : d.qos0PerSec },
        "QoS 1 round trip, ms (median / p90)": { value: d.qos1RttMedianMs + " / " + d.qos1RttP90Ms },
        "device checks": { value: d.checks.filter((c: any) => c.ok).length + " of " + d.checks.length + " ok" },
      });
    } catch (e: any) {
      results.device = { error: String(e.message || e) };
      console.log("device benchmark failed:", results.device.error);
    }
    // Resident RAM the way a board runs it, both builds, from Storage and from RAM
    const { ramTable } = await import("./ram");
    results.ram = await ramTable("dist/firmware.js");
    console.log(
      "\nJsVars net of the bare interpreter (load: unconfigured; online/posts/sets: booted with a saved config;" +
        " after 100 posts, after 20 property sets) and iot.post/s (10 s, 8 awaiting post_reply)",
    );
    console.table(results.ram);
    results.ram.budget = board.ramBudgetOnlineJsVars;
    const { measureTls, builds } = await import("./ram");
    results.tls = {};
    for (const [name, path] of Object.entries(builds())) results.tls[name] = await measureTls(path);
    console.log(
      "\nOne TLS session in the interpreter (raw tls.connect to a local Node server; on an ESP32 mbedTLS uses the native heap instead)",
    );
    console.table(results.tls);
    // Where the JsVars are: the firmware with a marker after every module and statement
    const { ramParts, printParts } = await import("./ram-parts");
    results.ramParts = await ramParts();
    printParts(results.ramParts);
    // Espruino's MQTT module with minimal glue, measured the same way (ANCHOR_MQTT_JS)
    const { measureAnchor } = await import("./anchor");
    results.anchor = await measureAnchor();
    if ("skipped" in results.anchor) console.log("\nEspruino's MQTT module: " + results.anchor.skipped);
    else {
      console.log(
        "\nSide by side, booted from Storage, online over TCP, JsVars net of the bare interpreter; posts/s with up to 8 awaiting post_reply" +
          " (the module posts at QoS 0, the firmware's iot.post at QoS 1)",
      );
      const side: Record<string, any> = {};
      for (const [name, row] of Object.entries(results.anchor as Record<string, any>)) {
        side["Espruino MQTT module + glue, " + name] = row;
        const ours = results.ram[name + ", boot from Storage"];
        if (ours) side["this firmware, " + name] = ours;
      }
      console.table(side);
    }
    const over = Object.entries(results.ram).filter(
      ([k, v]: any) => /Storage/.test(k) && !(v.online > 0 && v.online <= board.ramBudgetOnlineJsVars),
    );
    if (over.length) {
      failures.push(
        "JsVars online booted from Storage over board.json ramBudgetOnlineJsVars " +
          board.ramBudgetOnlineJsVars +
          ": " +
          over.map(([k, v]: any) => k + " " + (v.online ?? v.error)).join("; "),
      );
    }
    if (results.device.checks?.some((c: any) => !c.ok))
      failures.push(
        "device checks failed: " +
          results.device.checks
            .filter((c: any) => !c.ok)
            .map((c: any) => c.name)
            .join("; "),
      );
  } else {
    results.device = {
      skipped:
        "set ESPRUINO=/path/to/espruino (a Linux build of the Espruino interpreter) to measure JsVars, load-to-online time and publishes/s in the real interpreter",
    };
    console.log("\nIn the real Espruino interpreter: " + results.device.skipped);
  }

  writeFileSync("bench/results.json", JSON.stringify(results, null, 2) + "\n");
  console.log("\nwritten bench/results.json");
  if (failures.length) {
    console.log("bench FAILED: " + failures.join("; "));
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
