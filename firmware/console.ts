// The global `iot` console object; config persistence in Storage.
import { FIELDS, mergeConfig, validateConfig, maskConfig } from "../lib/config";
import { subscriptions } from "../lib/alink";

export interface Store {
  read(name: string): any; readJSON(name: string, noExceptions: boolean): any;
  writeJSON(name: string, v: any): any; erase(name: string): void;
}
// `_` names: firmware-internal (main → console), mangled to one or two letters
export interface IotDeps {
  _storage: Store;                          // require("Storage")
  _link: any;                               // a Link
  _alink(productKey: string, deviceName: string): any; // a new Alink on the link
  _creds(config: any): any;                 // {host, port, clientId, username, password}
  _keepAlive: number;                       // default from board.json
  _log(line: string): void;
  _telnet(on: boolean): void;
}

// Power-safe config: two slots "iot.cfg0"/"iot.cfg1", each {n: sequence, c: config}.
// A save writes n+1 into the slot NOT holding the current config, reads it back and
// compares, and only then erases the old slot. Power lost at any step leaves the old or
// the new file whole; boot takes the valid slot with the highest n.
const SLOT = "iot.cfg";
// run iot.setup({ssid:"..",password:"..",productKey:"..",deviceName:"..",deviceSecret:".."})
const HINT = 'run iot.setup({' + FIELDS.slice(0, 5).join(':"..",') + ':".."})', NOT_CONFIGURED = "iot: not configured";

export const makeIot = (deps: IotDeps): any => {
  // listeners per event, plain arrays (Espruino's .on/emit add visible "#on..." keys and deliver async)
  const storage = deps._storage, link = deps._link, listeners: any = { online: [], offline: [], set: [], reply: [] };
  // config: the valid stored one (null: none); sequence: its n; slot: the file holding it;
  // whyBad: why a stored file was rejected at boot
  let config: any = null, sequence = 0, slot = 0, alink: any = null, whyBad = "";

  // Calls every listener in order; the first number returned is the set reply code.
  // (A throw propagates: Link and Alink catch it, Alink answers 500.)
  const emit = (event: string, first?: any, second?: any, third?: any): any => {
    let code: any;
    listeners[event].forEach((listener: any) => {
      const result = listener(first, second, third);
      if (code == null && typeof result == "number") code = result;
    });
    return code == null ? 200 : code;
  };
  // the current Alink; throws with the setup hint when not configured
  const configuredAlink = (): any => {
    if (!config) throw Error(NOT_CONFIGURED + "; " + HINT);
    return alink;
  };
  const stop = () => {
    link.stop();
    if (alink) alink.stop();
  };
  const start = () => {
    configuredAlink();
    const current = config, session = deps._creds(current);
    stop();
    alink = deps._alink(current.productKey, current.deviceName);
    alink.onSet = (params: any) => emit("set", params);
    alink.onReply = (id: any, code: any, message: any) => { emit("reply", id, code, message) };
    // credentials give {host, port, clientId, username, password (MQTT)}: completed into a Session
    link.start(Object.assign(session, {
      _ssid: current.ssid, _wifiPassword: current.password, _keepAlive: current.keepAlive || deps._keepAlive,
      _topics: subscriptions(current.productKey, current.deviceName), _tls: current.tls !== false,
      _secret: current.productSecret ? "productSecret" : current.deviceToken ? "deviceToken" : "deviceSecret",
      // Registration runs once in a device's life: this function exists only in its session.
      // The reply's secret or token becomes the stored identity (as iot.setup would store it),
      // and the login with it starts at once; it is never logged.
      _register: current.productSecret && ((payload: string) => {
        const reply = JSON.parse(payload);
        deps._log("iot: registered");
        setup({ productKey: current.productKey, deviceName: current.deviceName, deviceSecret: reply.deviceSecret, clientId: reply.clientId, deviceToken: reply.deviceToken });
      })
    }));
  };
  const run = () => {
    deps._telnet(!!(config && config.telnet));
    if (config) start();
  };
  const setup = (patch: any) => {
    const merged = mergeConfig(config, patch);
    save(merged);
    config = merged;
    run();
  };
  const save = (newConfig: any) => {
    const newSlot = slot ^ 1, file = SLOT + newSlot, record = { n: sequence + 1, c: newConfig };
    let verified = false;
    try {
      storage.writeJSON(file, record);
      verified = JSON.stringify(storage.readJSON(file, true)) == JSON.stringify(record);
    } catch (ignored) { }
    if (!verified) {
      storage.erase(file);
      throw Error("iot: Storage write failed");
    }
    storage.erase(SLOT + slot);
    slot = newSlot; sequence++;
  };

  link.onMessage = (topic: string, payload: string) => { if (alink) alink.message(topic, payload) };
  // one console line per transition, so a user watching the serial port sees the link
  link.onOnline = () => { deps._log("iot: online"); if (alink) alink.online(); emit("online") };
  link.onOffline = () => { deps._log("iot: offline (" + link.status().lastError + ")"); emit("offline") };

  // Boot: never throws. Parse errors are not echoed (they can quote the file's text).
  [0, 1].forEach(fileSlot => {
    if (storage.read(SLOT + fileSlot) === undefined) return;
    let record: any;
    try { record = storage.readJSON(SLOT + fileSlot, true) } catch (ignored) { }
    try {
      if (!record || typeof record.n != "number") throw Error("unreadable");
      validateConfig(record.c);
      if (!config || record.n > sequence) { config = record.c; sequence = record.n; slot = fileSlot }
    } catch (thrown) { whyBad = (thrown as Error).message }
  });
  // iot must exist even if the start fails, so the user can fix the config
  try { run() } catch (thrown) { deps._log("iot: start failed: " + thrown) }
  if (!config) deps._log((whyBad ? "iot: stored config bad (" + whyBad + ")" : NOT_CONFIGURED) + "; " + HINT);

  return {
    version: VERSION,
    setup: setup,
    show() { deps._log(config ? JSON.stringify(maskConfig(config)) : NOT_CONFIGURED) },
    status() {
      const status = link.status();
      if (!config) status.state = "unconfigured";
      return status;
    },
    start: start,
    stop: stop,
    clear() {
      stop();
      storage.erase(SLOT + 0); storage.erase(SLOT + 1);
      config = alink = null;
      deps._telnet(false); // back to the safe default, as at boot without a config
    },
    post(params: any) { return configuredAlink().post(params) },
    event(identifier: string, params: any) { return configuredAlink().event(identifier, params) },
    on(event: string, listener: any) {
      if (!listeners[event] || typeof listener != "function") throw Error("iot.on(" + Object.keys(listeners).join("|") + ", function)");
      listeners[event].push(listener);
    },
    help() {
      deps._log(("setup({" + FIELDS.join() + "}) show() status() start() stop() clear() post(params) event(id,params) on(" +
        Object.keys(listeners).join("|") + ",fn)").split(" ").map(command => "iot." + command).join("\n"));
    }
  };
};
