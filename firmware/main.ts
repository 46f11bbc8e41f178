// Entry point: wires Espruino's objects into Link, Alink and the global `iot`.
// (The build appends a footer that then runs the Storage file app.js.)
// Named imports: only the settings the firmware uses end up in the bundle.
import { keepAlive, queueLength, maxPacket, watchdogSeconds, offlineResetMinutes, connackTimeoutSeconds, pingTimeoutSeconds } from "../board.json";
import { Link } from "../lib/link";
import { Alink } from "../lib/alink";
import { credentials } from "../lib/aliyun";
import { makeEnv, watchWifi, sha1, sha256 } from "./device";
import { makeIot } from "./console";

const env = makeEnv(), link = new Link(env, { keepAlive, queueLength, maxPacket, watchdogSeconds, offlineResetMinutes, connackTimeoutSeconds, pingTimeoutSeconds });
watchWifi(link);
(global as any).iot = makeIot({
  storage: require("Storage"),
  link: link,
  alink: (pk, dn) => new Alink(link, env, pk, dn, maxPacket, () => Date.now(), setTime),
  creds: (c) => credentials(c, sha1, sha256),
  keepAlive: keepAlive,
  log: env.log,
  // The ESP32's Telnet console (port 23) has no password: off unless the config asks.
  telnet: (on) => {
    if (process.env.BOARD == "ESP32") try { require("TelnetServer").setOptions({ mode: on ? "on" : "off" }) } catch (e) { }
  },
});
