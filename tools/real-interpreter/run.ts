// Runs the firmware bundle in the REAL Espruino interpreter (a Linux build, path in
// $ESPRUINO) and reports what it printed. The interpreter is not part of this repo: build it
// from Espruino's public source. This is the device oracle: code that passes on Node but breaks
// on Espruino shows up here. measure.ts (the standard run) and scenarios.ts (faults) use it.
//
// How a run works (traps of the Linux build: see docs/ESPRUINO.md):
// - it runs in a fresh temp dir, because Storage is the file ./espruino.flash there;
// - it boots as a flashed board does (npm run flash): the image is the Storage file fw.a
//   with the OTA boot state, and the loader (dist/loader.js) runs it from Storage, so its
//   code stays in flash. The script it runs is prelude + install (when Storage has no OTA
//   state yet) + loader + postlude, one file; .boot0 (prelude) and .bootcde (loader +
//   postlude) hold the same for a restart by load() (an OTA switch or rollback on Linux).
//   `boot: "ram"` instead runs prelude + bundle + postlude as one file, like the Web IDE's
//   default upload (the code's text then costs JsVars).
//   Nothing goes through stdin (piped lines race the interpreter and can abort it);
// - the prelude installs a Wi-Fi stand-in (the Linux build has no Wifi module) and wraps
//   setTime(), which on Linux does not move the clock but pushes every timer forward;
// - the postlude configures the firmware with iot.setup() (unless Storage already holds a
//   config), drives posts and prints `@@name {json}` marker lines that we parse here.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, statSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { initialState } from "../../lib/ota";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const DEFAULT_FIRMWARE = join(ROOT, "dist", "firmware.js");
export const LOADER = join(ROOT, "dist", "loader.js");
export const ENABLE_HINT =
  "set ESPRUINO=/path/to/espruino (a Linux build of the Espruino interpreter) to run the bundle in the real interpreter";

/** The interpreter named by $ESPRUINO: `{ path }` when usable, else `{ path: null, reason }`. */
export function findEspruino(
  env: NodeJS.ProcessEnv = process.env,
): { path: string; reason?: undefined } | { path: null; reason: string } {
  const p = env.ESPRUINO;
  if (!p) return { path: null, reason: "ESPRUINO is not set; " + ENABLE_HINT };
  const abs = resolve(p);
  if (!existsSync(abs) || !statSync(abs).isFile())
    return { path: null, reason: "ESPRUINO=" + p + " is not a file; " + ENABLE_HINT };
  return { path: abs };
}

// Runs first, before the firmware. Plain ES5: it runs on the device interpreter.
// __rt is the real clock (seconds); Date.now()/getTime() read it plus the offset that the
// firmware's setTime() asked for, as a board with a settable clock would.
const PRELUDE = `var __rt=getTime,__dn=Date.now,__off=0,__t0=__rt(),__setTimes=0;
Date.now=function(){return __dn.call(Date)+__off};
global.getTime=function(){return __rt()+__off/1000};
global.setTime=function(s){__setTimes++;__off=s*1000-__dn.call(Date)};
// __wifi.fail: how many of the next connects fail; connects before __wifi.downUntil (__rt()
// seconds) fail too; __wifi.drop() reports a lost link as the ESP32 does (a "disconnected"
// event; Espruino objects have on/emit built in).
var __wifi={connects:0,fail:0,downUntil:0,drop:function(){require("Wifi").emit("disconnected",{reason:"test"})}};
Modules.addCached("Wifi",function(){module.exports={
connect:function(ssid,o,cb){__wifi.connects++;var f=__wifi.fail>0||__rt()<__wifi.downUntil;if(__wifi.fail>0)__wifi.fail--;if(cb)setTimeout(function(){cb(f?"auth fail":null)},10)},
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
// The 64-bit build's pool starts at 4096 JsVars and grows for JS allocations only, never for
// mbedTLS's: grow it once so that a TLS session fits, as the ESP32's native heap would hold it.
if(process.env.BOARD=="LINUX"){var __grow=new Uint8Array(120000);__grow=undefined}
function __mem(){var m=process.memory();return{usage:m.usage,free:m.free,total:m.total}}
function __out(k,v){console.log("@@"+k+" "+JSON.stringify(v))}
var __m0=__mem();
`;

