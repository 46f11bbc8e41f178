// Resident RAM (JsVars) and post rate of the firmware in the real interpreter, the way a board
// runs it: booted from Storage with a saved config (and, for comparison, loaded into RAM as
// the Web IDE's default upload does). Used by `npm run bench`; `npx tsx bench/ram.ts` alone.
// Figures are net of the bare interpreter + harness (a control run with a stand-in `iot`).
//   load: after the bundle ran, unconfigured; online: 500 ms after CONNACK, booted from the
//   saved config; posts: after 100 posts (one at a time); sets: after 20 property sets;
//   postsPerSec: iot.post over 10 s with up to 8 posts awaiting their post_reply;
//   cpuMsPerPost: the interpreter's CPU time over those 10 s per post (a post, its PUBACK
//   and its post_reply), steadier than the rate when other work shares the machine.
//   instructionsPerPost (BENCH_CALLGRIND=1, valgrind installed): the interpreter's instructions
//   per post over 200 posts instead, counted by callgrind: repeatable to a fraction of a percent.
import { execFileSync } from "node:child_process";
import { rmSync, readFileSync, mkdtempSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulator } from "../tools/emulator/index";
import { startDevice, randomName, builds } from "../tools/real-interpreter/run";

export { builds };

export interface RamFigures {
  load?: number;
  online?: number;
  posts?: number;
  sets?: number;
  postsPerSec?: number;
  // the interpreter's CPU time (user + system, from /proc) per post during the rate run: less
  // sensitive than postsPerSec to other work on the machine (the emulator runs beside it)
  cpuMsPerPost?: number;
  // with BENCH_CALLGRIND=1: the interpreter's instructions per post over the rate run, counted
  // by valgrind's callgrind (the same count run after run, whatever else the machine does)
  instructionsPerPost?: number;
  harness?: number;
  error?: string;
  /** with `marks`: every `@@mark` the firmware printed while booting, and the raw usage online */
  marks?: { n: string; u: number }[];
  onlineUsage?: number;
  loadUsage?: number;
}

// Plain ES5, runs on the interpreter after the firmware (boot from the saved config).
const BENCH_POSTLUDE = `
(function(SETUP,PLAN){
var phase="boot",want=null,n=0,sets=0,inFlight={},left=0,count=0,t0=0;
function mem(){return process.memory().usage}
function later(fn){setTimeout(fn,300)}
iot.on("online",function(){if(phase!="boot")return;phase="online";setTimeout(function(){__out("online",{mem:mem()});phase="posts";next()},500)});
iot.on("reply",function(id){
if(phase=="posts"&&id==want){n++;setTimeout(next,0)}
else if(phase=="rate"&&inFlight[id]){delete inFlight[id];left--;setTimeout(fill,0)}});
function next(){if(n>=PLAN.posts){phase="sets";later(function(){__out("posts",{mem:mem()})});return}want=iot.post({Seq:n,Temp:20+n%10/2})}
iot.on("set",function(){if(++sets==PLAN.sets)later(function(){__out("sets",{mem:mem()});setTimeout(function(){phase="rate";t0=__rt();fill()},PLAN.pause|0)})});
function fill(){
if(phase!="rate")return;
if(PLAN.count?count>=PLAN.count:__rt()-t0>=PLAN.rateSec||!PLAN.rateSec){if(!left){phase="done";__out("rate",{n:count,s:__rt()-t0})}return}
while(left<8){inFlight[iot.post({Seq:count++,Temp:21.5})]=1;left++}}
setTimeout(function(){__out("load",{mem:mem()})},1);
})(%SETUP%,%PLAN%);
`;
// CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat (Linux; clock
// ticks of 10 ms); NaN where there is no /proc.
function cpuMs(pid?: number): number {
  try {
    const fields = readFileSync("/proc/" + pid + "/stat", "latin1")
      .replace(/^.*\) /, "")
      .split(" ");
    // after "pid (comm) ": state is field 0, utime 11, stime 12
    return (+fields[11] + +fields[12]) * 10;
  } catch {
    return NaN;
  }
}

// A stand-in `iot` that never goes online: the harness' own JsVars.
const CONTROL = "var iot={l:[],on:function(e,f){this.l.push(f)},post:function(){},status:function(){return{}}};";

