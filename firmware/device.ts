// Espruino adapters for the link: timers, sockets, Wi-Fi, watchdog, hashes.
// main.ts: `Link(env, settings); watchWifi(link);`. Loading this module enables the hardware
// watchdog, which cannot be turned off again: the link feeds it.
import { watchdogSeconds } from "../board.json";
import type { Link, LinkEnv } from "../lib/link";
import type { Hash } from "../lib/crypto";
import { credentials } from "../lib/aliyun";

const wifi = require("Wifi");

// The console's credentials(config) (lib/aliyun.ts) over the native SHA1 and SHA256. The two
// Hashes are made here at each call and freed after (one resident function). Native
// SHA1/SHA256 return an ArrayBuffer; the firmware works on byte strings. With no contiguous
// block left for the result they print an error and return undefined.
export const signedCredentials = (config: any) => {
  const digest =
    (algorithm: "SHA1" | "SHA256"): Hash =>
    (bytes) => {
      const result = require("crypto")[algorithm](bytes);
      if (!result) throw Error("crypto: out of memory");
      // E.toString takes the ArrayBuffer itself: no Uint8Array, whose constructor, once
      // used, stays in the root scope (5 JsVars)
      return E.toString(result);
    };
  return credentials(config, digest("SHA1"), digest("SHA256"), Math.random);
};

// getTime() when the firmware started, moved along with every clock step so that the uptime,
// on which the link's deadlines run, never jumps; setClock: Espruino's own setTime.
let startSeconds = getTime();
const setClock = setTime;

/** The global setTime becomes one that sets the wall clock without moving the uptime, so that
 * every step is seen: NTP (Alink calls setTime), an app, the REPL, and the Web IDE, which sets
 * the board's clock when it connects (a step back would otherwise hold the link's timer, and
 * the watchdog's feeding with it, for as long as the step). (No name of its own: a global.) */
(global as any).setTime = (seconds: number): void => {
  const before = getTime();
  setClock(seconds);
  startSeconds += getTime() - before;
};

E.enableWatchdog(watchdogSeconds, false); // the link feeds it with _kick()
// The device's LinkEnv: one object made at the top level (a name in main.ts would be a second
// global for it)
export const env: LinkEnv = {
  // natives as values: they ignore `this` (the link never passes clear undefined)
  set: setTimeout,
  clear: clearTimeout,
  _random: Math.random,
  _connect(host, port, tls, onEvent) {
    if (tls) {
      // mbedTLS wants ~16 KB in one piece: defragmenting first made the handshake reliable.
      E.defrag();
      // Where mbedTLS takes its ~40 KB from JsVars (not on the ESP32: its mbedTLS uses the
      // native heap), running out mid-handshake asserts and kills the interpreter (measured on
      // both Linux builds, 52 KB free was not enough on the 64-bit one): refuse first.
      const memory = process.memory();
      if (process.env.BOARD != "ESP32" && memory.free * memory.blocksize < 64000) throw Error("tls: not enough memory");
    }
    // DNS, connect and the TLS setup block and throw on failure: the link catches
    const socket = (tls ? require("tls") : require("net")).connect({ host: host, port: port }, onEvent);
    socket.on("data", onEvent);
    socket.on("close", onEvent);
    socket.on("error", onEvent); // then a close, which the link ignores
    return socket;
  },
  _wifiConnect(ssid, password, callback) {
    try {
      wifi.connect(ssid, { password: password }, callback);
    } catch (thrown) {
      callback("" + thrown);
    }
  },
  _kick: E.kickWatchdog,
  _memory: process.memory,
  _uptime: () => getTime() - startSeconds,
  _log: console.log,
};

// Wi-Fi does not reconnect by itself: report its loss to the link, which retries with backoff.
export const watchWifi = (link: Link): void => {
  // the method itself, not a wrapper closure (it ignores the event's details; it uses no `this`)
  wifi.on("disconnected", link.wifiLost);
};
