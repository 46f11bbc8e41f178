// Runs the firmware bundle in the REAL Espruino interpreter (a Linux build, path in
// $ESPRUINO) against the local platform emulator, and reports what it saw.
// The interpreter is not part of this repo: build it from Espruino's public source.
//
// How a run works (traps of the Linux build: see /work/shared/ESPRUINO.md):
// - it runs in a fresh temp dir, because Storage is the file ./espruino.flash there;
// - the script it runs is prelude + dist/firmware.js + postlude, one file. Nothing goes
//   through stdin (piped lines race the interpreter and can abort it);
// - the prelude installs a Wi-Fi stand-in (the Linux build has no Wifi module) and wraps
//   setTime(), which on Linux does not move the clock but pushes every timer forward;
// - the postlude configures the firmware with iot.setup() (unless Storage already holds a
//   config), drives posts and prints `@@name {json}` marker lines that we parse here.
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, statSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DEFAULT_FIRMWARE = join(ROOT, "dist", "firmware.js");
export const ENABLE_HINT =
  "set ESPRUINO=/path/to/espruino (a Linux build of the Espruino interpreter) to run the bundle in the real interpreter";

/** The interpreter named by $ESPRUINO: `{ path }` when usable, else `{ path: null, reason }`. */
export function findEspruino(env = process.env) {
  const p = env.ESPRUINO;
  if (!p) return { path: null, reason: "ESPRUINO is not set; " + ENABLE_HINT };
  const abs = resolve(p);
  if (!existsSync(abs) || !statSync(abs).isFile()) return { path: null, reason: "ESPRUINO=" + p + " is not a file; " + ENABLE_HINT };
  return { path: abs };
}

// Runs first, before the firmware. Plain ES5: it runs on the device interpreter.
// __rt is the real clock (seconds); Date.now()/getTime() read it plus the offset that the
// firmware's setTime() asked for, as a board with a settable clock would.
const PRELUDE = `var __rt=getTime,__dn=Date.now,__off=0,__t0=__rt(),__setTimes=0;
Date.now=function(){return __dn.call(Date)+__off};
global.getTime=function(){return __rt()+__off/1000};
global.setTime=function(s){__setTimes++;__off=s*1000-__dn.call(Date)};
// __wifi.fail: how many of the next connects fail; __wifi.drop() reports a lost link as the
// ESP32 does (a "disconnected" event; Espruino objects have on/emit built in).
var __wifi={connects:0,fail:0,drop:function(){require("Wifi").emit("disconnected",{reason:"test"})}};
Modules.addCached("Wifi",function(){module.exports={
connect:function(ssid,o,cb){__wifi.connects++;var f=__wifi.fail>0;if(f)__wifi.fail--;if(cb)setTimeout(function(){cb(f?"auth fail":null)},10)},
disconnect:function(cb){if(cb)setTimeout(cb,1)},
getIP:function(cb){var r={ip:"127.0.0.1",netmask:"255.0.0.0",gw:"127.0.0.1",mac:"02:00:00:00:00:01"};if(cb)setTimeout(function(){cb(null,r)},1);return r},
getStatus:function(cb){var r={station:"connected",ap:"disabled",mode:"sta"};if(cb)setTimeout(function(){cb(r)},1);return r},
getDetails:function(cb){var r={status:"connected",ssid:"emulator"};if(cb)setTimeout(function(){cb(r)},1);return r},
setHostname:function(){},setConfig:function(){},stopAP:function(cb){if(cb)setTimeout(cb,1)},save:function(){},
scan:function(cb){if(cb)setTimeout(function(){cb([])},1)}
}});
// The Linux build's watchdog calls are no-ops: record them (period, kicks, longest gap in s).
var __wd={s:0,auto:null,kicks:0,last:0,gap:0},__ee=E.enableWatchdog,__ek=E.kickWatchdog;
E.enableWatchdog=function(s,a){__wd.s=s;__wd.auto=a;__wd.last=__rt();__ee.call(E,s,a)};
E.kickWatchdog=function(){var t=__rt();if(__wd.last&&t-__wd.last>__wd.gap)__wd.gap=Math.round((t-__wd.last)*10)/10;__wd.last=t;__wd.kicks++;__ek.call(E)};
function __mem(){var m=process.memory();return{usage:m.usage,free:m.free,total:m.total}}
function __out(k,v){console.log("@@"+k+" "+JSON.stringify(v))}
var __m0=__mem();
`;

