// Alink thing model: property post/set, events, reply matching, NTP time sync.
import { utf8 } from "./bytes";

// Same shape as Link's Timers (declared here so alink.ts stands alone).
interface Timers { set(fn: () => void, ms: number): any; clear(h: any): void }

export interface AlinkHost { publish(topic: string, payload: string, qos: 0 | 1): void; error(msg: string): void }

// JSON text; strings pass through unescaped (except `"`, `\`, < 0x20) so the
// bytes of UTF-8 text survive, unlike Espruino's JSON.stringify (\u00XX per byte).
function enc(v: any, d: number): string {
  let t = typeof v, s: string, k: any, c: number, i: number;
  if (t == "string") {
    s = '"';
    for (i = 0; i < v.length; i++) {
      c = v.charCodeAt(i);
      k = "\b\t\n\f\r".indexOf(v[i]);
      s += c == 34 || c == 92 ? "\\" + v[i] : c > 31 ? v[i] : k < 0 ? "\\u00" + (c < 16 ? "0" : "") + c.toString(16) : "\\" + "btnfr"[k];
    }
    return s + '"';
  }
  if (t == "number" && isFinite(v) || t == "boolean" || v === null) return String(v);
  if (t == "object") {
    // also stops cycles
    if (d > 9) throw new Error("json: nested deeper than 10 levels");
    s = "";
    if (Array.isArray(v)) {
      for (i = 0; i < v.length; i++) s += (i ? "," : "") + enc(v[i], d + 1);
      return "[" + s + "]";
    }
    for (k in v) s += (s ? "," : "") + enc(k, d) + ":" + enc(v[k], d + 1);
    return "{" + s + "}";
  }
  throw new Error("json: cannot encode " + (t == "number" ? v : t));
}

export function json(v: any): string { return utf8(enc(v, 0)) }

export function subscriptions(pk: string, dn: string): string[] {
  const s = "/sys/" + pk + "/" + dn + "/thing/";
  return [s + "service/property/set", s + "event/+/post_reply", "/ext/ntp/" + pk + "/" + dn + "/response"];
}

const DAY = 864e5;

export class Alink {
  _h: AlinkHost; _tm: Timers; _b: string; _n: string; _m: number; _now: () => number; _st: (s: number) => void;
  _i: number; _p: string[]; _t: any; _s: string | null;
  onSet: ((params: any) => any) | null;
  onReply: ((id: string, code: number, msg: any) => void) | null;

  constructor(host: AlinkHost, timers: Timers, pk: string, dn: string, maxPacket: number,
              now: () => number, setTime: (seconds: number) => void) {
    this._h = host; this._tm = timers; this._m = maxPacket; this._now = now; this._st = setTime;
    this._b = "/sys/" + pk + "/" + dn + "/thing/";
    this._n = "/ext/ntp/" + pk + "/" + dn + "/";
    this._i = 0; this._p = []; this._t = null; this._s = null;
    this.onSet = null; this.onReply = null;
  }

  post(params: object): string { return this._post("property", params) }

  event(identifier: string, params: object): string {
    if (!/^\w+$/.test(identifier) || identifier.length > 50) throw new Error("alink: event identifier must be 1-50 letters, digits or _");
    return this._post(identifier, params);
  }

  _post(e: string, params: any): string {
    if (!params || typeof params != "object" || Array.isArray(params)) throw new Error("alink: params must be an object");
    const id = "" + (this._i > 4294967294 ? 1 : this._i + 1);
    const t = this._b + "event/" + e + "/post";
    const p = json({ id: id, version: "1.0", params: params, method: "thing.event." + e + ".post" });
    // whole PUBLISH: type byte + remaining-length bytes + topic length + topic + packet id + payload
    const r = 4 + t.length + p.length, n = r + (r < 128 ? 2 : r < 16384 ? 3 : r < 2097152 ? 4 : 5);
    if (n > this._m) throw new Error("alink: packet of " + n + " bytes exceeds maxPacket " + this._m);
    this._i = +id;
    // remember only the last 16 ids so a lost reply can't grow memory
    if (this._p.push(id) > 16) this._p.shift();
    this._h.publish(t, p, 1);
    return id;
  }

  message(topic: string, payload: string): void {
    const b = this._b;
    let m: any, c: any, r: any, i: number;
    try {
      m = JSON.parse(payload);
      if (topic == b + "service/property/set") {
        c = 200;
        if (this.onSet) try { r = this.onSet(m.params); if (typeof r == "number") c = r } catch (e) { c = 500 }
        this._h.publish(topic + "_reply", json({ id: m.id, code: c, data: {} }), 0);
        if (c == 200) this.post(m.params);
      } else if (topic.indexOf(b + "event/") == 0 && topic.slice(-11) == "/post_reply") {
        i = this._p.indexOf("" + m.id);
        if (i < 0) return;
        this._p.splice(i, 1);
        c = m.code;
        if (c != 200) this._h.error("post " + m.id + ": code " + c + " " + m.message);
        if (this.onReply) this.onReply("" + m.id, c, m);
      } else if (topic == this._n + "response") {
        r = m.serverRecvTime; c = m.serverSendTime;
        if ("" + m.deviceSendTime != this._s || !/^\d+$/.test(r) || !/^\d+$/.test(c)) return;
        i = Math.floor(this._now());
        this._s = null;
        this._st((+r + +c + i - +m.deviceSendTime) / 2000);
      }
    } catch (e) {
      this._h.error("alink " + topic + ": " + (e as Error).message);
    }
  }

  online(): void {
    this.stop();
    this._t = this._tm.set(() => { this.online() }, DAY);
    this._s = "" + Math.floor(this._now());
    this._h.publish(this._n + "request", json({ deviceSendTime: this._s }), 0);
  }

  stop(): void {
    if (this._t != null) this._tm.clear(this._t);
    this._t = null; this._s = null;
  }
}
