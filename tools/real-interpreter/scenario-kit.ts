// What every fault scenario (scenarios.ts) is built from: the scenario postlude that makes the
// device report its status, a context that starts emulators and interpreters, records checks
// and figures and cleans up, and the common start (a fresh device online on its own emulator).
import { rmSync, readFileSync } from "node:fs";
import type { Server } from "node:net";
import { startDevice, randomName, type DeviceRun } from "./run";
import { startEmulator, type Emulator, type Device } from "../emulator/index";

export const KEEPALIVE = 30;
// the platform minimum: dead-link detection in real time stays short
export const WATCHDOG: number = JSON.parse(
  readFileSync(new URL("../../board.json", import.meta.url), "utf8"),
).watchdogSeconds;

// Postlude for the scenarios (plain ES5, runs on the interpreter). Markers:
// @@st on every change of state/wifi/lastError/reconnects, @@online/@@offline, @@p (a post
// and its id), @@reply, @@set, @@wdisc (Wi-Fi "disconnected", with the state right after the
// firmware's own listener ran), @@mem every PLAN.memEvery ms.
export const POSTLUDE = `
(function(SETUP,PLAN){
var T0=__rt(),W=require("Wifi"),last="",on=0,did=0,n=0,pi=null;
function ms(){return Math.round((__rt()-T0)*1000)}
function st(){return iot.status()}
function post(p){try{var id=iot.post(p);__out("p",{id:id,p:p,ms:ms(),state:st().state});return id}catch(e){__out("perr",{m:e.message,ms:ms()})}}
function offPosts(){if(PLAN.offPosts&&!did){did=1;for(var k=0;k<PLAN.offPosts;k++)post({Off:k})}}
iot.on("online",function(){on++;__out("online",{ms:ms(),n:on,s:st(),mem:__mem().usage});
if(on==1&&PLAN.every){pi=setInterval(function(){post({Seq:n++})},PLAN.every);
if(PLAN.postFor)setTimeout(function(){clearInterval(pi);pi=null;__out("postsdone",{ms:ms(),n:n})},PLAN.postFor)}
if(on==1&&PLAN.wifiDropEvery)setInterval(function(){__wifi.downUntil=__rt()+PLAN.wifiDownMs/1000;__wifi.drop()},PLAN.wifiDropEvery);
if(on==1&&PLAN.wifiDropAt)setTimeout(function(){__wifi.fail=PLAN.wifiFails||0;__wifi.drop()},PLAN.wifiDropAt);
if(on==1&&PLAN.setupEvery){var k=0;setInterval(function(){try{iot.setup({keepAlive:30+(k++%2)});__out("setup",{k:k,ms:ms()})}catch(e){__out("perr",{m:e.message})}},PLAN.setupEvery)}
});
iot.on("offline",function(){__out("offline",{ms:ms(),s:st()});if(!PLAN.offOnWifi)offPosts()});
iot.on("reply",function(id,code){__out("reply",{id:id,code:code,ms:ms()})});
iot.on("set",function(p){__out("set",{p:p,ms:ms()})});
W.on("disconnected",function(){__out("wdisc",{ms:ms(),state:st().state,wifi:st().wifi,s:JSON.stringify(st())});if(PLAN.offOnWifi)offPosts()});
setInterval(function(){var s=st(),k=s.state+"|"+s.wifi+"|"+s.lastError+"|"+s.reconnects;if(k!=last){last=k;__out("st",{ms:ms(),s:s,mem:__mem().usage,wd:__wd})}},PLAN.poll||100);
if(PLAN.memEvery)setInterval(function(){__out("mem",{ms:ms(),mem:__mem().usage,s:st(),wd:__wd})},PLAN.memEvery);
setTimeout(function(){var s=st();__out("load",{ms:ms(),mem:__mem(),status:s});
if(s.state=="unconfigured"){if(SETUP){try{iot.setup(SETUP);__out("setup",{ms:ms()})}catch(e){__out("fail",{why:"iot.setup threw: "+e.message})}}else __out("fail",{why:"not configured"})}
},1);
})(%SETUP%,%PLAN%);
`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const newDevice = (): Device => ({
  productKey: randomName(11),
  deviceName: "scenario-" + randomName(4),
  deviceSecret: randomName(32),
});

/** Lines that report an uncaught error or an interpreter failure (a refused connect's own
 * "ERROR: Connect failed" line is the Linux build's normal report, caught by the firmware). */
