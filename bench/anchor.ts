// The reference for issue 15: Espruino's own MQTT module (EspruinoDocs modules/MQTT.js,
// minified as the Web IDE installs it; not part of this repo: ANCHOR_MQTT_JS=<path>) with the
// least glue that puts a device on the platform (Wi-Fi, the Alibaba password signed with
// HMAC-SHA256 over native SHA256, the property set and post reply topics, a reconnect after a
// drop), measured exactly as the firmware is by bench/ram.ts: installed in Storage, booted
// through the same OTA loader (the glue as fw.a, the module as the Storage file "MQTT" that
// require() reads), online over TCP to the emulator. It posts at QoS 0, as that module's users
// do, and has none of the firmware's features (no QoS 1 queue, ping timeout, backoff, TLS, OTA,
// services, logs).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builds, measureRam, type RamFigures } from "./ram";

// Plain ES5 for the interpreter. MODULE is replaced by the module's text (a string literal:
// it stays in flash until the first boot copies it into the Storage file "MQTT").
const GLUE = `(function(){
var S=require("Storage"),listeners={},mqtt=null,config=S.readJSON("anchor.cfg",1),postId=0;
if(!S.read("MQTT"))S.write("MQTT",%MODULE%);
function emit(e,a,b){(listeners[e]||[]).forEach(function(f){f(a,b)})}
function hex(s){var o="",i;for(i=0;i<s.length;i++)o+=(256+s.charCodeAt(i)).toString(16).slice(1);return o}
function sha256(s){return E.toString(new Uint8Array(require("crypto").SHA256(s)))}
function hmac(key,msg){var i,a="",b="";for(i=0;i<64;i++){var k=key.charCodeAt(i)|0;a+=String.fromCharCode(54^k);b+=String.fromCharCode(92^k)}return sha256(b+sha256(a+msg))}
function start(c){
var dev=c.productKey+"/"+c.deviceName,thing="/sys/"+dev+"/thing/";
mqtt=require("MQTT").create(c.host,{port:c.port,keep_alive:300,client_id:c.deviceName+"|securemode=3,signmethod=hmacsha256|",
username:c.deviceName+"&"+c.productKey,password:hex(hmac(c.deviceSecret,"clientId"+c.deviceName+"deviceName"+c.deviceName+"productKey"+c.productKey))});
mqtt.on("connected",function(){mqtt.subscribe(thing+"service/property/set");mqtt.subscribe(thing+"event/property/post_reply");emit("online")});
mqtt.on("publish",function(p){var m=JSON.parse(p.message);
if(p.topic==thing+"event/property/post_reply")emit("reply",m.id,m.code);
else if(p.topic==thing+"service/property/set"){mqtt.publish(p.topic+"_reply",JSON.stringify({id:m.id,code:200,data:{}}));emit("set",m.params)}});
mqtt.on("disconnected",function(){setTimeout(function(){mqtt.connect()},1000)});
require("Wifi").connect(c.ssid,{password:c.password},function(e){if(!e)mqtt.connect()});
global.iot.post=function(params){var id=""+ ++postId;mqtt.publish(thing+"event/property/post",JSON.stringify({id:id,version:"1.0",params:params,method:"thing.event.property.post"}));return id};
}
global.iot={on:function(e,f){(listeners[e]=listeners[e]||[]).push(f)},post:function(){},
status:function(){return{state:config?"configured":"unconfigured"}},
setup:function(c){S.writeJSON("anchor.cfg",c);config=c;start(c)}};
if(config)start(config);
})();`;