export async function measureRam(
  espruino: string,
  firmware: string,
  boot: "storage" | "ram",
  log: (l: string) => void = () => {},
  rateSec = 10,
  marks = false,
): Promise<RamFigures> {
  const r: RamFigures = {};
  const dev = { productKey: randomName(11), deviceName: "espruino-bench", deviceSecret: randomName(32) };
  const emu = await startEmulator({ port: 0, devices: [dev], log: () => {} });
  // plain TCP: over TLS the Linux builds count mbedTLS's session in JsVars (an ESP32 keeps it in
  // its native heap); the TLS session is measured on its own below
  const setup = Object.assign(
    { ssid: "emulator", password: "password123", host: "127.0.0.1", port: emu.port, tls: false },
    dev,
  );
  const runs: ReturnType<typeof startDevice>[] = [];
  // with BENCH_CALLGRIND=1: the directory of the valgrind wrapper and its dump
  let callgrindDir = "";
  try {
    // 1. unconfigured load, then iot.setup() saves the config
    const first = startDevice({ espruino, firmware, boot, setup, plan: {}, timeoutMs: 30000 });
    runs.push(first);
    r.load = (await first.wait("load", 10000, true)).mem.usage;
    await first.wait("online", 15000, true);
    await first.kill();
    // 2. boot from the saved config, as a board does after a reset; with BENCH_CALLGRIND=1
    // under callgrind, instrumenting only the rate run (a wrapper script: exec keeps the pid)
    if (process.env.BENCH_CALLGRIND == "1" && rateSec) {
      callgrindDir = mkdtempSync(join(tmpdir(), "callgrind-"));
      writeFileSync(
        join(callgrindDir, "espruino"),
        `#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=${callgrindDir}/out "${espruino}" "$@"\n`,
        { mode: 0o755 },
      );
    }
    const d = startDevice({
      espruino: callgrindDir ? join(callgrindDir, "espruino") : espruino,
      firmware,
      boot,
      dir: first.dir,
      postlude: BENCH_POSTLUDE,
      setup: null,
      // under callgrind: a fixed number of posts, after a pause in which instrumentation is turned on
      plan: callgrindDir
        ? { posts: 100, sets: 20, rateSec, count: 200, pause: 2000 }
        : { posts: 100, sets: 20, rateSec },
      timeoutMs: callgrindDir ? 300000 : 60000,
    });
    runs.push(d);
    d.markers.on("line", (l) => log(l));
    r.online = (await d.wait("online", 15000, true)).mem;
    if (marks) {
      // the markers of this boot, from Storage with the saved config; the rest is not needed
      r.marks = d.seen("mark");
      r.onlineUsage = r.online;
      r.loadUsage = d.seen("load")[0].mem;
      return r;
    }
    r.posts = (await d.wait("posts", 20000, true)).mem;
    for (let i = 0; i < 20; i++)
      await emu.setProperty(dev.productKey, dev.deviceName, { Switch: i % 2, N: i }, { timeout: 5000 });
    r.sets = (await d.wait("sets", 10000, true)).mem;
    // the rate phase starts as "sets" is printed: the interpreter's CPU time from here
    const cpuAtStart = cpuMs(d.proc.pid);
    if (callgrindDir) execFileSync("callgrind_control", ["-i", "on", String(d.proc.pid)], { stdio: "ignore" });
    const rate = await d.wait("rate", callgrindDir ? 120000 : 30000, true);
    if (callgrindDir) {
      // a dump of the counts since instrumentation started: its "totals:" line, instructions
      execFileSync("callgrind_control", ["-d", String(d.proc.pid)], { stdio: "ignore" });
      const dump = readdirSync(callgrindDir).find((f) => f.startsWith("out."));
      const totals = dump && /^(?:totals|summary): (\d+)/m.exec(readFileSync(join(callgrindDir, dump), "latin1"));
      if (totals && rate.n) r.instructionsPerPost = Math.round(+totals[1] / rate.n);
      // BENCH_CALLGRIND_OUT=<dir>: keep the dump there, for callgrind_annotate (which C functions)
      if (dump && process.env.BENCH_CALLGRIND_OUT)
        writeFileSync(
          join(process.env.BENCH_CALLGRIND_OUT, "callgrind." + firmware.replace(/^.*\//, "") + "." + d.proc.pid),
          readFileSync(join(callgrindDir, dump)),
        );
    } else r.postsPerSec = rateSec ? Math.round(rate.n / rate.s) : undefined;
    if (rateSec && rate.n && !callgrindDir) r.cpuMsPerPost = +((cpuMs(d.proc.pid) - cpuAtStart) / rate.n).toFixed(2);
    const c = startDevice({
      espruino,
      code: CONTROL,
      postlude: BENCH_POSTLUDE,
      setup: null,
      plan: {},
      timeoutMs: 10000,
    });
    runs.push(c);
    const harness: number = (await c.wait("load", 5000, true)).mem;
    r.harness = harness;
    for (const k of ["load", "online", "posts", "sets"] as const) r[k] = (r[k] as number) - harness;
  } catch (e: any) {
    r.error = String(e.message || e).split("\n")[0];
  } finally {
    for (const d of runs) {
      await d.kill();
      rmSync(d.dir, { recursive: true, force: true });
    }
    if (callgrindDir) rmSync(callgrindDir, { recursive: true, force: true });
    await emu.close();
  }
  return r;
}

export async function ramTable(firmware: string, log?: (l: string) => void) {
  const rows: Record<string, RamFigures> = {};
  for (const [name, path] of Object.entries(builds())) {
    for (const boot of ["storage", "ram"] as const)
      rows[name + ", " + (boot === "storage" ? "boot from Storage" : "loaded into RAM")] = await measureRam(
        path,
        firmware,
        boot,
        log,
      );
  }
  return rows;
}

// `npx tsx bench/ram.ts [firmware] [--quick]`: --quick measures only booting from Storage, no rate
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ""))) {
  const quick = process.argv.includes("--quick"),
    file = process.argv.slice(2).find((a) => !a.startsWith("-")) || "dist/firmware.js";
  const rows: Record<string, RamFigures> = {};
  if (quick)
    for (const [name, path] of Object.entries(builds()))
      rows[name] = await measureRam(path, file, "storage", undefined, 0);
  else Object.assign(rows, await ramTable(file));
  if (process.argv.includes("--tls"))
    for (const [name, path] of Object.entries(builds()))
      console.log("one TLS session, " + name + ": " + JSON.stringify(await measureTls(path)));
  console.table(rows);
}

