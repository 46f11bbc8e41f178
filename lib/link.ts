// The device link: Wi-Fi → TCP → MQTT session, keep-alive, QoS 1 queue, reconnect
// backoff and watchdog feeding. Pure state machine: clock, sockets and Wi-Fi are injected.
import { Backoff } from "./backoff";
import { MqttReader, encodeConnect, encodePublish, encodePuback, encodeSubscribe, encodePingreq, encodeDisconnect } from "./mqtt";

export interface Timers { set(fn: () => void, ms: number): any; clear(h: any): void }
export interface LinkSocket { write(bytes: string): void; end(): void }
export interface LinkEnv extends Timers {
  // `_` names: firmware-internal (device → link), minified to one letter
  _random(): number;
  // throws synchronously on DNS/connect failure; onOpen runs later (asynchronously);
  // callbacks never fire for a socket after end()
  _connect(host: string, port: number, onOpen: () => void, onData: (s: string) => void, onClose: () => void): LinkSocket;
  _wifiConnect(ssid: string, password: string, cb: (err: string | null) => void): void;
  _kick(): void;            // watchdog
  _free(): number;          // free JsVars
  _log(line: string): void; // never given secrets
}
export interface LinkSettings {
  keepAlive: number; queueLength: number; maxPacket: number; watchdogSeconds: number;
  offlineResetMinutes: number; connackTimeoutSeconds: number; pingTimeoutSeconds: number;
  wifiTimeoutSeconds: number; stableSeconds: number;
}
// password is the MQTT password (as credentials() returns it); _wifiPassword the Wi-Fi one.
// The `_` fields are the firmware's own (console → link): `_` names minify to one letter.
export interface Session {
  _ssid: string; _wifiPassword: string; host: string; port: number; clientId: string;
  username: string; password: string; _keepAlive: number; _topics: string[];
}
export interface Status {
  state: string; wifi: string; connects: number; reconnects: number; lastError: string;
  uptime: number; queue: number; dropped: number; free: number;
}
interface Item { i: number; b: string; d: number } // packet id, PUBLISH bytes, sent before
export interface Link {
  onMessage: (topic: string, payload: string) => void;
  onOnline: () => void;
  onOffline: () => void;
  start(s: Session): void;
  stop(): void;
  wifiLost(): void;
  publish(topic: string, payload: string, qos: 0 | 1): void;
  status(): Status;
  error(msg: string): void;
  _id: number; // last packet id (white-box tests set it)
}

const CONNACK = ["", "unacceptable protocol version", "identifier rejected", "server unavailable", "bad username or password", "not authorized"];
const text = (x: any) => "" + (x && x.message || x), ON = "online", CN = "connecting";