// The module as a board gets it: the Web IDE installs the minified module that espruino.com
// serves (modules/MQTT.min.js, minified by EspruinoDocs' build; EspruinoDocs Modules.md:
// "the Web IDE tries to load minified versions first"). The file from EspruinoDocs is
// minified here with terser, to the same effect: unminified, the interpreter would scan its
// comments and whitespace from flash at every call (about 50 % more CPU per post, measured),
// and its long local names cost JsVars on the ESP32's layout (29 more online).
// ANCHOR_UNMINIFIED=1 installs the file as it is.
async function moduleText(path: string): Promise<string> {
  const text = readFileSync(path, "latin1");
  if (process.env.ANCHOR_UNMINIFIED == "1") return text;
  const { minify } = await import("terser");
  const minified = await minify(text, { ecma: 5, format: { ascii_only: true, comments: false } });
  return minified.code || text;
}

/** The anchor's figures per interpreter build, or why there are none. */
export async function measureAnchor(
  path = process.env.ANCHOR_MQTT_JS,
): Promise<Record<string, RamFigures> | { skipped: string }> {
  if (!path)
    return {
      skipped:
        "set ANCHOR_MQTT_JS=<path to EspruinoDocs modules/MQTT.js> to measure Espruino's MQTT module side by side",
    };
  const module = await moduleText(path),
    glue = GLUE.replace("%MODULE%", () => JSON.stringify(module));
  const dir = mkdtempSync(join(tmpdir(), "anchor-")),
    file = join(dir, "anchor.js");
  writeFileSync(file, glue, "latin1");
  const out: Record<string, RamFigures> = {};
  try {
    for (const [name, espruino] of Object.entries(builds())) out[name] = await measureRam(espruino, file, "storage");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** CPU per post, the module and the firmware measured in turn, `rounds` times on each build:
 * one run each is at the mercy of whatever else the machine does (±15 % seen on a 2-core VM),
 * alternating runs share it. Returns per build: median, min and max ms per post of each. */
export async function compareCpu(rounds: number, firmware = "dist/firmware.js", path = process.env.ANCHOR_MQTT_JS) {
  if (!path) return { skipped: "set ANCHOR_MQTT_JS" };
  const module = await moduleText(path),
    glue = GLUE.replace("%MODULE%", () => JSON.stringify(module));
  const dir = mkdtempSync(join(tmpdir(), "anchor-")),
    file = join(dir, "anchor.js");
  writeFileSync(file, glue, "latin1");
  // ms of CPU, or with BENCH_CALLGRIND=1 instructions (then one round is enough: they repeat)
  const perPost = (figures: RamFigures) => figures.instructionsPerPost ?? figures.cpuMsPerPost ?? NaN;
  const summary = (values: number[]) => {
    const sorted = values.filter((v) => v > 0).sort((a, b) => a - b);
    return sorted.length
      ? { median: sorted[sorted.length >> 1], min: sorted[0], max: sorted[sorted.length - 1] }
      : { median: NaN, min: NaN, max: NaN };
  };
  const out: Record<string, any> = {};
  try {
    for (const [name, espruino] of Object.entries(builds())) {
      const moduleRuns: number[] = [],
        firmwareRuns: number[] = [];
      for (let round = 0; round < rounds; round++) {
        moduleRuns.push(perPost(await measureRam(espruino, file, "storage")));
        firmwareRuns.push(perPost(await measureRam(espruino, firmware, "storage")));
      }
      out["MQTT module QoS 0 publish, " + name] = summary(moduleRuns);
      out["firmware iot.post (QoS 1), " + name] = summary(firmwareRuns);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

// `npx tsx bench/anchor.ts`: the module's figures; `--rounds N`: CPU ms per post, module and
// firmware in turn N times on each build (medians)
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ""))) {
  const at = process.argv.indexOf("--rounds");
  if (at > 0) {
    console.log(
      "interpreter " +
        (process.env.BENCH_CALLGRIND == "1" ? "instructions" : "CPU ms") +
        " per post (a post, its acknowledgement and its reply), booted from Storage:",
    );
    console.table(await compareCpu(+process.argv[at + 1] || 5));
  } else {
    const figures = await measureAnchor();
    if ("skipped" in figures) console.log(figures.skipped);
    else console.table(figures);
  }
}
