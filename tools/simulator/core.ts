// The state every part of the simulated device shares, and the helpers that cross between the
// host (Node) and the device's realm (the node:vm context the firmware runs in).
//
// Two rules hold everywhere in tools/simulator/:
// - Every host callback (socket data, Wi-Fi timer, ...) remembers `core.gen` when it is set up
//   and does nothing if a reboot or close() bumped it since: nothing from an old boot reaches a
//   new interpreter.
// - Values handed to device code are made in the device's realm (`core.C`), so `instanceof
//   Error`, `Array.isArray` and friends behave inside the firmware as on the board.
import type vm from "node:vm";
import { EventEmitter } from "node:events";
import { uncaught } from "./format";

export interface DeviceOptions {
  /** bundle path (default dist/firmware.js), re-read at every boot */
  firmware?: string;
  /** bundle text instead of a file */
  source?: string;
  /**
   * boot as a flashed board does: run this loader (dist/loader.js), which runs the image from
   * Storage (install it with installOta() from tools/simulator/ota.ts); firmware/source unused
   */
  loader?: string;
  /** folder holding the Storage files (one file per name) */
  storageDir: string;
  /** divides every timer delay, the watchdog and Wi-Fi delays (default 1) */
  timeScale?: number;
  /** the simulated access point */
  wifi?: { ssid: string; password: string };
  /** the device's console output, line by line */
  out?: (line: string) => void;
  /** simulator events (Wi-Fi, sockets, resets) */
  log?: (line: string) => void;
  /** split received data at random: true = pieces of 1..64 bytes, n = 1..n */
  rechunk?: boolean | number;
  /** ms (device time) a Wi-Fi connect takes (default 1500) */
  wifiDelay?: number;
  /** remove what Espruino lacks from the context (default true) */
  es2015Only?: boolean;
  /** extra DNS entries, name -> IPv4 (e.g. a platform host name pointed at a local emulator) */
  hosts?: Record<string, string>;
}

/** Host wall clock in fractional ms (Espruino's Date.now() is fractional). */
export const hostNow = () => performance.timeOrigin + performance.now();

export class Core {
  readonly opts: DeviceOptions;
  readonly timeScale: number;
  /** 'out' (console line), 'log' (simulator event line), 'reboot' ({reason}), 'boot' (count) */
  readonly events = new EventEmitter();
  /** Boot generation; see the header. */
  gen = 0;
  closed = false;
  /** The current interpreter (replaced at every boot). */
  ctx: vm.Context = null as any;
  /** Constructors of the current interpreter's realm. */
  C: any = null;
  /** Device clock minus host clock, set by setTime(). */
  clockOffset = 0;
  /** Length of the running bundle, for process.memory(). */
  srcLength = 0;

  constructor(opts: DeviceOptions, timeScale: number) {
    this.opts = opts;
    this.timeScale = timeScale;
  }

  /** Device console output (split into lines). */
  out = (text: string) => {
    for (const line of String(text).split("\n")) {
      this.events.emit("out", line);
      if (this.opts.out) this.opts.out(line);
    }
  };

  /** A simulator event line (not something the device prints). */
  log = (line: string) => {
    this.events.emit("log", line);
    if (this.opts.log) this.opts.log(line);
  };

  devNow = () => hostNow() + this.clockOffset;
  /** hostNow() when the simulated board was made: time-scaled getTime() counts from it. */
  readonly startedAt = hostNow();

  /** An Error of the device's realm (`instanceof Error` holds inside the firmware). */
  err(msg: string, type = "Error"): Error {
    const e = new this.C.Error(msg);
    if (type !== "Error") e.name = type;
    return e;
  }

  /** Runs device code from a host callback the way Espruino's idle loop does. */
  call(g: number, fn: Function, self: any, args: any[]): any {
    if (g !== this.gen || this.closed) return undefined;
    try {
      return fn.apply(self, args);
    } catch (e) {
      this.out(uncaught(e));
      return undefined;
    }
  }

  /** Fires listeners stored Espruino-style in `#on<event>`. */
  fire(obj: any, ev: string, args: any[]) {
    const g = this.gen;
    const l = obj["#on" + ev];
    if (!l) return;
    const list = typeof l === "function" ? [l] : Array.from(l);
    for (const f of list) if (typeof f === "function") this.call(g, f, obj, args);
  }

  /** Proxy that makes a missing member fail loudly, naming it. */
  stand(name: string, obj: any): any {
    const err = (msg: string) => this.err(msg);
    return new Proxy(obj, {
      get(t, p, r) {
        if (typeof p === "symbol" || p in t || p === "toJSON" || p === "then" || p === "inspect" || p.startsWith("#on"))
          return Reflect.get(t, p, r);
        throw err("simulator: " + name + "." + p + " is not provided by the stand-in");
      },
    });
  }

  /** A stand-in object of the device's realm with the given members. */
  module(name: string, members: object): any {
    return this.stand(name, Object.assign(new this.C.Object(), members));
  }

  /** Byte values of a string / ArrayBuffer / view / array, as Espruino converts them. */
  bytesOf(d: any, what: string): Buffer {
    if (typeof d === "string") {
      for (let i = 0; i < d.length; i++) {
        if (d.charCodeAt(i) > 255) throw this.err(what + ": character > 255 at " + i + " (not a byte string)");
      }
      return Buffer.from(d, "latin1");
    }
    if (ArrayBuffer.isView(d)) return Buffer.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    if (Object.prototype.toString.call(d) === "[object ArrayBuffer]") return Buffer.from(new Uint8Array(d));
    if (Array.isArray(d)) return Buffer.from(d.map((x) => x & 255));
    if (typeof d === "number") return Buffer.from([d & 255]);
    throw this.err(what + ": cannot convert " + typeof d + " to bytes");
  }

  /** E.toString-style flattening of arguments to byte values. */
  flatten(args: any[]): number[] {
    const r: number[] = [];
    const add = (a: any) => {
      if (typeof a === "number") r.push(a & 255);
      else if (typeof a === "string") {
        for (let i = 0; i < a.length; i++) r.push(a.charCodeAt(i) & 255);
      } else if (Array.isArray(a)) a.forEach(add);
      else if (a && typeof a === "object" && "data" in a && "count" in a) {
        for (let i = 0; i < a.count; i++) add(a.data);
      } else if (a && typeof a === "object") {
        for (const b of this.bytesOf(a, "E.toString")) r.push(b);
      }
    };
    args.forEach(add);
    return r;
  }

  /** Bytes as an ArrayBuffer of the device's realm. */
  toAB(b: Uint8Array | number[]): any {
    const u = new this.C.Uint8Array(b.length);
    u.set(b);
    return u.buffer;
  }

  /** Plain data copied into the device's realm. */
  toCtx(v: any): any {
    return this.C.JSON.parse(JSON.stringify(v));
  }
}
