// The global `iot` console object; config persistence in Storage.
import { keepAlive } from "../board.json";
import { configKit } from "../lib/config";
import { subscriptions } from "../lib/alink";
import type { Session } from "../lib/link";
import type { DeviceLog } from "../lib/logs";

export interface Store {
  read(name: string): any;
  readJSON(name: string, noExceptions: boolean): any;
  writeJSON(name: string, v: any): any;
  erase(name: string): void;
}
// `_` names: firmware-internal (main → console), mangled to one or two letters
export interface IotDeps {
  _storage: Store; // require("Storage")
  _link: any; // a Link
  _alink(productKey: string, deviceName: string): any; // a new Alink on the link
  _creds(config: any): any; // {host, port, clientId, username, password}
  _log(line: string): void;
  _telnet(on: boolean): void;
  _logs: DeviceLog; // device log entries for the platform (main passes it to each Alink too)
  // OTA (firmware/ota.ts makeOta): the console subscribes its two topics too and routes their
  // messages to it (upgrade pushes to _message, download replies to _download), and tells it
  // every CONNACK (_message(topic))
  _ota?: Ota;
}

// OTA as the console sees it (firmware/ota.ts makeOta)
export interface Ota {
  /** An upgrade push on topic /ota/device/upgrade/{productKey}/{deviceName}. No payload: the
   * session of that topic is online, after every CONNACK (confirms a trial, reports a rollback,
   * informs the versions). */
  _message(topic: string, payload?: string): void;
  /** The running MQTT download's handler of a download_reply; null when none runs. */
  _download: ((payload: string) => void) | undefined;
}

// Power-safe config: two slots "iot.cfg0"/"iot.cfg1", each {n: sequence, c: config}.
// A save writes n+1 into the slot NOT holding the current config, reads it back and
// compares, and only then erases the old slot. Power lost at any step leaves the old or
// the new file whole; boot takes the valid slot with the highest n.
// (The file names and event names are written as literals: a string constant used twice
// stays a resident variable in the bundle.)

// One console per device (the global `iot`): its state is module-level and makeIot() (re)sets
// it. A function at the top level of the bundle keeps no scope, a closure made in a factory
// keeps its factory's: one JsVar each (docs/ESPRUINO.md §7). (Tests make a new one per case.)
// (deps._storage, _link, _logs used as they are: aliases would be resident too)
let deps: IotDeps,
  // listeners per event, plain arrays (Espruino's .on/emit add visible "#on..." keys and deliver
  // async), each created by its first iot.on(): empty resident arrays cost RAM
  listeners: any,
  // The config is the valid stored one, read from its file where it is used and not kept: held
  // online, its object would cost about 27 JsVars on the ESP32 (bench/ram.ts). slot: the file
  // holding it, "iot.cfg" + slot (undefined: no config); sequence: its record's n
  sequence: number,
  slot: number | undefined,
  alink: any,
  // lastPostId: carried from one Alink to the next, so ids never repeat after setup/start/clear
  lastPostId: number,
  // the link's last outage, for one log entry when it is back: since when (Date.now()),
  // the reason it went down (none before the first online), status().reconnects at that moment
  downAt: number,
  downReason: string | undefined, // undefined: none (an empty string takes a JsVar)
  downCount: number;

