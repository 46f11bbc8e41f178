// `npx tsx bench/device-post.ts`: ms per post (Alink json + MQTT PUBLISH encoding) in the
// real Espruino interpreter (ESPRUINO=/path/to/espruino, Linux build). Figures, not a test.
// The lib/ code is bundled and minified with the shipped terser settings (rollup.config.mjs),
// so the interpreter runs the same shapes of code as on the device.
import { writeFileSync, mkdtempSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { rollup } from "rollup";
import typescript from "@rollup/plugin-typescript";
import terser from "@rollup/plugin-terser";
import { terserOptions } from "../rollup.config.mjs";

const espruino = process.env.ESPRUINO;
if (!espruino) {
  console.log("set ESPRUINO=/path/to/espruino");
  process.exit(0);
}
const lib = (f: string) => JSON.stringify(resolve("lib", f));
const ENTRY = `
import { json, Alink } from ${lib("alink")};
import { utf8 } from ${lib("bytes")};
import { encodePublish, MqttReader } from ${lib("mqtt")};
var T = getTime, out = [];
var small = { Seq: 7, Temp: 21.5 };
var medium = { Temp: 21.5, Hum: 45, Volt: 3.3, On: true, Mode: "auto", Name: "living room sensor 2",
  Pos: { lat: 31.2304, lon: 121.4737 }, Hist: [20.1, 20.4, 20.9, 21.5], Err: null, Count: 123456789 };
var uni = { Text: "\\u6e29\\u5ea6 caf\\xe9", Temp: 21.5 };
var topic = "/sys/a1X2bEnP82z/example1/thing/event/property/post";
// best of 5 rounds of n calls: the machine may be busy with other work
function time(name, n, fn) {
  var best = 1e9, r, t, i;
  fn();
  for (r = 0; r < 5; r++) {
    t = T();
    for (i = 0; i < n; i++) fn();
    best = Math.min(best, (T() - t) * 1000 / n);
  }
  out.push(name + ": " + best.toFixed(2) + " ms");
}
var sent = 0, timers = { set: function () { return 1 }, clear: function () {} };
var host = { publish: function (t, p, q) { sent += encodePublish(t, p, q, 1, 65536).length }, error: function () {} };
var a = Alink(host, timers, "a1X2bEnP82z", "example1", function () { return 0 }, function () {});
[["small", small], ["medium", medium], ["non-ASCII", uni]].forEach(function (c) {
  var v = c[1], msg = { id: "1", version: "1.0", params: v, method: "thing.event.property.post" }, p = json(msg);
  time(c[0] + " json()", 20, function () { json(msg) });
  time(c[0] + " utf8(text)", 20, function () { utf8(p) });
  // p as UTF-8 bytes, as every string is on an ESP32: the validation path
  var pb = utf8(p);
  time(c[0] + " utf8(UTF-8 bytes)", 20, function () { utf8(pb) });
  time(c[0] + " encodePublish", 20, function () { encodePublish(topic, p, 1, 1, 65536) });
  time(c[0] + " Alink.post (json+publish)", 20, function () { a.post(v) });
  out.push(c[0] + " payload bytes: " + p.length);
});
// the way back: a post_reply (decoded from its PUBLISH bytes, then handled by Alink) and a PUBACK
var replyTopic = "/sys/a1X2bEnP82z/example1/thing/event/property/post_reply";
var replyBytes = encodePublish(replyTopic, '{"code":200,"data":{},"id":"1","message":"success","method":"thing.event.property.post","version":"1.0"}', 0, 0, 65536);
var reader = new MqttReader(65536), got = 0;
time("MqttReader.push post_reply PUBLISH", 20, function () { reader.push(replyBytes, function () { got++ }) });
time("MqttReader.push PUBACK", 20, function () { reader.push("\x40\x02\x00\x01", function () { got++ }) });
a.on = function () {};
time("Alink.message post_reply (not pending)", 20, function () { a.message(replyTopic, '{"code":200,"data":{},"id":"999999","message":"success"}') });
console.log("@@" + JSON.stringify(out));
quit();
`;
const b = await rollup({
  input: "\0e",
  plugins: [
    { name: "e", resolveId: (id) => (id === "\0e" ? id : null), load: (id) => (id === "\0e" ? ENTRY : null) },
    typescript({ tsconfig: "./tsconfig.json", outDir: undefined, noEmitOnError: false, include: ["lib/**/*.ts"] }),
  ],
  onwarn: () => {},
});
const { output } = await b.generate({ format: "iife", plugins: [terser(terserOptions)] });
const dir = mkdtempSync(join(tmpdir(), "devpost-"));
writeFileSync(join(dir, "bench.js"), output[0].code, "latin1");
const res = execFileSync(espruino, ["bench.js"], { cwd: dir, input: "", encoding: "latin1", timeout: 120000 });
const line = res.split("\n").find((l) => l.startsWith("@@"));
if (!line) {
  console.log(res);
  process.exit(1);
}
for (const l of JSON.parse(line.slice(2))) console.log(l);