// A closure, not a class: state in locals minifies to one letter each, no `this.` anywhere
// (and none of Espruino's `this`-in-arrow traps). `new Link(..)` works too.
export function Link(env: LinkEnv, c: LinkSettings): Link {
  const f = () => {}, P = c.watchdogSeconds * 1000 / 3,
    h: { [k: string]: any } = {}, // timer handles by one-letter name; null when fired or cleared
    bn = Backoff(1000, 60000),    // network errors
    bl = Backoff(2000, 900000);   // refused credentials, twin login
  // session, state, Wi-Fi state, lastError, socket, reader, QoS 1 queue, connects, reconnects,
  // dropped, uptime (s), offline watchdog ticks, generation (stale callbacks), twin closes
  let s: Session | null = null, st = "unconfigured", wf = "off", le = "", so: LinkSocket | null = null,
    r: MqttReader, q: Item[] = [], cn = 0, rc = 0, dr = 0, up = 0, off = 0, g = 0, tw = 0;

  // (re)arm or clear (no fn) the named timer
  const T = (k: string, fn?: () => void, ms?: number) => {
    if (h[k] != null) env.clear(h[k]);
    h[k] = fn ? env.set(() => { h[k] = null; fn(); }, ms!) : null;
  };
  const error = (m: string) => {
    le = m;
    env._log("link: " + m);
  };
  // user callbacks must not throw into the socket callback
  const U = (fn: Function, a?: string, b?: string) => {
    try { fn(a, b); } catch (x) { error("callback: " + text(x)); }
  };
  const br = () => { bn.reset(); bl.reset(); tw = 0; };
  const wifi = () => {
    const G = ++g;
    st = "wifi"; wf = CN;
    T("c", () => down("wifi timeout"), c.wifiTimeoutSeconds * 1000);
    env._wifiConnect(s!._ssid, s!._wifiPassword, (err) => {
      if (G != g) return;
      if (err) down("wifi: " + err);
      else { wf = "up"; mqtt(); }
    });
  };
  const down = (err: string) => {
    wf = "down";
    if (s) drop(err);
  };
  const mqtt = () => {
    // socket callbacks: ignored once this socket is replaced or ended
    const S = s!, G = ++g, cb = (fn: (d?: any) => void) => (d?: any) => { if (G == g) fn(d); };
    st = CN;
    r = new MqttReader(c.maxPacket);
    T("c", () => drop("connack timeout"), c.connackTimeoutSeconds * 1000);
    try {
      so = env._connect(S.host, S.port,
        cb(() => w(encodeConnect(S.clientId, S.username, S.password, S._keepAlive))),
        cb((d) => inp(d, G)),
        cb(() => {
          // the platform closes the older of two logins with the same credentials. A twin's
          // login comes after its own backoff, which grows: count closes until 3 min stable.
          const t = st == ON && ++tw > 2;
          drop(t ? "3 closes soon after login: another device is probably using these credentials" : "socket closed", t);
        }));
    } catch (x) {
      drop("connect: " + text(x));
    }
  };
  // tear down the session (socket, reader, all timers but the watchdog's); true if it was online
  const end = (n: string) => {
    const x = so, on = st == ON;
    g++; so = null; st = n;
    for (const k in h) T(k);
    if (x) try { x.end(); } catch (e) { /* already closed */ }
    return on;
  };
  // onOffline runs last, once the link is consistent: it may call stop() or start()
  const O = (on: boolean) => { if (on) U(o.onOffline); };
  const drop = (err: string, long?: boolean) => {
    const on = end("backoff");
    error(err);
    rc++;
    T("b", () => wf == "up" ? mqtt() : wifi(), (long ? bl : bn).next(env._random()));
    O(on);
  };
  const w = (b: string) => {
    if (so) try {
      so.write(b);
      T("s", ping, s!._keepAlive * 500); // send-silence
    } catch (x) {
      drop("write: " + text(x));
    }
  };
  // one PINGREQ outstanding at most (send- and receive-silence may fall due together)
  const ping = () => {
    if (h.p == null) {
      w(encodePingreq());
      if (so) T("p", () => drop("ping timeout"), c.pingTimeoutSeconds * 1000);
    }
  };
  const inp = (d: string, G: number) => {
    T("p"); // any byte proves the link alive
    T("r", ping, s!._keepAlive * 500); // receive-silence
    try {
      r.push(d, (p) => { if (G == g) pkt(p); });
    } catch (x) {
      if (G == g) drop(text(x));
    }
  };
  const pkt = (p: any) => {
    const t = p.type, k = p.rc, tp = s!._topics;
    if (t == 2 && st == CN) {
      if (k) {
        const auth = k == 4 || k == 5;
        return drop("connack " + k + ": " + (CONNACK[k] || "refused") + (auth ? ", check deviceSecret" : ""), auth);
      }
      T("c");
      st = ON; cn++;
      T("z", br, c.stableSeconds * 1000); // stable (3 min): reset backoff and twin count
      if (tp.length) w(encodeSubscribe(nid(), tp, 1));
      for (const x of q) pub(x);
      if (st == ON) U(o.onOnline);
    }
    if (t == 3) {
      if (p.qos == 1) w(encodePuback(p.id));
      U(o.onMessage, p.topic, p.payload);
    }
    if (t == 4) q = q.filter((x) => x.i != p.id);
    if (t == 9 && p.granted.indexOf(128) >= 0) error("subscribe refused");
  };
  const pub = (x: Item) => {
    w(x.d ? String.fromCharCode(x.b.charCodeAt(0) | 8) + x.b.slice(1) : x.b);
    x.d = 1;
  };
  // next packet id: 1..65535, never one still queued
  const nid = () => {
    let i = o._id;
    do i = i % 65535 + 1; while (q.some((x) => x.i == i));
    return o._id = i;
  };

  const o: Link = {
    onMessage: f, onOnline: f, onOffline: f, _id: 0,
    start(x) {
      const on = end("wifi");
      s = x;
      br();
      wifi();
      O(on);
    },
    stop() {
      if (st == ON) w(encodeDisconnect());
      const on = end("stopped");
      s = null;
      O(on);
    },
    // ignored while connecting: Wifi.connect itself may report the old link's loss
    wifiLost() { if (wf == "up") down("wifi lost"); },
    publish(topic, payload, qos) {
      // b last: Espruino 2v29 lets a throw in a non-last object literal value escape try/catch
      const id = qos ? nid() : 0, on = st == ON,
        x = { i: id, d: 0, b: encodePublish(topic, payload, qos, id, false, c.maxPacket) };
      if (!qos) { if (on) w(x.b); return; } // QoS 0 offline: dropped, not counted
      if (q.length >= c.queueLength) { q.shift(); dr++; }
      q.push(x);
      if (on) pub(x);
    },
    status() {
      return {
        state: st, wifi: wf, connects: cn, reconnects: rc, lastError: le,
        uptime: Math.floor(up), queue: q.length, dropped: dr, free: env._free(),
      };
    },
    error: error,
  };
  // Permanent watchdog feeder (never cleared). It stops feeding only when configured
  // but offline for offlineResetMinutes (counted in ticks, immune to clock steps).
  const tick = () => {
    env.set(tick, P);
    up += P / 1000;
    off = s && st != ON ? off + 1 : 0;
    if (off * P < c.offlineResetMinutes * 60000) env._kick();
  };
  env._kick();
  env.set(tick, P);
  return o;
}