export function badLines(out: string): string[] {
  return out
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
    .split(/\r?\n/)
    .filter(
      (l) =>
        /Uncaught|ASSERT\(|FAILED|InternalError|ERROR:/.test(l) && !/ERROR: Connect failed \(err \d+\)\s*$/.test(l),
    );
}

export interface ScenarioOptions {
  espruino: string;
  firmware?: string;
  log?: (line: string) => void;
  /** keep the interpreters' temp dirs */
  keep?: boolean;
  /** length of the soak (default 180000) */
  soakMs?: number;
  /** outageSoak: its length in minutes (default 10) and what goes away every 20 s */
  minutes?: number;
  outage?: "broker" | "wifi";
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** An emulator that records its events; `count` counts them (optionally filtered). */
export interface RecordingEmulator extends Emulator {
  events: { ev: string; d: any; t: number }[];
  count: (ev: string, f?: (d: any) => boolean) => number;
}

/** An interpreter on the scenario postlude; `m(name)` lists the values of a marker. */
export interface ScenarioDevice extends DeviceRun {
  tag: string;
  m: (name: string) => any[];
  /** the last @@st marker, or null */
  lastSt: () => any;
}

export const setupFor = (dev: Device, port: number, host?: string) =>
  Object.assign(
    { ssid: "emulator", password: "password123", host: host || "127.0.0.1", port, keepAlive: KEEPALIVE },
    dev,
  );

/** One scenario's run: what it started (cleaned up at the end), its checks and figures. */
export class Ctx {
  readonly checks: Check[] = [];
  readonly figures: Record<string, any> = {};
  readonly devs: ScenarioDevice[] = [];
  readonly emus: RecordingEmulator[] = [];
  readonly servers: Server[] = [];
  readonly log: (line: string) => void;
  readonly name: string;
  readonly o: ScenarioOptions;

  constructor(name: string, o: ScenarioOptions) {
    this.name = name;
    this.o = o;
    this.log = o.log || (() => {});
  }
  check(name: string, ok: unknown, detail?: unknown) {
    this.checks.push({ name, ok: !!ok, detail: detail === undefined ? "" : String(detail) });
    this.log((ok ? "ok   " : "FAIL ") + this.name + ": " + name + (detail !== undefined ? " (" + detail + ")" : ""));
  }
  async emu(devices: Device[]): Promise<RecordingEmulator> {
    const emu = (await startEmulator({ port: 0, devices, log: (l) => this.log("emu: " + l) })) as RecordingEmulator;
    emu.events = [];
    for (const ev of ["connect", "connack", "subscribe", "post", "set_reply", "ntp", "disconnect", "kick", "pingreq"]) {
      emu.on(ev, (d) => emu.events.push({ ev, d, t: Date.now() }));
    }
    emu.count = (ev, f) => emu.events.filter((e) => e.ev === ev && (!f || f(e.d))).length;
    this.emus.push(emu);
    return emu;
  }
  /** An interpreter on the scenario postlude. */
  device(setup: object | null, plan: Record<string, unknown>, dir?: string, tag?: string): ScenarioDevice {
    const run = startDevice({
      espruino: this.o.espruino,
      firmware: this.o.firmware,
      postlude: POSTLUDE,
      setup,
      plan: Object.assign({}, plan),
      dir,
      timeoutMs: 600000 + (this.o.minutes || 0) * 60000,
    });
    const d: ScenarioDevice = Object.assign(run, {
      tag: tag || "dev",
      m: (name: string) => run.seen(name),
      lastSt: () => {
        const a = run.seen("st");
        return a.length ? a[a.length - 1] : null;
      },
    });
    d.markers.on("line", (l) => this.log(d.tag + ": " + l));
    this.devs.push(d);
    return d;
  }
  async cleanup() {
    for (const d of this.devs) await d.kill();
    for (const e of this.emus) await e.close().catch(() => {});
    for (const s of this.servers) await new Promise((r) => s.close(r));
    if (!this.o.keep) for (const d of this.devs) rmSync(d.dir, { recursive: true, force: true });
  }
  /** The watchdog is enabled in manual mode and kicked at least every watchdogSeconds / 3
   * (+3 s: on a busy machine, such as the whole suite running on two cores, a TLS handshake
   * that blocks the interpreter delays the feeder's timer by 2 s and more; a feeder at half
   * the period, 20 s, still fails). */
  watchdog(d: ScenarioDevice, runMs: number) {
    const all = d
      .m("st")
      .concat(d.m("mem"))
      .filter((x) => x.wd)
      .sort((a, b) => a.ms - b.ms);
    const wd = all.length ? all[all.length - 1].wd : null;
    // the kick gap is only known once a run is longer than one period
    this.check(
      "watchdog enabled manually and kicked every period/3 in every state (" + d.tag + ")",
      wd &&
        wd.s === WATCHDOG &&
        wd.auto === false &&
        wd.gap <= WATCHDOG / 3 + 3 &&
        (runMs < (WATCHDOG * 1000) / 3 + 2000 || wd.kicks >= 2),
      JSON.stringify(wd),
    );
  }
  noErrors(devs?: ScenarioDevice[]) {
    for (const d of devs || this.devs) {
      const bad = badLines(d.output());
      this.check(
        "no uncaught errors / interpreter failures (" + d.tag + ")",
        bad.length === 0,
        bad.slice(0, 3).join(" | ") || "none",
      );
    }
  }
}

// Every scenario starts the same way: a fresh device identity on its own emulator, one
// interpreter configured for it, waited for until online.
export async function onlineDevice(c: Ctx, plan: Record<string, unknown>, tag?: string) {
  const dev = newDevice(),
    emu = await c.emu([dev]);
  const d = c.device(setupFor(dev, emu.port), plan, undefined, tag);
  const on = await d.wait("online", 30000, true);
  return { dev, emu, d, on };
}
