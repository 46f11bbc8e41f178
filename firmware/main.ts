// Entry point: wires Espruino's objects into Link, Alink and the global `iot`.
// (The build appends a footer that then runs the Storage file app.js.)
// Named imports: only the settings the firmware uses end up in the bundle.
import board, { logBuffer } from "../board.json";
import { Link } from "../lib/link";
import { Alink, alinkHost } from "../lib/alink";
import { DeviceLog } from "../lib/logs";
import { makeEnv, watchWifi, signedCredentials, stepClock } from "./device";
import { makeIot } from "./console";
import { makeOta } from "./ota";

const env = makeEnv(),
  // a copy: given the board.json object itself, the build hoists its keys into top-level
  // variables (resident, and the link keeps its own copy of each)
  link = Link(env, Object.assign({}, board)),
  logs = DeviceLog(logBuffer, Date.now),
  storage = require("Storage"),
  ota = makeOta(storage, link, env, logs);
watchWifi(link);
// every Alink's host (Date.now as a value: natives ignore `this`)
alinkHost(link, env, Date.now, stepClock, logs);
(global as any).iot = makeIot({
  _storage: storage,
  _link: link,
  _alink: Alink,
  _creds: signedCredentials,
  _log: env._log,
  _logs: logs,
  _ota: ota,
  // The ESP32's Telnet console (port 23) has no password: off unless the config asks.
  _telnet: (enabled) => {
    if (process.env.BOARD == "ESP32")
      try {
        require("TelnetServer").setOptions({ mode: enabled ? "on" : "off" });
      } catch (ignored) {}
  },
});