// Runs after the firmware. SETUP is the config for iot.setup() or null; PLAN the post plan.
export const POSTLUDE = `
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

export interface StartOptions {
  /** the interpreter binary */
  espruino: string;
  /** the bundle to run (default dist/firmware.js), installed as Storage fw.a */
  firmware?: string;
  /** script text installed instead of the firmware file */
  code?: string;
  /** postlude text with %SETUP% and %PLAN% placeholders (default: POSTLUDE) */
  postlude?: string;
  /** the config for iot.setup(), or null to boot from what Storage holds */
  setup?: object | null;
  /** the postlude's plan */
  plan?: Record<string, unknown>;
  /** run in this dir (its Storage) instead of a new temp dir */
  dir?: string;
  /** "storage" (default for a firmware file): written into Storage and booted from there, as
   * a flashed board does; "ram": the bundle's text is part of the script, as the Web IDE's
   * default upload (`code` always runs this way) */
  boot?: "storage" | "ram";
  /** kill the interpreter after this many ms */
  timeoutMs?: number;
}

/** A running interpreter. Marker values are the JSON the device printed (hence `any`). */
export interface DeviceRun {
  dir: string;
  proc: ChildProcess;
  markers: EventEmitter;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
  /** every value of marker `name` so far */
  seen: (name: string) => any[];
  /** Resolves with the next value of marker `name` (or an earlier unconsumed one when `past`). */
  wait: (name: string, ms: number, past?: boolean) => Promise<any>;
}

/**
 * Start the interpreter on prelude + firmware + postlude in `dir` (a new temp dir when
 * not given). Returns a handle: `markers` emits ("marker", name, value) and ("line", text);
 * `wait(name, ms)` resolves with the value of the next marker `name`; `exited` resolves
 * with `{code, signal}`; `kill()`; `output()` is everything printed so far.
 * `code` (script text) replaces the firmware file when given; `postlude` (script text with
 * %SETUP% and %PLAN% placeholders) replaces the default postlude.
 */
export function startDevice(o: StartOptions): DeviceRun {
  const dir = o.dir || mkdtempSync(join(tmpdir(), "espruino-run-"));
  const fw = o.code != null ? o.code : readFileSync(o.firmware || DEFAULT_FIRMWARE, "latin1");
  const plan = Object.assign({ posts: 0, rate: 0, window: 1, quit: false }, o.plan || {});
  const post = (o.postlude || POSTLUDE)
    .replace("%SETUP%", () => JSON.stringify(o.setup || null))
    .replace("%PLAN%", () => JSON.stringify(plan));
  // The loader marks a restart it asked for with otaLoader == 2: the postlude waits for that boot.
  const boot = readFileSync(LOADER, "latin1") + "\n;if(global.otaLoader!=2)" + post;
  const install =
    `(function(S){if(S.read("ota.s0")===undefined&&S.read("ota.s1")===undefined){S.write("fw.a",${JSON.stringify(fw)});` +
    `S.writeJSON("ota.s1",${JSON.stringify(initialState())})}S.write(".boot0",${JSON.stringify(PRELUDE)});S.write(".bootcde",${JSON.stringify(boot)})})(require("Storage"));\n`;
  // latin1 keeps the bundle's bytes as they are (it is ASCII when the build is right).
  const fromStorage = o.code == null && o.boot != "ram";
  // A Storage that has .boot0 runs it before run.js: the prelude must not run twice.
  writeFileSync(
    join(dir, "run.js"),
    fromStorage
      ? `if(typeof __rt=="undefined")eval(${JSON.stringify(PRELUDE)});\n` + install + boot
      : PRELUDE + fw + "\n;" + post,
    "latin1",
  );
  // stdin: a pipe that stays open and silent. At end of file (stdin "ignore") the 32-bit
  // build reads char 0xFF on every idle loop into the REPL's input line, which then grows
  // by ~25 JsVars a second: a "leak" that is the harness, not the firmware.
  const proc = spawn(o.espruino, ["run.js"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
  proc.stdin!.on("error", () => {});
  const markers = new EventEmitter();
  const seen = new Map<string, any[]>();
  let out = "",
    buf = "";
  const onData = (d: Buffer) => {
    const s = d.toString("latin1");
    out += s;
    buf += s;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf
        .slice(0, i)
        .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
        .replace(/\r/g, "");
      buf = buf.slice(i + 1);
      markers.emit("line", line);
      // A failed interpreter assertion dumps all memory and exits: report it at once.
      const as = /ASSERT\(.*FAILED.*/.exec(line);
      if (as) markers.emit("@fail", { why: "interpreter " + as[0] });
      const m = /@@(\w+) (.*)$/.exec(line);
      if (m) {
        let v: any;
        try {
          v = JSON.parse(m[2]);
        } catch (_e) {
          v = { unparsed: m[2] };
        }
        if (!seen.has(m[1])) seen.set(m[1], []);
        seen.get(m[1])!.push(v);
        markers.emit("marker", m[1], v);
        markers.emit("@" + m[1], v);
      }
    }
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.on("exit", (code, signal) => res({ code, signal })),
  );
  let alive = true;
  exited.then(() => {
    alive = false;
    markers.emit("exit");
  });
  const timer = o.timeoutMs ? setTimeout(() => kill(), o.timeoutMs) : null;
  function kill() {
    if (timer) clearTimeout(timer);
    if (alive) proc.kill("SIGKILL");
    return exited;
  }
  return {
    dir,
    proc,
    markers,
    exited,
    kill,
    output: () => out,
    seen: (name) => seen.get(name) || [],
    wait(name, ms, past) {
      if (past && seen.has(name)) return Promise.resolve(seen.get(name)![0]);
      return new Promise((res, rej) => {
        const done = () => {
          clearTimeout(t);
          markers.off("@" + name, ok);
          markers.off("@fail", bad);
          markers.off("exit", gone);
        };
        const ok = (v: any) => {
          done();
          res(v);
        };
        const bad = (v: any) => {
          done();
          rej(new Error("device reported failure while waiting for " + name + ": " + JSON.stringify(v)));
        };
        const gone = () => {
          done();
          rej(new Error("interpreter exited while waiting for " + name + "\n" + tail(out)));
        };
        const t = setTimeout(() => {
          done();
          rej(new Error("no " + name + " within " + ms + " ms\n" + tail(out)));
        }, ms);
        markers.on("@" + name, ok);
        markers.on("@fail", bad);
        markers.on("exit", gone);
        if (!alive) gone();
      });
    },
  };
}

function tail(s: string): string {
  const l = s
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
    .split("\n")
    .filter((x) => x.trim());
  return "--- interpreter output (last 15 lines) ---\n" + l.slice(-15).join("\n");
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** `n` random letters and digits (device identities for a run). */
/** A second boot in the Storage of an earlier run (its saved config and OTA state), as a
 * board restarts: no setup, no post plan; its lines go to `log` marked "dev2: ". */
export function restartInSameStorage(
  first: DeviceRun,
  o: { espruino: string; firmware?: string },
  log: (line: string) => void,
): DeviceRun {
  const next = startDevice({
    espruino: o.espruino,
    firmware: o.firmware,
    dir: first.dir,
    setup: null,
    plan: { quit: false },
    timeoutMs: 30000,
  });
  next.markers.on("line", (line) => log("dev2: " + line));
  return next;
}

export const randomName = (n: number) => Array.from(randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join("");

/** Polls `f` every `every` ms until it returns a truthy value (resolved) or `ms` pass (rejected). */
export function until<T>(f: () => T, ms: number, what = "a condition", every = 20): Promise<T> {
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const iv = setInterval(() => {
      let v: T | null;
      try {
        v = f();
      } catch (_e) {
        v = null;
      }
      if (v) {
        clearInterval(iv);
        res(v);
      } else if (Date.now() - t0 > ms) {
        clearInterval(iv);
        rej(new Error("timed out after " + ms + " ms waiting for " + what));
      }
    }, every);
  });
}

/** Lines of the interpreter's output that report an uncaught error. */
export function errorLines(out: string): string[] {
  return out
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
    .split(/\r?\n/)
    .filter((l) => /Uncaught|ERROR:|ASSERT\(|FAILED|InternalError/.test(l));
}

/** The interpreter builds to run on: $ESPRUINO (the stock 64-bit build) and $ESPRUINO32 (default:
 * $ESPRUINO-esp32like, the 32-bit build with the ESP32's JsVar layout), those that exist. */
export function builds(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  if (env.ESPRUINO && existsSync(env.ESPRUINO)) out["64-bit"] = env.ESPRUINO;
  const e32 = env.ESPRUINO32 || (env.ESPRUINO ? env.ESPRUINO + "-esp32like" : "");
  if (e32 && existsSync(e32)) out["32-bit ESP32 layout"] = e32;
  return out;
}
