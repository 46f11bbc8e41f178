// Device logs for the platform's log service (thing/log/post, docs/ALIYUN.md §8): a small
// bounded buffer of entries, kept while offline and posted by Alink once online with a
// synced clock. Entries are strings, not objects (RAM: one string per entry): the epoch ms
// at which they were logged, then the JSON members after utcTime, e.g.
//   1583478926464"logLevel":"WARN","module":"link","code":"","logContent":"down 42 s: ..."
import { json } from "./alink";

// The levels in filter order, "DEBUG,INFO,WARN,ERROR"; iot.setup({logLevel}) takes one of these
// names (lib/config.ts). A string, split where a level is looked up (a resident array of
// strings costs more RAM), and written out where it is used (here, lib/config.ts,
// firmware/console.ts): a literal stays in flash, a module-level string is resident (4 JsVars
// on the ESP32).
// longest logContent kept (the Link SDK allows 4096; 8 entries must fit one maxPacket)
const MAX_TEXT = 256;

export interface DeviceLog {
  /** Adds an entry (dropped when below the level); never throws for a known level name.
   * module: the firmware's part ("link", "ota", "boot"), "app" when none: the console's
   * iot.log(level, text) is this function itself (a wrapper would be resident). The entry's
   * code is always "" (nothing here has codes for the platform's log). */
  add(level: string, text: any, module?: string): void;
  /** the filter: the index of the lowest level kept (DEBUG 0 … ERROR 3) */
  _level: number;
  /** Alink's sender, called after each add (the current Alink sets it; none: null) */
  _flush: (() => void) | null;
  /** JSON array text of every entry (plus a note of how many were dropped), emptying the
   * buffer; "" if none. With stepMs (the clock stepped by it at the first NTP sync): entries
   * logged before it get real times, nothing is taken ("" returned). One method, not two: RAM. */
  _take(stepMs?: number): string;
}

// One device log per device: its state is module-level and DeviceLog() (re)sets it; the
// object is made once at the top level with its methods written in it (a function there keeps
// no scope: one JsVar less than a closure made in a factory, docs/ESPRUINO.md §7).
// entries: oldest first; dropped: entries lost to the bound since the last post;
// synced: the clock has been set by NTP at least once (earlier entries need the step);
// size: board.json logBuffer; now: Date.now
// (synced 0 or 1: a number costs one JsVar, a boolean two, docs/ESPRUINO.md §7)
let entries: string[], dropped: number, synced: number, size: number, now: () => number;
export const deviceLog: DeviceLog = {
  _level: 2,
  _flush: null,
  add(level: string, text: any, module?: string) {
    const levels = "DEBUG,INFO,WARN,ERROR",
      index = levels.split(",").indexOf(level);
    if (index < 0) throw Error("log level: one of " + levels);
    if (index < deviceLog._level) return;
    if (
      entries.push(
        Math.floor(now()) +
          json({
            logLevel: level,
            module: module || "app",
            code: "",
            logContent: ("" + text).slice(0, MAX_TEXT),
          }).slice(1, -1),
      ) > size
    ) {
      entries.shift();
      dropped++;
    }
    if (deviceLog._flush) deviceLog._flush();
  },
  _take(stepMs?: number) {
    let text = "";
    if (stepMs != null) {
      if (!synced)
        entries = entries.map((item) => {
          const ms = parseInt(item, 10);
          return ms + Math.round(stepMs) + item.slice(("" + ms).length);
        });
      synced = 1;
      return text;
    }
    // the note as add() would store it (all ASCII: json() gives exactly this)
    if (dropped)
      entries.push(
        Math.floor(now()) +
          '"logLevel":"WARN","module":"log","code":"dropped","logContent":"' +
          dropped +
          ' older entries dropped"',
      );
    text = entries
      .map((item) => {
        const ms = parseInt(item, 10);
        return '{"utcTime":"' + new Date(ms).toISOString() + '",' + item.slice(("" + ms).length) + "}";
      })
      .join();
    entries = [];
    dropped = 0;
    return text && "[" + text + "]";
  },
};

// A new, empty device log. `new DeviceLog(..)` works too.
export function DeviceLog(logSize: number, clock: () => number): DeviceLog {
  entries = [];
  dropped = 0;
  synced = 0;
  size = logSize;
  now = clock;
  deviceLog._level = 2;
  deviceLog._flush = null;
  return deviceLog;
}
