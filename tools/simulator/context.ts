// Builds a fresh interpreter (a node:vm context) for one boot and installs Espruino's globals:
// the device clock behind Date/getTime/setTime, Espruino's "every object is an event emitter"
// (listeners visible as '#on<event>' properties), E, console/print, require() of the built-in
// modules, timers and process. Every stand-in object is a Proxy that names any member the
// simulator does not provide instead of returning undefined.
import vm from "node:vm";
import crypto from "node:crypto";
import { hostNow, type Core } from "./core";
import { format } from "./format";
import { espruinoJSON } from "./espruino-json";
import { removeMissingFeatures } from "./subset";
import type { createTimers } from "./timers";
import type { createNet } from "./net";
import type { createWifi } from "./wifi";
import type { createStorage } from "./storage";
import type { createWatchdog } from "./watchdog";
import type { createGpio } from "./gpio";

const JSVARS_TOTAL = 16000;

/** The parts of the device that outlive one interpreter. */
export interface Parts {
  timers: ReturnType<typeof createTimers>;
  net: ReturnType<typeof createNet>;
  wifi: ReturnType<typeof createWifi>;
  storage: ReturnType<typeof createStorage>;
  watchdog: ReturnType<typeof createWatchdog>;
  gpio: ReturnType<typeof createGpio>;
  /** E.reboot() */
  reboot: (reason: string) => void;
}

// Date on the device clock, and Espruino's event methods on Object.prototype.
const SHIMS = `(function (host) {
  'use strict';
  var construct = Reflect.construct, RealDate = Date, now = host.now;
  function D() {
    if (!new.target) return new RealDate(now()).toString();
    return construct(RealDate, arguments.length ? Array.prototype.slice.call(arguments) : [now()], new.target);
  }
  D.prototype = RealDate.prototype; D.now = now; D.parse = RealDate.parse; D.UTC = RealDate.UTC;
  Object.defineProperty(RealDate.prototype, 'constructor', { value: D, writable: true, configurable: true });
  globalThis.Date = D;
  // Espruino: every object is an event emitter; listeners are visible '#on<event>' properties.
  function def(n, f) { Object.defineProperty(Object.prototype, n, { value: f, writable: true, configurable: true }); }
  function on(e, f) {
    var k = '#on' + e, c = this[k];
    if (!c) this[k] = f; else if (typeof c === 'function') this[k] = [c, f]; else c.push(f);
    return this;
  }
  def('on', on); def('addListener', on);
  def('emit', function (e) { host.emit(this, e, Array.prototype.slice.call(arguments, 1)); });
  def('removeListener', function (e, f) {
    var k = '#on' + e, c = this[k];
    if (c === f) delete this[k];
    else if (Array.isArray(c)) { var i = c.indexOf(f); if (i >= 0) c.splice(i, 1); }
  });
  def('removeAllListeners', function (e) {
    if (e === undefined) { for (var k in this) if (k.indexOf('#on') === 0) delete this[k]; }
    else delete this['#on' + e];
  });
})`;

/** Replaces core.ctx / core.C with a new interpreter; returns its E (which gets 'init'). */
export function makeContext(core: Core, parts: Parts) {
  const ctx = (core.ctx = vm.createContext({}));
  const C = (core.C = vm.runInContext("({Error, Object, Array, JSON, Uint8Array, ArrayBuffer})", ctx));
  const host = {
    now: core.devNow,
    emit: (o: any, e: any, a: any[]) => {
      const g = core.gen;
      setImmediate(() => {
        if (g === core.gen) core.fire(o, e, a);
      });
    },
  };
  vm.runInContext(SHIMS, ctx)(host);
  if (core.opts.es2015Only !== false) removeMissingFeatures(ctx);
  const g = vm.runInContext("globalThis", ctx);

  const E = core.module("E", {
    toString: (...a: any[]) => String.fromCharCode(...core.flatten(a)),
    toUint8Array: (...a: any[]) => new C.Uint8Array(core.flatten(a)),
    toArrayBuffer: (s: any) => core.toAB(core.bytesOf(s, "E.toArrayBuffer")),
    ...parts.watchdog.members,
    getTemperature: () => 40 + Math.random() * 5,
    getErrorFlags: () => new C.Array(),
    hwRand: () => crypto.randomBytes(4).readInt32LE(0),
    getSizeOf: (v: any) => Math.ceil((espruinoJSON(v) || "").length / 12) + 1,
    // nothing to compact in Node's heap
    defrag: () => {},
    reboot() {
      core.out("simulator: E.reboot()");
      setImmediate(() => parts.reboot("E.reboot()"));
    },
  });
  const hash = (alg: string) => (d: any) =>
    core.toAB(
      crypto
        .createHash(alg)
        .update(core.bytesOf(d, "crypto." + alg))
        .digest(),
    );
  const modules: Record<string, any> = {
    net: core.module("net", { connect: parts.net.connect }),
    tls: core.module("tls", { connect: parts.net.tlsConnect }),
    http: core.module("http", { get: parts.net.httpGet }),
    crypto: core.module("crypto", {
      SHA1: hash("sha1"),
      SHA224: hash("sha224"),
      SHA256: hash("sha256"),
      SHA384: hash("sha384"),
      SHA512: hash("sha512"),
    }),
    Storage: core.module("Storage", parts.storage),
    Wifi: parts.wifi.makeModule(),
    TelnetServer: core.module("TelnetServer", {
      setOptions(o: any) {
        core.log("telnet: " + o?.mode);
      },
    }),
  };
  const print = (...a: any[]) => core.out(a.map((x) => format(x)).join(" "));
  Object.assign(g, {
    global: g,
    E,
    console: core.module("console", { log: print, info: print, warn: print, error: print, debug: print }),
    print,
    require(name: any) {
      if (Object.hasOwn(modules, name)) return modules[name];
      throw core.err('simulator: require("' + name + '") is not provided by the stand-in');
    },
    ...parts.timers.globals,
    // load(): the interpreter restarts from its boot code (the firmware), which runs app.js again
    load() {
      core.out("simulator: load()");
      setImmediate(() => parts.reboot("load()"));
    },
    // The device's timers run timeScale times faster (timers.ts), and so does getTime(): the
    // firmware's uptime and its timer deadlines are measured with it (lib/link.ts), as on a
    // board, where both are one clock. Date.now() stays the wall clock (NTP, log timestamps
    // against the emulator's); a setTime() moves both alike.
    getTime: () => (core.devNow() + (hostNow() - core.startedAt) * (core.timeScale - 1)) / 1000,
    setTime(s: any) {
      core.clockOffset = Number(s) * 1000 - hostNow();
      core.log("clock: setTime(" + s + ")");
    },
    process: core.module("process", {
      env: core.toCtx({
        VERSION: "2v29",
        BOARD: "ESP32",
        GIT_COMMIT: "simulator",
        CONSOLE: "Serial1",
        MODULES: "net,tls,http,crypto,Storage,Wifi,TelnetServer",
      }),
      version: "2v29",
      memory() {
        const usage = Math.ceil(core.srcLength / 12) + 600;
        return core.toCtx({
          free: JSVARS_TOTAL - usage,
          usage,
          total: JSVARS_TOTAL,
          history: 0,
          gc: 0,
          gctime: 0,
          blocksize: 14,
        });
      },
    }),
  });
  parts.gpio.install(g);
  return { E };
}
