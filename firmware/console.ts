// The global `iot` console object; config persistence in Storage.
import { FIELDS, mergeConfig, validateConfig, maskConfig } from "../lib/config";
import { subscriptions } from "../lib/alink";

export interface Store {
  read(name: string): any; readJSON(name: string, noExceptions: boolean): any;
  writeJSON(name: string, v: any): any; erase(name: string): void;
}
// `_` names: firmware-internal (main → console), minified to one letter
export interface IotDeps {
  _storage: Store;                          // require("Storage")
  _link: any;                               // a Link
  _alink(pk: string, dn: string): any;      // a new Alink on that link
  _creds(cfg: any): any;                    // {host, port, clientId, username, password}
  _keepAlive: number;                       // default from board.json
  _log(line: string): void;
  _telnet(on: boolean): void;
}

// Power-safe config: two slots "iot.cfg0"/"iot.cfg1", each {n: sequence, c: config}.
// A save writes n+1 into the slot NOT holding the current config, reads it back and
// compares, and only then erases the old slot. Power lost at any step leaves the old or
// the new file whole; boot takes the valid slot with the highest n.
const F = "iot.cfg";
// run iot.setup({ssid:"..",password:"..",productKey:"..",deviceName:"..",deviceSecret:".."})
const HINT = 'run iot.setup({' + FIELDS.slice(0, 5).join(':"..",') + ':".."})', NC = "iot: not configured";

export const makeIot = (d: IotDeps): any => {
  // L: listeners per event, plain arrays (Espruino's .on/emit add visible "#on..." keys and deliver async)
  const S = d._storage, link = d._link, L: any = { online: [], offline: [], set: [], reply: [] };
  let cfg: any = null, seq = 0, cur = 0, al: any = null, why = "";

  // Calls every listener in order; the first number returned is the set reply code.
  // (A throw propagates: Link and Alink catch it, Alink answers 500.)
  const emit = (e: string, a?: any, b?: any, c?: any): any => {
    let r: any;
    L[e].forEach((f: any) => {
      const v = f(a, b, c);
      if (r == null && typeof v == "number") r = v;
    });
    return r == null ? 200 : r;
  };
  const A = (): any => {
    if (!cfg) throw Error(NC + "; " + HINT);
    return al;
  };
  const stop = () => {
    link.stop();
    if (al) al.stop();
  };
  const start = () => {
    A();
    const c = cfg, k = d._creds(c);
    stop();
    al = d._alink(c.productKey, c.deviceName);
    al.onSet = (p: any) => emit("set", p);
    al.onReply = (i: any, n: any, m: any) => { emit("reply", i, n, m) };
    // k is {host, port, clientId, username, password (MQTT)}: completed into a Session
    link.start(Object.assign(k, {
      _ssid: c.ssid, _wifiPassword: c.password, _keepAlive: c.keepAlive || d._keepAlive,
      _topics: subscriptions(c.productKey, c.deviceName)
    }));
  };
  const run = () => {
    d._telnet(!!(cfg && cfg.telnet));
    if (cfg) start();
  };
  const save = (c: any) => {
    const t = cur ^ 1, f = F + t, o = { n: seq + 1, c: c };
    let ok = false;
    try {
      S.writeJSON(f, o);
      ok = JSON.stringify(S.readJSON(f, true)) == JSON.stringify(o);
    } catch (e) { }
    if (!ok) {
      S.erase(f);
      throw Error("iot: Storage write failed");
    }
    S.erase(F + cur);
    cur = t; seq++;
  };

  link.onMessage = (t: string, p: string) => { if (al) al.message(t, p) };
  // one console line per transition, so a user watching the serial port sees the link
  link.onOnline = () => { d._log("iot: online"); if (al) al.online(); emit("online") };
  link.onOffline = () => { d._log("iot: offline (" + link.status().lastError + ")"); emit("offline") };

  // Boot: never throws. Parse errors are not echoed (they can quote the file's text).
  [0, 1].forEach(i => {
    if (S.read(F + i) === undefined) return;
    let o: any;
    try { o = S.readJSON(F + i, true) } catch (e) { }
    try {
      if (!o || typeof o.n != "number") throw Error("unreadable");
      validateConfig(o.c);
      if (!cfg || o.n > seq) { cfg = o.c; seq = o.n; cur = i }
    } catch (e) { why = (e as Error).message }
  });
  // iot must exist even if the start fails, so the user can fix the config
  try { run() } catch (e) { d._log("iot: start failed: " + e) }
  if (!cfg) d._log((why ? "iot: stored config bad (" + why + ")" : NC) + "; " + HINT);

  return {
    version: VERSION,
    setup(p: any) {
      const c = mergeConfig(cfg, p);
      save(c);
      cfg = c;
      run();
    },
    show() { d._log(cfg ? JSON.stringify(maskConfig(cfg)) : NC) },
    status() {
      const s = link.status();
      if (!cfg) s.state = "unconfigured";
      return s;
    },
    start: start,
    stop: stop,
    clear() {
      stop();
      S.erase(F + 0); S.erase(F + 1);
      cfg = al = null;
      d._telnet(false); // back to the safe default, as at boot without a config
    },
    post(p: any) { return A().post(p) },
    event(i: string, p: any) { return A().event(i, p) },
    on(e: string, f: any) {
      if (!L[e] || typeof f != "function") throw Error("iot.on(" + Object.keys(L).join("|") + ", function)");
      L[e].push(f);
    },
    help() {
      d._log(("setup({" + FIELDS.join() + "}) show() status() start() stop() clear() post(params) event(id,params) on(" +
        Object.keys(L).join("|") + ",fn)").split(" ").map(c => "iot." + c).join("\n"));
    }
  };
};
