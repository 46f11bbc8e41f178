// Entry point: wires Espruino's objects into Link, Alink and the global `iot`.
// (The build appends a footer that then runs the Storage file app.js.)
// Named imports: only the settings the firmware uses end up in the bundle.
import board, { logBuffer } from "../board.json";
import { Link, link } from "../lib/link";
import { Alink, alinkHost } from "../lib/alink";
import { DeviceLog, deviceLog } from "../lib/logs";
import { env, watchWifi, signedCredentials } from "./device";
import { makeIot } from "./console";
import { makeOta, ota } from "./ota";

// The parts are the modules' own objects (env, link, deviceLog, ota), set up by their
// functions; no name of main's own for them: a top-level name is a global, resident (a JsVar
// each).
// a copy: given the board.json object itself, the build hoists its keys into top-level
// variables (resident, and the link keeps its own copy of each)
Link(env, Object.assign({}, board));
DeviceLog(logBuffer, Date.now);
makeOta();
watchWifi(link);
// every Alink's host (Date.now as a value: natives ignore `this`; setTime: device.ts's, which
// moves the uptime along with the clock)
alinkHost(link, env, Date.now, setTime, deviceLog);
(global as any).iot = makeIot({
  _storage: require("Storage"),
  _link: link,
  _alink: Alink,
  _creds: signedCredentials,
  _log: env._log,
  _logs: deviceLog,
  _ota: ota,
  // The ESP32's Telnet console (port 23) has no password: off unless the config asks.
  _telnet: (enabled) => {
    if (process.env.BOARD == "ESP32")
      try {
        require("TelnetServer").setOptions({ mode: enabled ? "on" : "off" });
      } catch (ignored) {}
  },
});
