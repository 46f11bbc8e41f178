// measureDevice(): the standard run of the bundle in the real interpreter, used by
// `npm run test:device`, test/device.test.ts and `npm run bench`. One device against the
// emulator goes through load, setup, online, a property set, posts one at a time and with a
// window in flight, then a control run (the harness alone, to subtract its JsVars) and a
// second boot from the saved config. Checks pass/fail; figures are JsVars, times and rates.
import { readFileSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { startEmulator } from "../emulator/index";
import { startDevice, restartInSameStorage, errorLines, randomName, until, ROOT, type DeviceRun } from "./run";

export interface MeasureOptions {
  espruino: string;
  firmware?: string;
  /** posts in each rate run (default 100) */
  rate?: number;
  /** posts in flight in the window run (default 8) */
  window?: number;
  /** false: skip the second boot */
  reboot?: boolean;
  log?: (line: string) => void;
  timeoutMs?: number;
  /** keep the run's temp dir */
  keep?: boolean;
  /** false: plain TCP (securemode=3); default: TLS, the firmware's default */
  tls?: boolean;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Checks and figures; a figure is undefined when the run did not get that far. */
export interface Measurement {
  ok: boolean;
  checks: Check[];
  [figure: string]: any;
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
 *   jsvarsFirmwareIdle / jsvarsFirmwareOnline (minus the harness), jsvarsFirmwareOnlineBooted
 *   (second boot, from Storage, minus the harness: checked against board.json's
 *   ramBudgetOnlineJsVars), loadMs, loadToOnlineMs,
 *   rebootLoadToOnlineMs (interpreter clock, from the first line of the script),
 *   qos1PerSec (1 in flight), qos1WindowPerSec (`window` in flight), qos0PerSec (null: iot
 *   has no QoS 0 post), qos1RttMedianMs / qos1RttP90Ms (post -> post_reply, one at a time),
 *   loadAverage (the Linux build busy-polls while a socket is open: timings depend on the
 *   machine's load), clockOffsetMs, status.
 */
export async function measureDevice(o: MeasureOptions): Promise<Measurement> {
  const log = o.log || (() => {});
  const posts = 50,
    rateN = o.rate || 100,
    windowN = o.window || 8;
  const dev = { productKey: randomName(11), deviceName: "espruino-test", deviceSecret: randomName(32) };
  const emuEvents: { ev: string; d: any; t: number }[] = [];
  const emu = await startEmulator({ port: 0, devices: [dev], log: (l) => log("emu: " + l) });
  for (const ev of ["connect", "connack", "subscribe", "post", "set_reply", "ntp", "disconnect", "kick", "pingreq"]) {
    emu.on(ev, (d: any) => emuEvents.push({ ev, d, t: Date.now() }));
  }
  const setup = Object.assign(
    { ssid: "emulator", password: "password123", host: "127.0.0.1", port: emu.port },
    dev,
    o.tls === false ? { tls: false } : {},
  );
  const connects: any[] = [];
  emu.on("connect", (c: any) => connects.push(c));
  const checks: Check[] = [];
  const check = (name: string, ok: unknown, detail?: unknown) => {
    checks.push({ name, ok: !!ok, detail: detail === undefined ? "" : String(detail) });
    log((ok ? "ok   " : "FAIL ") + name + (detail !== undefined ? " (" + detail + ")" : ""));
  };
  const r: Measurement = { checks, ok: false };
  const limit = o.timeoutMs || 90000;
  let d: DeviceRun | null = null,
    d2: DeviceRun | null = null;
  try {
    d = startDevice({
      espruino: o.espruino,
      firmware: o.firmware,
      setup,
      plan: { posts, rate: rateN, window: windowN, quit: true },
      timeoutMs: limit,
    });
    d.markers.on("line", (l) => log("dev: " + l));
    // An uncaught error while the script runs makes the Linux build exit at once.
    let load: any = null,
      loadErr = "";
    try {
      load = await d.wait("load", 20000, true);
    } catch (e: any) {
      loadErr = e.message;
    }
    const loadErrors = errorLines(d.output());
    check(
      "bundle loads without error",
      load && loadErrors.length === 0,
      loadErrors.join(" | ") || loadErr || "load " + load.ms + " ms",
    );
    if (!load) throw new Error("the bundle did not load");
    r.jsvarsAfterLoad = load.mem.usage;
    r.loadMs = load.ms;
    const on = await d.wait("online", 20000, true);
    r.jsvarsOnline = on.mem.usage;
    r.loadToOnlineMs = on.ms;
    // the emulator reports CONNACK once its write completes: on a busy machine the device's
    // "online" line can reach us first
    await until(() => emuEvents.some((e) => e.ev === "connack"), 2000, "CONNACK", 10).catch(() => {});
    const connack = emuEvents.filter((e) => e.ev === "connack");
    check(
      "comes online: CONNECT + CONNACK 0",
      connack.length >= 1 && connack[0].d.returnCode === 0,
      "connacks " + connack.map((e) => e.d.returnCode).join(","),
    );
    check(
      "transport is " + (o.tls === false ? "TCP" : "TLS"),
      connects.length >= 1 && connects[0].tls === (o.tls !== false),
      connects.map((c) => (c.tls ? "tls" : "tcp")).join(","),
    );
    await d.wait("ready", 10000, true);
    // "online" comes with CONNACK; a set published before the SUBSCRIBE is processed is lost.
    await until(
      () =>
        emuEvents.some((e) => e.ev === "subscribe" && e.d.topics.some((t: any) => t.topic.endsWith("/property/set"))),
      5000,
      "SUBSCRIBE",
      10,
    ).catch(() => {});
    const subs = emuEvents.filter((e) => e.ev === "subscribe").flatMap((e) => e.d.topics.map((t) => t.topic));
    check(
      "subscribes to the platform topics",
      subs.some((t) => t.endsWith("/thing/service/property/set")),
      subs.join(" "),
    );
    let reply: any = null,
      setErr: string | null = null;
    try {
      reply = await emu.setProperty(dev.productKey, dev.deviceName, { Switch: 1, Note: "x" }, { timeout: 5000 });
    } catch (e: any) {
      setErr = e.message;
    }
    const setSeen = d.seen("set")[0] || (await d.wait("set", 2000).catch(() => null));
    check(
      "property set reaches iot.on('set') and gets set_reply 200",
      reply && reply.code === 200 && setSeen?.params && setSeen.params.Switch === 1,
      setErr || JSON.stringify(reply),
    );
    const done = await d.wait("done", limit, true);
    const postEv = emuEvents.filter((e) => e.ev === "post");
    const total = 1 + posts + rateN * (windowN > 1 ? 2 : 1);
    // The firmware may post more on its own (e.g. set values reported back): at least ours.
    check(
      "every post gets a post_reply 200 (" + total + " posts)",
      done.codes["200"] >= total &&
        postEv.length >= total &&
        postEv.every((e) => e.d.code === 200) &&
        Object.keys(done.codes).length === 1,
      "replies " + JSON.stringify(done.codes) + ", emulator saw " + postEv.length + " posts",
    );
    const note = postEv.find((e) => e.d.params && "Text" in e.d.params);
    check(
      "non-ASCII text arrives as UTF-8",
      note && note.d.params.Text === "\u6e29\u5ea6 caf\xe9",
      note ? JSON.stringify(note.d.params) + " code " + note.d.code : "post not seen",
    );
    r.jsvarsAfter10 = done.mem["10"];
    r.jsvarsAfter50 = done.mem["50"];
    r.jsvarsSamples = done.mem;
    r.jsvarsEnd = done.mem.end;
    // A leak of even one JsVar per message adds >= 40 between post 10 and post 50, and
    // >= 200 over the rate runs that follow (whose end still has some transient state).
    check(
      "JsVars do not grow from message to message (after 10 vs after 50 vs after all " + total + ")",
      r.jsvarsAfter50 - r.jsvarsAfter10 < 10 && r.jsvarsEnd - r.jsvarsAfter50 < 40,
      JSON.stringify(done.mem),
    );
    r.qos1PerSec = round(done.rate.seq);
    r.qos1WindowPerSec = done.rate.win ? round(done.rate.win) : null;
    r.window = windowN;
    r.qos0PerSec = null; // iot has no QoS 0 post
    // Round trips one at a time: the median resists a busy machine better than the mean.
    const rtt: number[] = done.rtt.slice().sort((a: number, b: number) => a - b);
    r.qos1RttMedianMs = round(rtt[rtt.length >> 1]);
    r.qos1RttP90Ms = round(rtt[Math.floor(rtt.length * 0.9)]);
    r.loadAverage = round(loadavg()[0]);
    r.ntpSetTimeCalls = done.setTimes;
    r.clockOffsetMs = round(done.offMs);
    check(
      "NTP sync sets the clock (|offset| < 1 s)",
      done.setTimes >= 1 && Math.abs(done.offMs) < 1000,
      "setTime calls " + done.setTimes + ", offset " + round(done.offMs) + " ms",
    );
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
    } finally {
      await c.kill();
      rmSync(c.dir, { recursive: true, force: true });
    }

    if (o.reboot !== false) {
      // Second boot in the same Storage: the saved config alone must bring it online.
      const before = emuEvents.filter((e) => e.ev === "connack").length;
      d2 = restartInSameStorage(d, o, log);
      let on2: any = null,
        err2: string | null = null;
      try {
        on2 = await d2.wait("online", 20000, true);
      } catch (e: any) {
        err2 = e.message;
      }
      check(
        "reboot comes online from the config saved in Storage",
        on2 && emuEvents.filter((e) => e.ev === "connack").length > before,
        err2 || "online after " + on2.ms + " ms",
      );
      if (on2) {
        r.rebootLoadToOnlineMs = on2.ms;
        r.rebootJsvarsOnline = on2.mem.usage;
      }
      await d2.kill();
      // board.json's RAM budget: resident JsVars online, booted from Storage with the saved
      // config as a board does, net of the harness (set for the 32-bit ESP32 JsVar layout;
      // the 64-bit build counts fewer)
      const budget = JSON.parse(readFileSync(join(ROOT, "board.json"), "utf8")).ramBudgetOnlineJsVars;
      r.ramBudgetOnlineJsVars = budget;
      r.jsvarsFirmwareOnlineBooted = on2 ? r.rebootJsvarsOnline - r.jsvarsHarness : undefined;
      // Over TLS the Linux builds hold mbedTLS's session (~1,500-2,800 JsVars) in JsVars; an ESP32
      // holds it in its native heap. The budget is the firmware's own: it is checked on a TCP run.
      if (o.tls === false)
        check(
          "firmware JsVars online (booted from Storage) within board.json ramBudgetOnlineJsVars",
          r.jsvarsFirmwareOnlineBooted > 0 && r.jsvarsFirmwareOnlineBooted <= budget,
          r.jsvarsFirmwareOnlineBooted + " of " + budget,
        );
    }
  } catch (e: any) {
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

const round = (x: number) => (typeof x === "number" ? Math.round(x * 10) / 10 : x);
