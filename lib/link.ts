// The device link: Wi-Fi → TCP → MQTT session, keep-alive, QoS 1 queue, reconnect
// backoff and watchdog feeding. Pure state machine: clock, sockets and Wi-Fi are injected.
import { Backoff } from "./backoff";
import { MqttReader, encodeConnect, encodePublish, encodePuback, encodeSubscribe, encodePingreq, encodeDisconnect } from "./mqtt";

export interface Timers { set(fn: () => void, ms: number): any; clear(h: any): void }
export interface LinkSocket { write(bytes: string): void; end(): void }
export interface LinkEnv extends Timers {
  random(): number;
  // throws synchronously on DNS/connect failure; onOpen runs later (asynchronously);
  // callbacks never fire for a socket after end()
  connect(host: string, port: number, onOpen: () => void, onData: (s: string) => void, onClose: () => void): LinkSocket;
  wifiConnect(ssid: string, password: string, cb: (err: string | null) => void): void;
  kick(): void;            // watchdog
  free(): number;          // free JsVars
  log(line: string): void; // never given secrets
}
export interface LinkSettings {
  keepAlive: number; queueLength: number; maxPacket: number; watchdogSeconds: number;
  offlineResetMinutes: number; connackTimeoutSeconds: number; pingTimeoutSeconds: number;
}
// password is the MQTT password (as credentials() returns it); wifiPassword the Wi-Fi one
export interface Session {
  ssid: string; wifiPassword: string; host: string; port: number; clientId: string;
  username: string; password: string; keepAlive: number; topics: string[];
}
export interface Status {
  state: string; wifi: string; connects: number; reconnects: number; lastError: string;
  uptime: number; queue: number; dropped: number; free: number;
}
interface Item { i: number; b: string; d: number } // packet id, PUBLISH bytes, sent before

const CONNACK = ["", "unacceptable protocol version", "identifier rejected", "server unavailable", "bad username or password", "not authorized"];
const text = (x: any) => "" + (x && x.message || x), ON = "online";

export class Link {
  onMessage: (topic: string, payload: string) => void;
  onOnline: () => void;
  onOffline: () => void;
  _e: LinkEnv; _c: LinkSettings; _s!: Session | null; _st: string; _wf: string;
  _cn: number; _rc: number; _le: string; _dr: number; _up: number; _off: number;
  _h: { [k: string]: any }; _g: number; _so!: LinkSocket | null; _r!: MqttReader;
  _q: Item[]; _id: number; _bn: Backoff; _bl: Backoff; _tw: number;

  constructor(env: LinkEnv, settings: LinkSettings) {
    const f = () => {}, P = settings.watchdogSeconds * 1000 / 3;
    this.onMessage = this.onOnline = this.onOffline = f;
    this._e = env; this._c = settings;
    this._st = "unconfigured"; this._wf = "off"; this._le = "";
    this._cn = this._rc = this._dr = this._up = this._off = this._g = this._id = this._tw = 0;
    this._h = {}; // timer handles by one-letter name; null when fired or cleared
    this._q = [];
    this._bn = new Backoff(1000, 60000);     // network errors
    this._bl = new Backoff(2000, 900000);    // refused credentials, twin login
    // Permanent watchdog feeder (never cleared). It stops feeding only when configured
    // but offline for offlineResetMinutes (counted in ticks, immune to clock steps).
    const tick = () => {
      env.set(tick, P);
      this._up += P / 1000;
      this._off = this._s && this._st != ON ? this._off + 1 : 0;
      if (this._off * P < settings.offlineResetMinutes * 60000) env.kick();
    };
    env.kick();
    env.set(tick, P);
  }

  start(s: Session): void {
    const on = this._end("wifi");
    this._s = s;
    this._br();
    this._wifi();
    this._o(on);
  }

  stop(): void {
    if (this._st == ON) this._w(encodeDisconnect());
    const on = this._end("stopped");
    this._s = null;
    this._o(on);
  }

  wifiLost(): void {
    // ignored while connecting: Wifi.connect itself may report the old link's loss
    if (this._wf == "up") this._down("wifi lost");
  }

  publish(topic: string, payload: string, qos: 0 | 1): void {
    // b last: Espruino 2v29 lets a throw in a non-last object literal value escape try/catch
    const id = qos ? this._nid() : 0, on = this._st == ON,
      q = { i: id, d: 0, b: encodePublish(topic, payload, qos, id, false, this._c.maxPacket) };
    if (!qos) { if (on) this._w(q.b); return; } // QoS 0 offline: dropped, not counted
    if (this._q.length >= this._c.queueLength) { this._q.shift(); this._dr++; }
    this._q.push(q);
    if (on) this._pub(q);
  }

  status(): Status {
    return {
      state: this._st, wifi: this._wf, connects: this._cn, reconnects: this._rc, lastError: this._le,
      uptime: Math.floor(this._up), queue: this._q.length, dropped: this._dr, free: this._e.free(),
    };
  }

  error(msg: string): void {
    this._le = msg;
    this._e.log("link: " + msg);
  }

  // (re)arm or clear (no f) the named timer
  _t(k: string, f?: () => void, ms?: number): void {
    const h = this._h, e = this._e;
    if (h[k] != null) e.clear(h[k]);
    h[k] = f ? e.set(() => { h[k] = null; f(); }, ms!) : null;
  }

