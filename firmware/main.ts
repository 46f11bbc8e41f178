// Entry point: wires Espruino's objects into Link, Alink and the global `iot`.
// (The build appends a footer that then runs the Storage file app.js.)
// Named imports: only the settings the firmware uses end up in the bundle.
import board, { keepAlive } from "../board.json";
import { Link } from "../lib/link";
import { Alink } from "../lib/alink";
import { credentials } from "../lib/aliyun";
import { makeEnv, watchWifi, sha1, sha256 } from "./device";
import { makeIot } from "./console";

const env = makeEnv(), link = Link(env, board);
watchWifi(link);
(global as any).iot = makeIot({
  _storage: require("Storage"),
  _link: link,
  _alink: (productKey, deviceName) => new Alink(link, env, productKey, deviceName, () => Date.now(), setTime),
  _creds: (config) => credentials(config, sha1, sha256, Math.random),
  _keepAlive: keepAlive,
  _log: env._log,
  // The ESP32's Telnet console (port 23) has no password: off unless the config asks.
  _telnet: (enabled) => {
    if (process.env.BOARD == "ESP32") try { require("TelnetServer").setOptions({ mode: enabled ? "on" : "off" }) } catch (ignored) { }
  },
});