// Runs after the firmware. SETUP is the config for iot.setup() or null; PLAN the post plan.
const POSTLUDE = `
(function(SETUP,PLAN){
var ms=function(){return Math.round((__rt()-__t0)*10000)/10};
var loadMs=ms();
if(typeof iot!="object"){__out("load",{ms:loadMs,mem:__mem()});__out("fail",{why:"no global iot after the firmware ran"});return}
var online=0,want=null,n=0,phase="wait",wd=null,tRate=0,codes={},left=0,sent=0;
// Samples go into slots that exist already, so that recording them allocates nothing.
var mem={"10":0,"20":0,"30":0,"40":0,"50":0,"end":0},rate={w:0,seq:0,seqMs:0,win:0,winMs:0};
var rtt=new Float32Array(PLAN.rate||1),tPost=0;
function fail(why){__out("fail",{why:why,phase:phase,n:n});phase="failed"}
function arm(){if(wd)clearTimeout(wd);wd=setTimeout(function(){wd=null;fail("no post_reply within 5 s")},5000)}
function disarm(){if(wd){clearTimeout(wd);wd=null}}
iot.on("online",function(){online++;__out("online",{ms:ms(),count:online,mem:__mem(),status:iot.status()});
if(online==1&&PLAN.posts)setTimeout(waitSet,1)});
iot.on("offline",function(){__out("offline",{ms:ms(),status:iot.status()})});
iot.on("set",function(p){__out("set",{params:p});if(phase=="wait")setTimeout(startPosts,1)});
iot.on("reply",function(id,code,msg){
codes[code]=(codes[code]||0)+1;
if(phase=="seq"||phase=="utf8"){if(String(id)!==String(want))return;disarm();n++;setTimeout(phase=="seq"?seqNext:startSeq,0)}
else if(phase=="rate"||phase=="win"){if(want&&want[id]){if(phase=="rate")rtt[sent-1]=(__rt()-tPost)*1000;delete want[id];left--;disarm();setTimeout(rateNext,0)}}
});
function waitSet(){__out("ready",{ms:ms()});setTimeout(function(){if(phase=="wait"){__out("noset",{});startPosts()}},3000)}
// First one post with non-ASCII text (a Unicode string on this build), then the sequence.
function startPosts(){if(phase!="wait")return;phase="utf8";want=post({Text:"\\u6e29\\u5ea6 caf\\xe9"});if(want!=null)arm()}
function startSeq(){phase="seq";n=0;seqNext()}
function post(p){try{return iot.post(p)}catch(e){fail("iot.post threw: "+e.message);return null}}
function seqNext(){
if(phase!="seq")return;
if(n&&n%10==0&&n<=50)mem[n]=__mem().usage;
if(n>=PLAN.posts){startRate(1,"rate");return}
want=post({Seq:n,Temp:20+n%10/2});if(want!=null)arm()}
function startRate(w,ph){phase=ph;want={};left=0;sent=0;tRate=__rt();rate.w=w;rateNext()}
function rateNext(){
if(phase!="rate"&&phase!="win")return;
while(sent<PLAN.rate&&left<rate.w){tPost=__rt();var id=post({Seq:sent++});if(id==null)return;want[id]=1;left++;arm()}
if(left)return;
var t=__rt()-tRate;
if(phase=="rate"){rate.seq=PLAN.rate/t;rate.seqMs=t*1000;if(PLAN.window>1){startRate(PLAN.window,"win");return}}
else{rate.win=PLAN.rate/t;rate.winMs=t*1000}
phase="done";want=null;mem.end=__mem().usage;
var rt=[];for(var k=0;k<rtt.length;k++)rt.push(Math.round(rtt[k]*10)/10);
__out("done",{ms:ms(),mem:mem,rate:rate,rtt:rt,codes:codes,setTimes:__setTimes,offMs:__off,wifi:__wifi.connects,status:iot.status()});
if(PLAN.quit)setTimeout(function(){quit()},50)}
// Memory is read once the script has finished: while it runs, its whole source text is in RAM.
setTimeout(function(){
var st=iot.status?iot.status():null;
__out("load",{ms:loadMs,mem:__mem(),status:st});
if(!st||st.state=="unconfigured"){if(SETUP){try{iot.setup(SETUP);__out("setup",{ms:ms()})}catch(e){__out("fail",{why:"iot.setup threw: "+e.message})}}else __out("fail",{why:"not configured"})}
},1);
})(%SETUP%,%PLAN%);
`;