// Calls every listener in order (a throw propagates: Link and Alink catch it, Alink answers 500).
// Returns, for services and RRPC, the first return value that is not undefined (no service
// listener: 404, the platform's "service not found"); for the others the first number
// returned, else 200 (the set reply code). It is also the Alink's handler (alink.on): one
// function for every event, because each function is resident.
const emit = (event: string, first?: any, second?: any, third?: any): any => {
  const anyValue = event == "service" || event == "rrpc",
    list = listeners[event] || [];
  let result: any, value: any, index: number;
  if (event == "service" && !listeners.service) return 404;
  // a plain loop: no closure per event (a post_reply arrives for every post); it ends at the
  // first empty entry (listeners are functions): an index is read faster than .length
  for (index = 0; list[index]; index++) {
    value = list[index](first, second, third);
    if (result === undefined && (anyValue || typeof value == "number")) result = value;
  }
  return anyValue || result !== undefined ? result : 200;
};
// the current Alink; throws with the setup hint when not configured (at boot, after why the
// stored config was rejected). Literals, not resident strings.
const configuredAlink = (whyBad?: string): any => {
  if (slot == null)
    throw Error(
      (whyBad ? "iot: stored config bad (" + whyBad + ")" : "iot: not configured") +
        '; run iot.setup({ssid:"..",password:"..",productKey:"..",deviceName:"..",deviceSecret:".."})',
    );
  return alink;
};
// The link's session for the current config: the link makes one at each connect attempt and
// drops it once online (the signed password and clientId are long strings: RAM). Registration
// runs once in a device's life: _register exists only in its session. The reply's secret or
// token becomes the stored identity (as iot.setup would store it), and the login with it
// starts at once; it is never logged.
const makeSession = (): Session => {
  const current = deps._storage.readJSON("iot.cfg" + slot, true).c,
    // {host, port, clientId, username, password (MQTT)}, completed into a Session
    session = deps._creds(current);
  Object.assign(session, {
    _ssid: current.ssid,
    _wifiPassword: current.password,
    _keepAlive: current.keepAlive || keepAlive, // board.json's default
    // made at the CONNACK (the link calls it once, then drops the session): a list of long
    // strings, not held through the Wi-Fi join and the TLS handshake
    // With OTA, its pushes at QoS 1 and its download blocks, answers to its requests, at QoS 0
    // (a lost one is asked again): written here, beside their routing (onLinkMessage), for no
    // function of OTA's own (each function is resident)
    _topics: () =>
      subscriptions(current.productKey, current.deviceName).concat(
        deps._ota
          ? [
              ["/ota/device/upgrade/" + current.productKey + "/" + current.deviceName, 1],
              ["/sys/" + current.productKey + "/" + current.deviceName + "/thing/file/download_reply", 0],
            ]
          : [],
      ),
    _tls: current.tls !== false,
    _secret: current.productSecret ? "productSecret" : current.deviceToken ? "deviceToken" : "deviceSecret",
  });
  if (current.productSecret)
    session._register = (payload: string) => {
      const reply = JSON.parse(payload);
      deps._log("iot: registered");
      iot.setup({
        productKey: current.productKey,
        deviceName: current.deviceName,
        deviceSecret: reply.deviceSecret,
        clientId: reply.clientId,
        deviceToken: reply.deviceToken,
      });
    };
  return session;
};

// OTA's messages never reach Alink (its binary download replies are no JSON). Told by the
// topic's end or start (only subscribed topics arrive; no string built per message), so
// that the long OTA handler is not run (Espruino lexes all of a function's text at each call)
// for every post reply.
const onLinkMessage = (topic: string, payload: string) => {
  const ota = deps._ota;
  // a post's reply first, the most common message, with one test
  if (alink && topic.endsWith("/post_reply")) alink.message(topic, payload);
  else if (ota && topic.endsWith("/thing/file/download_reply")) {
    if (ota._download) ota._download(payload);
  } else if (ota && topic.startsWith("/ota/device/upgrade/")) ota._message(topic, payload);
  else if (alink) alink.message(topic, payload);
};
// The link's onOnline and onOffline, one function (each function is resident), told by the
// link's state: one console line per transition, so a user watching the serial port sees the
// link. Back online, one cloud log entry per outage: how long, why, and the failed attempts
// (refused credentials and their backoff, a twin login) with the last error. Link errors
// never contain secrets.
const onLinkChange = () => {
  const status = deps._link.status();
  if (status.state != "online") {
    deps._log("iot: offline (" + status.lastError + ")");
    if (alink) alink.setOnline(false);
    downAt = Date.now();
    downReason = status.lastError;
    downCount = status.reconnects;
    return emit("offline");
  }
  const attempts = status.reconnects - downCount;
  // confirms a trial, reports a rollback, informs the versions
  if (deps._ota) {
    const current = deps._storage.readJSON("iot.cfg" + slot, true).c;
    deps._ota._message("/ota/device/upgrade/" + current.productKey + "/" + current.deviceName);
  }
  deps._log("iot: online");
  if (alink) alink.setOnline(true);
  if (downReason || attempts)
    deps._logs.add(
      "WARN",
      "down " +
        Math.round((Date.now() - downAt) / 1000) +
        " s: " +
        (downReason || "boot") +
        (attempts ? "; then " + attempts + " failed attempts, last: " + status.lastError : ""),
      "link",
    );
  downReason = undefined;
  emit("online");
};

