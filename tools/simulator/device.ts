// createDevice(): one simulated ESP32 running the firmware bundle. This file wires the parts
// (timers, net, Wi-Fi, Storage, watchdog; see their headers) to a fresh interpreter at every
// boot, and is the handle tests and `npm start` hold: console input (eval), faults to inject
// (Wi-Fi loss, reboot) and close().
//
// A reboot is a power cycle: the same Storage, a new interpreter, no timers or sockets, Wi-Fi
// off until the firmware connects, the watchdog off and the clock back to the host's.
import vm from "node:vm";
import fs from "node:fs";
import path from "node:path";
import { Core, type DeviceOptions } from "./core";
import { uncaught } from "./format";
import { createTimers } from "./timers";
import { createNet } from "./net";
import { createWifi } from "./wifi";
import { createStorage } from "./storage";
import { createWatchdog } from "./watchdog";
import { createGpio } from "./gpio";
import { makeContext } from "./context";

/** Creates and boots a simulated ESP32 running the firmware bundle. */
export function createDevice(opts: DeviceOptions) {
  if (!opts || typeof opts.storageDir !== "string") throw new Error("simulator: storageDir is required");
  const timeScale = opts.timeScale === undefined ? 1 : opts.timeScale;
  if (!(timeScale > 0)) throw new Error("simulator: timeScale must be > 0");
  const storageDir = path.resolve(opts.storageDir);
  fs.mkdirSync(storageDir, { recursive: true });

  const core = new Core(opts, timeScale);
  const { events } = core;
  let boots = 0;
  const timers = createTimers(core);
  const net = createNet(core, () => wifi.connected);
  net.onCrash((why) => reboot(why));
  const wifi = createWifi(core, net.abandonAll);
  const storage = createStorage(core, storageDir);
  const watchdog = createWatchdog(core, reboot);
  const gpio = createGpio(core);
  const parts = { timers, net, wifi, storage, watchdog, gpio, reboot };

  function boot() {
    core.gen++;
    boots++;
    const { E } = makeContext(core, parts);
    const src = opts.loader
      ? fs.readFileSync(opts.loader, "latin1")
      : opts.source !== undefined
        ? opts.source
        : fs.readFileSync(opts.firmware || "dist/firmware.js", "latin1");
    core.srcLength = src.length;
    core.log("boot #" + boots);
    const g = core.gen;
    core.call(
      g,
      () => vm.runInContext(src, core.ctx, { filename: opts.loader ? ".bootcde" : opts.firmware || "firmware.js" }),
      undefined,
      [],
    );
    events.emit("boot", boots);
    setImmediate(() => {
      if (g === core.gen) core.fire(E, "init", []);
    });
  }

  /** Power-cycles the device: same Storage, fresh interpreter, Wi-Fi down until the firmware connects. */
  function reboot(reason: string) {
    if (core.closed) return;
    core.log("reboot: " + (reason || "requested"));
    events.emit("reboot", { reason: reason || "requested" });
    core.gen++;
    timers.drop();
    net.abandonAll();
    wifi.reset();
    watchdog.stop();
    core.clockOffset = 0;
    boot();
  }

  boot();

  return {
    /** 'out' (console line), 'log' (simulator event line), 'reboot' ({reason}), 'boot' (count; boot #1 happens inside createDevice) */
    events,
    storageDir,
    storage: storageDir,
    /**
     * Runs a console line in the device, like typing it on the serial console.
     * Errors print "Uncaught ..." to out (and are rethrown with {throws: true}).
     */
    eval(code: string, o?: { throws?: boolean }): any {
      if (core.closed) throw new Error("simulator: device closed");
      try {
        return vm.runInContext(code, core.ctx, { filename: "console" });
      } catch (e) {
        if (o?.throws) throw e;
        core.out(uncaught(e));
        return undefined;
      }
    },
    /** The access point disappears: 'disconnected' fires, open sockets die. */
    wifiDown() {
      wifi.apDown();
    },
    /** The access point is back (the firmware must reconnect by itself). */
    wifiUp() {
      wifi.apUp();
    },
    reboot: (reason?: string) => reboot(reason || "reboot()"),
    get boots() {
      return boots;
    },
    get wifiState() {
      return wifi.state;
    },
    get context(): any {
      return core.ctx;
    },
    /** Pin levels: get(n) what the app wrote, set(n, v) drives an input */
    pins: { get: gpio.get, set: gpio.set, mode: gpio.mode },
    timerCount: () => timers.count(),
    close() {
      if (core.closed) return;
      core.closed = true;
      core.gen++;
      timers.drop();
      net.abandonAll();
      net.destroyAll();
      wifi.stop();
      watchdog.stop();
      events.removeAllListeners();
    },
  };
}

export type Device = ReturnType<typeof createDevice>;