/**
 * Start the interpreter on prelude + firmware + postlude in `dir` (a new temp dir when
 * not given). Returns a handle: `markers` emits ("marker", name, value) and ("line", text);
 * `wait(name, ms)` resolves with the value of the next marker `name`; `exited` resolves
 * with `{code, signal}`; `kill()`; `output()` is everything printed so far.
 * `code` (script text) replaces the firmware file when given; `postlude` (script text with
 * %SETUP% and %PLAN% placeholders) replaces the default postlude.
 * @param {{espruino: string, firmware?: string, code?: string, postlude?: string, setup?: object|null, plan?: object, dir?: string, timeoutMs?: number}} o
 */
export function startDevice(o) {
  const dir = o.dir || mkdtempSync(join(tmpdir(), "espruino-run-"));
  const fw = o.code != null ? o.code : readFileSync(o.firmware || DEFAULT_FIRMWARE, "latin1");
  const plan = Object.assign({ posts: 0, rate: 0, window: 1, quit: false }, o.plan || {});
  const post = (o.postlude || POSTLUDE).replace("%SETUP%", () => JSON.stringify(o.setup || null)).replace("%PLAN%", () => JSON.stringify(plan));
  // latin1 keeps the bundle's bytes as they are (it is ASCII when the build is right).
  writeFileSync(join(dir, "run.js"), PRELUDE + fw + "\n;" + post, "latin1");
  const proc = spawn(o.espruino, ["run.js"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const markers = new EventEmitter();
  const seen = new Map();
  let out = "", buf = "";
  const onData = (d) => {
    const s = d.toString("latin1");
    out += s; buf += s;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, "");
      buf = buf.slice(i + 1);
      markers.emit("line", line);
      // A failed interpreter assertion dumps all memory and exits: report it at once.
      const as = /ASSERT\(.*FAILED.*/.exec(line);
      if (as) markers.emit("@fail", { why: "interpreter " + as[0] });
      const m = /@@(\w+) (.*)$/.exec(line);
      if (m) {
        let v;
        try { v = JSON.parse(m[2]) } catch (e) { v = { unparsed: m[2] } }
        if (!seen.has(m[1])) seen.set(m[1], []);
        seen.get(m[1]).push(v);
        markers.emit("marker", m[1], v);
        markers.emit("@" + m[1], v);
      }
    }
  };
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  const exited = new Promise((res) => proc.on("exit", (code, signal) => res({ code, signal })));
  let alive = true;
  exited.then(() => { alive = false; markers.emit("exit") });
  const timer = o.timeoutMs ? setTimeout(() => kill(), o.timeoutMs) : null;
  function kill() {
    if (timer) clearTimeout(timer);
    if (alive) proc.kill("SIGKILL");
    return exited;
  }
  return {
    dir, proc, markers, exited, kill,
    output: () => out,
    seen: (name) => seen.get(name) || [],
    /** Resolves with the next value of marker `name` (or an earlier unconsumed one when `past`). */
    wait(name, ms, past) {
      if (past && seen.has(name)) return Promise.resolve(seen.get(name)[0]);
      return new Promise((res, rej) => {
        const done = () => { clearTimeout(t); markers.off("@" + name, ok); markers.off("@fail", bad); markers.off("exit", gone) };
        const ok = (v) => { done(); res(v) };
        const bad = (v) => { done(); rej(new Error("device reported failure while waiting for " + name + ": " + JSON.stringify(v))) };
        const gone = () => { done(); rej(new Error("interpreter exited while waiting for " + name + "\n" + tail(out))) };
        const t = setTimeout(() => { done(); rej(new Error("no " + name + " within " + ms + " ms\n" + tail(out))) }, ms);
        markers.on("@" + name, ok); markers.on("@fail", bad); markers.on("exit", gone);
        if (!alive) gone();
      });
    },
  };
}

function tail(s) {
  const l = s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").split("\n").filter((x) => x.trim());
  return "--- interpreter output (last 15 lines) ---\n" + l.slice(-15).join("\n");
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const rnd = (n) => Array.from(randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join("");

/** Lines of the interpreter's output that report an uncaught error. */
export function errorLines(out) {
  return out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").split(/\r?\n/)
    .filter((l) => /Uncaught|ERROR:|ASSERT\(|FAILED|InternalError/.test(l));
}

/**
 * The full device scenario: load the bundle, configure it with iot.setup(), come online
 * against the emulator, answer a property set, one post with non-ASCII text, 50 posts one
 * at a time (JsVars sampled every 10), `rate` posts one at a time and `rate` posts with
 * `window` in flight (QoS 1 rates); a control run (harness alone); a second boot in the
 * same Storage that must come online from the saved config.
 * Returns `{ok, checks: [{name, ok, detail}], ...figures}`; figures (undefined when not reached):
 *   jsvarsAfterLoad, jsvarsOnline, jsvarsAfter10, jsvarsAfter50, jsvarsEnd (process.memory().usage,
 *   after GC; Linux build, so a lower bound for an ESP32), jsvarsHarness (control run),
 *   jsvarsFirmwareIdle / jsvarsFirmwareOnline (minus the harness), loadMs, loadToOnlineMs,
 *   rebootLoadToOnlineMs (interpreter clock, from the first line of the script),
 *   qos1PerSec (1 in flight), qos1WindowPerSec (`window` in flight), qos0PerSec (null: iot
 *   has no QoS 0 post), qos1RttMedianMs / qos1RttP90Ms (post -> post_reply, one at a time),
 *   loadAverage (the Linux build busy-polls while a socket is open: timings depend on the
 *   machine's load), clockOffsetMs, status.
 * @param {{espruino: string, firmware?: string, rate?: number, window?: number, reboot?: boolean, log?: (l: string) => void, timeoutMs?: number}} o
 */
export async function measureDevice(o) {
  const { startEmulator } = await import("./emulator.mjs");
  const log = o.log || (() => {});
  const posts = 50, rateN = o.rate || 100, windowN = o.window || 8;
  const dev = { productKey: rnd(11), deviceName: "espruino-test", deviceSecret: rnd(32) };
  const emuEvents = [];
  const emu = await startEmulator({ port: 0, devices: [dev], log: (l) => log("emu: " + l) });
  for (const ev of ["connect", "connack", "subscribe", "post", "set_reply", "ntp", "disconnect", "kick", "pingreq"]) {
    emu.on(ev, (d) => emuEvents.push({ ev, d, t: Date.now() }));
  }
  const setup = Object.assign({ ssid: "emulator", password: "password123", host: "127.0.0.1", port: emu.port }, dev);
  const checks = [];
  const check = (name, ok, detail) => { checks.push({ name, ok: !!ok, detail: detail === undefined ? "" : String(detail) }); log((ok ? "ok   " : "FAIL ") + name + (detail !== undefined ? " (" + detail + ")" : "")) };
  const r = { checks, ok: false };
  const limit = o.timeoutMs || 90000;
  let d = null, d2 = null;
  try {
    d = startDevice({ espruino: o.espruino, firmware: o.firmware, setup, plan: { posts, rate: rateN, window: windowN, quit: true }, timeoutMs: limit });
    d.markers.on("line", (l) => log("dev: " + l));
    // An uncaught error while the script runs makes the Linux build exit at once.
    let load = null, loadErr = "";
    try { load = await d.wait("load", 20000, true) } catch (e) { loadErr = e.message }
    const loadErrors = errorLines(d.output());
    check("bundle loads without error", load && loadErrors.length === 0, loadErrors.join(" | ") || loadErr || "load " + load.ms + " ms");
    if (!load) throw new Error("the bundle did not load");
    r.jsvarsAfterLoad = load.mem.usage;
    r.loadMs = load.ms;
    const on = await d.wait("online", 20000, true);
    r.jsvarsOnline = on.mem.usage;
    r.loadToOnlineMs = on.ms;
    // the emulator reports CONNACK once its write completes: on a busy machine the device's
    // "online" line can reach us first
    await until(() => emuEvents.some((e) => e.ev === "connack"), 2000).catch(() => {});
    const connack = emuEvents.filter((e) => e.ev === "connack");
    check("comes online: CONNECT + CONNACK 0", connack.length >= 1 && connack[0].d.returnCode === 0, "connacks " + connack.map((e) => e.d.returnCode).join(","));
    await d.wait("ready", 10000, true);
    // "online" comes with CONNACK; a set published before the SUBSCRIBE is processed is lost.
    await until(() => emuEvents.some((e) => e.ev === "subscribe" && e.d.topics.some((t) => t.topic.endsWith("/property/set"))), 5000).catch(() => {});
    const subs = emuEvents.filter((e) => e.ev === "subscribe").flatMap((e) => e.d.topics.map((t) => t.topic));
    check("subscribes to the platform topics", subs.some((t) => t.endsWith("/thing/service/property/set")), subs.join(" "));
    let reply = null, setErr = null;
    try { reply = await emu.setProperty(dev.productKey, dev.deviceName, { Switch: 1, Note: "x" }, { timeout: 5000 }) } catch (e) { setErr = e.message }
    const setSeen = d.seen("set")[0] || (await d.wait("set", 2000).catch(() => null));
    check("property set reaches iot.on('set') and gets set_reply 200", reply && reply.code === 200 && setSeen && setSeen.params && setSeen.params.Switch === 1,
      setErr || JSON.stringify(reply));
    const done = await d.wait("done", limit, true);
    const postEv = emuEvents.filter((e) => e.ev === "post");
    const total = 1 + posts + rateN * (windowN > 1 ? 2 : 1);
    // The firmware may post more on its own (e.g. set values reported back): at least ours.
    check("every post gets a post_reply 200 (" + total + " posts)", done.codes["200"] >= total && postEv.length >= total &&
      postEv.every((e) => e.d.code === 200) && Object.keys(done.codes).length === 1,
      "replies " + JSON.stringify(done.codes) + ", emulator saw " + postEv.length + " posts");
    const note = postEv.find((e) => e.d.params && "Text" in e.d.params);
    check("non-ASCII text arrives as UTF-8", note && note.d.params.Text === "\u6e29\u5ea6 caf\xe9", note ? JSON.stringify(note.d.params) + " code " + note.d.code : "post not seen");
    r.jsvarsAfter10 = done.mem["10"];
    r.jsvarsAfter50 = done.mem["50"];
    r.jsvarsSamples = done.mem;
    r.jsvarsEnd = done.mem.end;
    // A leak of even one JsVar per message adds >= 40 between post 10 and post 50, and
    // >= 200 over the rate runs that follow (whose end still has some transient state).
    check("JsVars do not grow from message to message (after 10 vs after 50 vs after all " + total + ")",
      r.jsvarsAfter50 - r.jsvarsAfter10 < 10 && r.jsvarsEnd - r.jsvarsAfter50 < 40, JSON.stringify(done.mem));
    r.qos1PerSec = round(done.rate.seq);
    r.qos1WindowPerSec = done.rate.win ? round(done.rate.win) : null;
    r.window = windowN;
    r.qos0PerSec = null; // iot has no QoS 0 post
    // Round trips one at a time: the median resists a busy machine better than the mean.
    const rtt = done.rtt.slice().sort((a, b) => a - b);
    r.qos1RttMedianMs = round(rtt[rtt.length >> 1]);
    r.qos1RttP90Ms = round(rtt[Math.floor(rtt.length * 0.9)]);
    r.loadAverage = round(loadavg()[0]);
    r.ntpSetTimeCalls = done.setTimes;
    r.clockOffsetMs = round(done.offMs);
    check("NTP sync sets the clock (|offset| < 1 s)", done.setTimes >= 1 && Math.abs(done.offMs) < 1000, "setTime calls " + done.setTimes + ", offset " + round(done.offMs) + " ms");
    r.status = done.status;
    const ex = await Promise.race([d.exited, new Promise((res) => setTimeout(() => res(null), 3000))]);
    if (!ex) await d.kill();
    const errs = errorLines(d.output());
    check("no uncaught errors during the run", errs.length === 0, errs.join(" | "));

    // Control run: the same prelude/postlude around a do-nothing `iot`, to tell the
    // harness' own JsVars from the firmware's.
    const c = startDevice({ espruino: o.espruino, code: CONTROL, setup: null, plan: { quit: true }, timeoutMs: 20000 });
    try {
      const cl = await c.wait("load", 10000, true);
      r.jsvarsHarness = cl.mem.usage;
      r.jsvarsFirmwareIdle = r.jsvarsAfterLoad - cl.mem.usage;
      r.jsvarsFirmwareOnline = r.jsvarsOnline - cl.mem.usage;
    } finally { await c.kill(); rmSync(c.dir, { recursive: true, force: true }) }
    // board.json's RAM budget for the firmware once online (the Linux build's count is a lower bound)
    const budget = JSON.parse(readFileSync(join(ROOT, "board.json"), "utf8")).ramBudgetJsVars;
    r.ramBudgetJsVars = budget;
    check("firmware JsVars online within board.json ramBudgetJsVars", r.jsvarsFirmwareOnline > 0 && r.jsvarsFirmwareOnline <= budget,
      r.jsvarsFirmwareOnline + " of " + budget);

    if (o.reboot !== false) {
      // Second boot in the same Storage: the saved config alone must bring it online.
      const before = emuEvents.filter((e) => e.ev === "connack").length;
      d2 = startDevice({ espruino: o.espruino, firmware: o.firmware, dir: d.dir, setup: null, plan: { quit: false }, timeoutMs: 30000 });
      d2.markers.on("line", (l) => log("dev2: " + l));
      let on2 = null, err2 = null;
      try { on2 = await d2.wait("online", 20000, true) } catch (e) { err2 = e.message }
      check("reboot comes online from the config saved in Storage", on2 && emuEvents.filter((e) => e.ev === "connack").length > before, err2 || "online after " + on2.ms + " ms");
      if (on2) { r.rebootLoadToOnlineMs = on2.ms; r.rebootJsvarsOnline = on2.mem.usage }
      await d2.kill();
    }
  } catch (e) {
    check("scenario ran to the end", false, e.message);
  } finally {
    if (d) await d.kill();
    if (d2) await d2.kill();
    await emu.close();
    if (d && !o.keep) rmSync(d.dir, { recursive: true, force: true });
  }
  r.ok = checks.every((c) => c.ok);
  return r;
}

// A stand-in `iot` for the control run: as small as possible, it never goes online; it
// keeps the listeners, as the firmware does, so the harness' closures count on both sides.
const CONTROL = 'var iot={l:[],status:function(){return{state:"control"}},on:function(e,f){this.l.push(f)}};';

function until(f, ms) {
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const iv = setInterval(() => {
      if (f()) { clearInterval(iv); res(undefined) } else if (Date.now() - t0 > ms) { clearInterval(iv); rej(new Error("timed out after " + ms + " ms")) }
    }, 10);
  });
}

const round = (x) => (typeof x === "number" ? Math.round(x * 10) / 10 : x);
