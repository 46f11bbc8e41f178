// Espruino adapters for the link: timers, sockets, Wi-Fi, watchdog, hashes.
// main.ts: `const link = Link(makeEnv(), settings); watchWifi(link);` (makeEnv once:
// it enables the hardware watchdog, which cannot be turned off again).
import { watchdogSeconds } from "../board.json";
import type { Link, LinkEnv } from "../lib/link";
import type { Hash } from "../lib/crypto";

const C = require("crypto"), W = require("Wifi");

// native SHA1/SHA256 return ArrayBuffer; the firmware works on byte strings. With no
// contiguous block left for the result they print an error and return undefined.
const hash = (f: string): Hash => (s) => {
  const r = C[f](s);
  if (!r) throw Error("crypto: out of memory");
  return E.toString(new Uint8Array(r));
};
export const sha1 = hash("SHA1"), sha256 = hash("SHA256");

export const makeEnv = (): LinkEnv => {
  E.enableWatchdog(watchdogSeconds, false); // the link feeds it with kick()
  return {
    // natives as values: they ignore `this` (the link never passes clear undefined)
    set: setTimeout,
    clear: clearTimeout,
    _random: Math.random,
    _connect(host, port, onOpen, onData, onClose) {
      // DNS and connect block and throw on failure: the link catches
      const s = require("net").connect({ host: host, port: port }, onOpen);
      s.on("data", onData);
      s.on("close", onClose);
      s.on("error", onClose); // the link ignores a second close
      return s;
    },
    _wifiConnect(ssid, password, cb) {
      try { W.connect(ssid, { password: password }, cb); } catch (x) { cb("" + x); }
    },
    _kick: E.kickWatchdog,
    _free: () => process.memory().free,
    _log: console.log,
  };
};

// Wi-Fi does not reconnect by itself: report its loss to the link, which retries with backoff.
export const watchWifi = (link: Link): void => {
  W.on("disconnected", () => link.wifiLost());
};