  // user callbacks must not throw into the socket callback
  _u(f: Function, a?: string, b?: string): void {
    try { f(a, b); } catch (x) { this.error("callback: " + text(x)); }
  }

  _br(): void {
    this._bn.reset(); this._bl.reset(); this._tw = 0;
  }

  _wifi(): void {
    const s = this._s!, g = ++this._g;
    this._st = "wifi"; this._wf = "connecting";
    this._t("c", () => this._down("wifi timeout"), 30000);
    this._e.wifiConnect(s.ssid, s.wifiPassword, (err) => {
      if (g != this._g) return;
      if (err) this._down("wifi: " + err);
      else { this._wf = "up"; this._mqtt(); }
    });
  }

  _down(err: string): void {
    this._wf = "down";
    if (this._s) this._drop(err);
  }

  _mqtt(): void {
    const me = this, s = this._s!, c = this._c, g = ++this._g,
      // socket callbacks: ignored once this socket is replaced or ended. `me`, not
      // `this`: Espruino mishandles `this` in an arrow nested in an expression-bodied one.
      cb = (f: (d?: any) => void) => (d?: any) => { if (g == me._g) f(d); };
    this._st = "connecting";
    this._r = new MqttReader(c.maxPacket);
    this._t("c", () => this._drop("connack timeout"), c.connackTimeoutSeconds * 1000);
    try {
      this._so = this._e.connect(s.host, s.port,
        cb(() => this._w(encodeConnect(s.clientId, s.username, s.password, s.keepAlive))),
        cb((d) => this._in(d, g)),
        cb(() => {
          // the platform closes the older of two logins with the same credentials. A twin's
          // login comes after its own backoff, which grows: count closes until 3 min stable.
          if (this._st == ON && ++this._tw > 2)
            this._drop("3 closes soon after login: another device is probably using these credentials", true);
          else this._drop("socket closed");
        }));
    } catch (x) {
      this._drop("connect: " + text(x));
    }
  }

  // tear down the session (socket, reader, all timers but the watchdog's); true if it was online
  _end(st: string): boolean {
    const s = this._so, on = this._st == ON;
    this._g++; this._so = null; this._st = st;
    for (const k in this._h) this._t(k);
    if (s) try { s.end(); } catch (x) { /* already closed */ }
    return on;
  }

  // onOffline runs last, once the link is consistent: it may call stop() or start()
  _o(on: boolean): void {
    if (on) this._u(this.onOffline);
  }

  _drop(err: string, long?: boolean): void {
    const on = this._end("backoff");
    this.error(err);
    this._rc++;
    this._t("b", () => this._wf == "up" ? this._mqtt() : this._wifi(), (long ? this._bl : this._bn).next(this._e.random()));
    this._o(on);
  }

  _w(b: string): void {
    const s = this._so;
    if (s) try {
      s.write(b);
      this._t("s", () => this._ping(), this._s!.keepAlive * 500); // send-silence
    } catch (x) {
      this._drop("write: " + text(x));
    }
  }

  // one PINGREQ outstanding at most (send- and receive-silence may fall due together).
  // `me`: an arrow using `this` in a skipped branch (`a && f(() => this…)`) aborts debug builds.
  _ping(): void {
    const me = this;
    if (me._h.p == null) {
      me._w(encodePingreq());
      if (me._so) me._t("p", () => me._drop("ping timeout"), me._c.pingTimeoutSeconds * 1000);
    }
  }

  _in(d: string, g: number): void {
    this._t("p"); // any byte proves the link alive
    this._t("r", () => this._ping(), this._s!.keepAlive * 500); // receive-silence
    try {
      this._r.push(d, (p) => { if (g == this._g) this._pkt(p); });
    } catch (x) {
      if (g == this._g) this._drop(text(x));
    }
  }

  _pkt(p: any): void {
    const t = p.type, rc = p.rc, s = this._s!.topics;
    if (t == 2 && this._st == "connecting") {
      if (rc) {
        const auth = rc == 4 || rc == 5;
        return this._drop("connack " + rc + ": " + (CONNACK[rc] || "refused") + (auth ? ", check deviceSecret" : ""), auth);
      }
      this._t("c");
      this._st = ON; this._cn++;
      this._t("z", () => this._br(), 180000); // stable for 3 min: reset backoff and twin count
      if (s.length) this._w(encodeSubscribe(this._nid(), s, 1));
      for (const q of this._q) this._pub(q);
      if (this._st == ON) this._u(this.onOnline);
    }
    if (t == 3) {
      if (p.qos == 1) this._w(encodePuback(p.id));
      this._u(this.onMessage, p.topic, p.payload);
    }
    if (t == 4) this._q = this._q.filter((q) => q.i != p.id);
    if (t == 9 && p.granted.indexOf(128) >= 0) this.error("subscribe refused");
  }

  _pub(q: Item): void {
    this._w(q.d ? String.fromCharCode(q.b.charCodeAt(0) | 8) + q.b.slice(1) : q.b);
    q.d = 1;
  }

  // next packet id: 1..65535, never one still queued
  _nid(): number {
    let i = this._id;
    do i = i % 65535 + 1; while (this._q.some((q) => q.i == i));
    return this._id = i;
  }
}
