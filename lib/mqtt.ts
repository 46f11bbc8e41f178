// MQTT 3.1.1 client codec on byte strings: the packets this firmware sends,
// and an incremental reader for the packets a broker sends to a client.
import { chr, utf8 } from "./bytes";

export type Packet =
  | { type: 2; sp: boolean; rc: number }
  | { type: 3; topic: string; payload: string; qos: number; id: number; dup: boolean; retain: boolean }
  | { type: 4 | 11; id: number }
  | { type: 9; id: number; granted: number[] }
  | { type: 13 };

const u16 = (n: number) => chr(n >> 8 & 255, n & 255);
const get16 = (s: string, i: number) => s.charCodeAt(i) << 8 | s.charCodeAt(i + 1);

function fail(m: string): never {
  throw Error("mqtt: " + m);
}

// length-prefixed UTF-8 string field
function str(s: string): string {
  s = utf8(s);
  if (s.length > 65535) fail("field over 65535 bytes");
  return u16(s.length) + s;
}

// throws if l bytes are over max
function big(l: number, max: number) {
  if (l > max) fail("packet over " + max + " bytes");
}

// fixed header + remaining length (1-4 bytes) + body; max (<= 268435455)
// limits the remaining length, i.e. the bytes after the fixed header
function pkt(h: number, b: string, max?: number): string {
  let l = b.length, o = chr(h);
  big(l, max!);
  do { o += chr(l > 127 ? l & 127 | 128 : l); l >>= 7 } while (l);
  return o + b;
}
/** CONNECT, clean session, no will; username and password always sent. */
export function encodeConnect(clientId: string, username: string, password: string, keepAlive: number): string {
  return pkt(16, "\0\x04MQTT\x04\xc2" + u16(keepAlive) + str(clientId) + str(username) + str(password));
}

/** PUBLISH; payload is a byte string; id and dup are ignored for QoS 0. */
export function encodePublish(topic: string, payload: string, qos: number, id: number, dup: boolean, max: number): string {
  return pkt(qos ? dup ? 58 : 50 : 48, str(topic) + (qos ? u16(id) : "") + payload, max);
}

export const encodePuback = (id: number) => "\x40\x02" + u16(id);

export function encodeSubscribe(id: number, topics: string[], qos: number): string {
  let b = u16(id);
  for (const t of topics) b += str(t) + chr(qos);
  return pkt(130, b);
}

export const encodePingreq = () => "\xc0\0";
export const encodeDisconnect = () => "\xe0\0";

/** Incremental reader: push() arbitrary chunks of socket data, get whole packets.
 * max limits the remaining length; malformed input throws "mqtt: …" and resets. */
export class MqttReader {
  // _b: unparsed bytes: a partial fixed header, or the body once _t is set;
  // _t: first header byte once the fixed header is complete, else 0 (or unset);
  // _n: remaining length once the fixed header is complete
  _m: number; _b: string; _t!: number; _n!: number;
  constructor(max: number) {
    this._m = max;
    this._b = "";
  }

  push(chunk: string, onPacket: (p: Packet) => void): void {
    const r = this;
    let b = r._b + chunk, t = r._t, n = r._n, i: number, m: number, d: any, p: any, T: number;
    // the state stays reset (so a throw leaves it reset) until we store it back
    r._b = ""; r._t = 0;
    for (;;) {
      if (!t) {
        if (!b) return;
        t = b.charCodeAt(0);
        // accepted: PUBLISH QoS 0/1; CONNACK, PUBACK, SUBACK, UNSUBACK, PINGRESP with flags 0
        if (t >> 4 == 3 ? t & 4 : t & 15 || !(10772 >> (t >> 4) & 1)) fail("bad header " + t);
        n = 0; i = 1; m = 1;
        do {
          if (i > 4) fail("bad remaining length");
          if (i >= b.length) { r._b = b; return } // wait for the rest of the header
          d = b.charCodeAt(i++);
          n += (d & 127) * m;
          m *= 128;
        } while (d > 127);
        big(n, r._m);
        b = b.slice(i);
      }
      if (b.length < n) { r._b = b; r._t = t; r._n = n; return }
      T = t >> 4;
      if (T == 3) {
        i = get16(b, 0) + 2;   // end of topic
        m = t >> 1 & 1;        // QoS
        d = i + 2 * m;         // start of payload
        p = { type: T, topic: b.slice(2, i), payload: b.slice(d, n), qos: m, id: m && get16(b, i), dup: (t & 8) > 0, retain: (t & 1) > 0 };
        d = d > n;
      } else {
        d = (T == 9 ? n < 3 : n != (T == 13 ? 0 : 2));
        p = T == 2 ? { type: T, sp: (b.charCodeAt(0) & 1) > 0, rc: b.charCodeAt(1) } : n ? { type: T, id: get16(b, 0) } : { type: T };
        if (T == 9) for (p.granted = [], i = 2; i < n;) p.granted.push(b.charCodeAt(i++));
      }
      if (d) fail("bad length, type " + T);
      // store the state before the callback, so a throwing onPacket loses nothing
      r._b = b = b.slice(n); t = 0;
      onPacket(p);
      r._b = "";
    }
  }
}
