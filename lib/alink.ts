// Alink thing model: property post/set, events, reply matching, NTP time sync.
import { utf8 } from "./bytes";
import { hex } from "./crypto";
import type { Timers } from "./link";

export interface AlinkHost { publish(topic: string, payload: string, qos: 0 | 1): void; error(msg: string): void }

// JSON text whose strings keep their chars (only `"`, `\` and < 0x20 escaped), so
// UTF-8 bytes survive; Espruino's JSON.stringify turns each byte >= 0x7F into \u00XX.
function enc(v: any, d: number): string {
  let s = "", k: any, a: any;
  if (typeof v == "string")
    // printable ASCII: native JSON.stringify gives the same text, fastest. Otherwise
    // each string is made UTF-8 bytes on its own (a byte string next to a Unicode one in
    // the Linux build stays as it is), then replace() escapes (native; keeps bytes)
    return /[^ -~]/.test(v) ? '"' + utf8(v).replace(/["\\\x00-\x1f]/g, c => "\\" + (c < " " ? "u00" + hex(c) : c)) + '"' : JSON.stringify(v);
  if (v && typeof v == "object") {
    // the depth limit also stops cycles
    if (d > 9) throw Error("json: over 10 deep");
    a = Array.isArray(v);
    for (k in v) s += (s ? "," : "") + (a ? "" : enc("" + k, d) + ":") + enc(v[k], d + 1);
    return a ? "[" + s + "]" : "{" + s + "}";
  }
  // numbers, booleans, null (isFinite takes true/null as numbers)
  if (isFinite(v)) return "" + v;
  throw Error("json: cannot encode " + typeof v);
}

/** JSON text as UTF-8 bytes; throws "json: …" for what JSON cannot carry. */
export const json = (v: any): string => enc(v, 0);

export function subscriptions(pk: string, dn: string): string[] {
  const s = "/sys/" + pk + "/" + dn + "/thing/";
  return [s + "service/property/set", s + "event/+/post_reply", "/ext/ntp/" + pk + "/" + dn + "/response"];
}

// Methods are closures over constructor locals: minified, `x` beats `this._x`.
export class Alink {
  declare post: (params: object) => string;
  declare event: (identifier: string, params: object) => string;
  declare message: (topic: string, payload: string) => void;
  declare online: () => void;
  declare stop: () => void;
  declare onSet: ((params: any) => any) | null;
  declare onReply: ((id: string, code: number, msg: any) => void) | null;
  declare _i: number;

  constructor(host: AlinkHost, timers: Timers, pk: string, dn: string, maxPacket: number,
              now: () => number, setTime: (seconds: number) => void) {
    // sub: [property set, post replies, NTP response]; ev: "/sys/{pk}/{dn}/thing/event/"
    const me = this, sub = subscriptions(pk, dn), ev = sub[1].slice(0, -12), clock = () => Math.floor(now());
    // ids: the last 16 posted ids (bounded: replies may never come);
    // timer: NTP timer (retry or daily); sent: deviceSendTime of the outstanding NTP request
    let ids: string[] = [], timer: any, sent: any;

    const post = (e: string, params: any): string => {
      if (!params || typeof params != "object" || Array.isArray(params)) throw Error("alink: params must be an object");
      const id = "" + (me._i % 4294967295 + 1), t = ev + e + "/post",
        p = json({ id: id, version: "1.0", params: params, method: "thing.event." + e + ".post" }),
        r = 4 + t.length + p.length,
        // whole PUBLISH: type byte, remaining length (1-3 bytes below 2 MB), topic length, topic, packet id, payload
        n = r + (r < 128 ? 2 : r < 16384 ? 3 : 4);
      if (n > maxPacket) throw Error("alink: packet of " + n + " bytes > maxPacket " + maxPacket);
      me._i = +id;
      if (ids.push(id) > 16) ids.shift();
      host.publish(t, p, 1);
      return id;
    };
    const stop = () => {
      if (timer != null) timers.clear(timer);
      timer = sent = null;
    };
    // (re)arm the NTP timer: a minute while a request is unanswered, a day after a sync
    const arm = (ms: number) => {
      stop();
      timer = timers.set(() => { timer = null; online() }, ms);
    };
    const online = () => {
      arm(6e4);
      sent = "" + clock();
      host.publish(sub[2].slice(0, -8) + "request", json({ deviceSendTime: sent }), 0);
    };

    me.onSet = me.onReply = null;
    me._i = 0; // last post id
    me.stop = stop;
    me.online = online;
    me.post = (params) => post("property", params);
    me.event = (id, params) => {
      if (typeof id != "string" || !/^\w+$/.test(id) || id.length > 50) throw Error("alink: bad event identifier " + id);
      return post(id, params);
    };
    me.message = (topic, payload) => {
      let m: any, c: any, r: any, i: any;
      try {
        m = JSON.parse(payload);
        // before any m.x: Espruino lets a throw inside an object literal escape try/catch
        if (!m || typeof m != "object") throw Error("not a JSON object");
        if (topic == sub[0]) {
          r = m.params;
          // 460: the platform's "request parameter error"
          c = !r || typeof r != "object" || Array.isArray(r) ? 460 : 200;
          if (c == 200 && me.onSet) try { r = me.onSet(r); if (typeof r == "number") c = r } catch (e) { c = 500 }
          host.publish(topic + "_reply", json({ id: m.id, code: c, data: {} }), 0);
          // the thing model expects accepted values to be reported back
          if (c == 200) me.post(m.params);
        } else if (topic.slice(-11) == "/post_reply") { // only ours arrive: we subscribe to no others
          i = ids.indexOf(r = "" + m.id);
          if (i < 0) return;
          ids.splice(i, 1);
          c = m.code;
          if (c != 200) host.error("post " + r + ": code " + c + " " + m.message);
          if (me.onReply) me.onReply(r, c, m);
        } else if (topic == sub[2]) {
          r = +m.serverRecvTime; c = +m.serverSendTime; i = sent;
          if ("" + m.deviceSendTime != i || !(r > 0 && c > 0)) return;
          sent = null;
          arm(864e5);
          setTime((r + c + clock() - i) / 2000);
        }
      } catch (e) {
        host.error("alink " + topic + ": " + (e as Error).message);
      }
    };
  }
}