// The global `iot`: one object made once, its methods written in it at the top level of the
// bundle (a function there keeps no scope, and has no other name to cost a JsVar).
const iot: any = {
  version: "",
  // setup, start and stop are called inside the console too, as iot.x(): a function of its own
  // given here as `setup: setup` would have two names, one JsVar more
  setup(patch: any) {
    // the save, inline (a function of its own would be resident)
    const merged = configKit()._merge(slot == null ? null : deps._storage.readJSON("iot.cfg" + slot, true).c, patch),
      newSlot = slot! ^ 1, // no config yet (slot undefined): 1
      file = "iot.cfg" + newSlot,
      record = { n: sequence + 1, c: merged };
    let verified = false;
    try {
      deps._storage.writeJSON(file, record);
      verified = JSON.stringify(deps._storage.readJSON(file, true)) == JSON.stringify(record);
    } catch (ignored) {}
    if (!verified) {
      deps._storage.erase(file);
      throw Error("iot: Storage write failed");
    }
    // the other file: the old config, or (none valid) a rejected one, which must not come back
    deps._storage.erase("iot.cfg" + (newSlot ^ 1));
    slot = newSlot;
    sequence++;
    iot.start();
  },
  // (re)starts the link, the Alink and the config's Telnet and log level
  start() {
    configuredAlink();
    const current = deps._storage.readJSON("iot.cfg" + slot, true).c;
    deps._telnet(!!current.telnet);
    deps._logs._level = "DEBUG,INFO,WARN,ERROR".split(",").indexOf(current.logLevel || "WARN"); // lib/logs.ts's levels
    // stopped first: the link's next attempt would read the new config (makeSession), so the
    // old session must not go on if the check throws (only out of memory: the config is valid)
    iot.stop();
    makeSession(); // a config the signer refuses throws here, to the caller
    alink = deps._alink(current.productKey, current.deviceName);
    alink._lastId = lastPostId;
    alink.on = emit;
    deps._link.start(makeSession);
  },
  stop() {
    deps._link.stop();
    if (alink) {
      alink.setOnline(false);
      lastPostId = alink._lastId;
    }
  },
  show() {
    deps._log(
      slot == null
        ? "iot: not configured"
        : JSON.stringify(configKit()._mask(deps._storage.readJSON("iot.cfg" + slot, true).c)),
    );
  },
  status() {
    const status = deps._link.status();
    if (slot == null) status.state = "unconfigured";
    return status;
  },
  clear() {
    iot.stop();
    deps._storage.erase("iot.cfg0");
    deps._storage.erase("iot.cfg1");
    slot = alink = undefined;
    deps._telnet(false); // back to the safe default, as at boot without a config
  },
  // post(params) and event(identifier, params): one function (each function is resident; makeIot
  // sets iot.event to it), the Alink's event(), which takes both. (configuredAlink() only
  // without an Alink: its long hint would be lexed at every post)
  post(identifierOrParams: any, params?: any) {
    return (alink || configuredAlink()).event(identifierOrParams, params);
  },
  event: null,
  // log(level, text): an app line for the platform's log service (module "app"), same buffer
  // and level filter: the device log's add() itself, set by makeIot()
  log: null,
  on(event: string, listener: any) {
    const events = "online|offline|set|reply|service|rrpc";
    if (events.split("|").indexOf(event) < 0 || typeof listener != "function")
      throw Error("iot.on(" + events + ", function)");
    (listeners[event] = listeners[event] || []).push(listener);
  },
  help() {
    deps._log(
      (
        "setup({" +
        configKit()._fieldNames().join() +
        "}) show() status() start() stop() clear() post(params) event(id,params) log(level,text) on(" +
        "online|offline|set|reply|service|rrpc,fn)"
      )
        .split(" ")
        .map((command) => "iot." + command)
        .join("\n"),
    );
  },
};
export const makeIot = (iotDeps: IotDeps): any => {
  deps = iotDeps;
  listeners = {};
  slot = alink = undefined;
  sequence = lastPostId = downCount = 0;
  downReason = undefined;
  // why a stored file was rejected (boot only)
  let whyBad = "";
  downAt = Date.now();
  deps._link.onMessage = onLinkMessage;
  deps._link.onOnline = deps._link.onOffline = onLinkChange;
  iot.log = deps._logs.add;
  iot.event = iot.post;

  // Boot: never throws. Parse errors are not echoed (they can quote the file's text).
  [0, 1].forEach((fileSlot) => {
    if (deps._storage.read("iot.cfg" + fileSlot) === undefined) return;
    let record: any;
    try {
      record = deps._storage.readJSON("iot.cfg" + fileSlot, true);
    } catch (ignored) {}
    try {
      if (!record || typeof record.n != "number") throw Error("unreadable");
      configKit()._validate(record.c);
      if (slot == null || record.n > sequence) {
        sequence = record.n;
        slot = fileSlot;
      }
    } catch (thrown) {
      whyBad = (thrown as Error).message;
    }
  });
  // iot must exist even if the start fails, so the user can fix the config. No config: the
  // Telnet console off (the log level stays DeviceLog's default, WARN)
  try {
    if (slot != null) iot.start();
    else deps._telnet(false);
  } catch (thrown) {
    deps._log("iot: start failed: " + thrown);
  }
  // Espruino 2v29 tells no reset reason on an ESP32 (only ESP8266.getResetInfo exists): each
  // boot is logged, so the cloud shows resets (watchdog, crash, power) between normal ones
  deps._logs.add("WARN", "boot " + VERSION, "boot");
  if (slot == null)
    try {
      configuredAlink(whyBad);
    } catch (thrown) {
      deps._log((thrown as Error).message);
    }

  iot.version = VERSION;
  return iot;
};
