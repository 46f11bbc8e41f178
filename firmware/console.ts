// The global `iot` console object; config persistence in Storage.
import { FIELDS, mergeConfig, validateConfig, maskConfig } from "../lib/config";
import { subscriptions } from "../lib/alink";

export interface Store {
  read(name: string): any; readJSON(name: string, noExceptions: boolean): any;
  writeJSON(name: string, v: any): any; erase(name: string): void;
}
export interface IotDeps {
  storage: Store;                          // require("Storage")
  link: any;                               // a Link
  alink(pk: string, dn: string): any;      // a new Alink on that link
  creds(cfg: any): any;                    // {host, port, clientId, username, password}
  keepAlive: number;                       // default from board.json
  log(line: string): void;
  telnet(on: boolean): void;
}

// Power-safe config: two slots "iot.cfg0"/"iot.cfg1", each {n: sequence, c: config}.
// A save writes n+1 into the slot NOT holding the current config, reads it back and
// compares, and only then erases the old slot. Power lost at any step leaves the old or
// the new file whole; boot takes the valid slot with the highest n.
const F = "iot.cfg";
const HINT = 'run iot.setup({ssid:"..",password:"..",productKey:"..",deviceName:"..",deviceSecret:".."})';

export function makeIot(d: IotDeps): any {
  // L: listeners per event, plain arrays (Espruino's .on/emit add visible "#on..." keys and deliver async)
  const S = d.storage, link = d.link, L: any = { online: [], offline: [], set: [], reply: [] };
  let cfg: any = null, seq = 0, cur = 0, al: any = null, why = "";

  // Calls every listener in order; the first number returned is the set reply code.
  // (A throw propagates: Link and Alink catch it, Alink answers 500.)
  function emit(e: string, a?: any, b?: any, c?: any): any {
    let r: any;
    L[e].forEach((f: any) => {
      const v = f(a, b, c);
      if (r == null && typeof v == "number") r = v;
    });
    return r == null ? 200 : r;
  }
  function A(): any {
    if (!cfg) throw new Error("iot: not configured; " + HINT);
    return al;
  }
  function stop() {
    link.stop();
    if (al) al.stop();
  }
  function start() {
    A();
    const c = cfg, k = d.creds(c);
    stop();
    al = d.alink(c.productKey, c.deviceName);
    al.onSet = (p: any) => emit("set", p);
    al.onReply = (i: any, n: any, m: any) => { emit("reply", i, n, m) };
    // k is {host, port, clientId, username, password (MQTT)}: completed into a Session
    link.start(Object.assign(k, {
      ssid: c.ssid, wifiPassword: c.password, keepAlive: c.keepAlive || d.keepAlive,
      topics: subscriptions(c.productKey, c.deviceName)
    }));
  }
  function run() {
    d.telnet(!!(cfg && cfg.telnet));
    if (cfg) start();
  }
  function save(c: any) {
    const t = cur ^ 1, f = F + t, o = { n: seq + 1, c: c };
    let ok = false;
    try {
      S.writeJSON(f, o);
      ok = JSON.stringify(S.readJSON(f, true)) == JSON.stringify(o);
    } catch (e) { }
    if (!ok) {
      S.erase(f);
      throw new Error("iot: Storage write failed");
    }
    S.erase(F + cur);
    cur = t; seq++;
  }

  link.onMessage = (t: string, p: string) => { if (al) al.message(t, p) };
  // one console line per transition, so a user watching the serial port sees the link
  link.onOnline = () => { d.log("iot: online"); if (al) al.online(); emit("online") };
  link.onOffline = () => { d.log("iot: offline (" + link.status().lastError + ")"); emit("offline") };

  // Boot: never throws. Parse errors are not echoed (they can quote the file's text).
  [0, 1].forEach(i => {
    if (S.read(F + i) === undefined) return;
    let o: any;
    try { o = S.readJSON(F + i, true) } catch (e) { }
    try {
      if (!o || typeof o.n != "number") throw new Error("unreadable");
      validateConfig(o.c);
      if (!cfg || o.n > seq) { cfg = o.c; seq = o.n; cur = i }
    } catch (e) { why = (e as Error).message }
  });
  // iot must exist even if the start fails, so the user can fix the config
  try { run() } catch (e) { d.log("iot: start failed: " + e) }
  if (!cfg) d.log("iot: " + (why ? "stored config bad (" + why + "); " : "not configured; ") + HINT);

  return {
    version: VERSION,
    setup(p: any) {
      const c = mergeConfig(cfg, p);
      save(c);
      cfg = c;
      run();
    },
    show() { d.log(cfg ? JSON.stringify(maskConfig(cfg)) : "iot: not configured") },
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
    },
    post(p: any) { return A().post(p) },
    event(i: string, p: any) { return A().event(i, p) },
    on(e: string, f: any) {
      if (!L[e] || typeof f != "function") throw new Error("iot.on(" + Object.keys(L).join("|") + ", function)");
      L[e].push(f);
    },
    help() {
      d.log(("setup({" + FIELDS.join() + "}) show() status() start() stop() clear() post(params) event(id,params) on(" +
        Object.keys(L).join("|") + ",fn)").split(" ").map(c => "iot." + c).join("\n"));
    }
  };
}