/** JsVars one TLS session holds in the interpreter (tls.connect to a local Node TLS server,
 * sampled once data has arrived over it; on the Linux build mbedTLS allocates from JsVars,
 * on an ESP32 from the native heap). */
export async function measureTls(espruino: string): Promise<{ jsvars?: number; handshakeMs?: number; error?: string }> {
  const { generate } = await import("selfsigned");
  const { createServer } = await import("node:tls");
  const pems: any = await generate([{ name: "commonName", value: "localhost" }], {
    keySize: 2048,
    algorithm: "sha256",
  } as any);
  const server = createServer({ key: pems.private, cert: pems.cert }, (s) => {
    s.on("error", () => {});
    s.write("ready");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as any).port;
  const code = `var m0,t0;setTimeout(function(){m0=process.memory().usage;t0=getTime();
E.defrag&&E.defrag();
var s=require("tls").connect({host:"127.0.0.1",port:${port}},function(){});
s.on("data",function(){var ms=(getTime()-t0)*1000;setTimeout(function(){console.log("@@tls "+JSON.stringify({jsvars:process.memory().usage-m0,handshakeMs:Math.round(ms)}));s.end();setTimeout(function(){quit()},100)},10)});
s.on("error",function(e){console.log("@@tls "+JSON.stringify({error:""+e}))});},10);`;
  const d = startDevice({ espruino, code, postlude: " ", setup: null, timeoutMs: 20000 }); // " ": no postlude
  try {
    return await d.wait("tls", 15000, true);
  } catch (e: any) {
    return { error: String(e.message || e).split("\n")[0] };
  } finally {
    await d.kill();
    rmSync(d.dir, { recursive: true, force: true });
    await new Promise((r) => server.close(r));
  }
}
