// Alink thing model: property post/set, events, reply matching, NTP time sync.
import { utf8 } from "./bytes";
import { hex } from "./crypto";
import type { Timers } from "./link";

// Link fits. publish() throws for what it cannot send (Link: a PUBLISH over maxPacket):
// post() then throws that error and records nothing.
export interface AlinkHost { publish(topic: string, payload: string, qos: 0 | 1): void; error(message: string): void }

// JSON text whose strings keep their chars (only `"`, `\` and < 0x20 escaped), so
// UTF-8 bytes survive; Espruino's JSON.stringify turns each byte >= 0x7F into \u00XX.
function encodeJson(value: any, depth: number): string {
  let text = "", key: any, isArray: any;
  if (typeof value == "string")
    // printable ASCII: native JSON.stringify gives the same text, fastest. Otherwise
    // each string is made UTF-8 bytes on its own (a byte string next to a Unicode one in
    // the Linux build stays as it is), then replace() escapes (native; keeps bytes)
    return /[^ -~]/.test(value) ? '"' + utf8(value).replace(/["\\\x00-\x1f]/g, char => "\\" + (char < " " ? "u00" + hex(char) : char)) + '"' : JSON.stringify(value);
  if (value && typeof value == "object") {
    // the depth limit also stops cycles
    if (depth > 9) throw Error("json: over 10 deep");
    isArray = Array.isArray(value);
    for (key in value) text += (text ? "," : "") + (isArray ? "" : encodeJson("" + key, depth) + ":") + encodeJson(value[key], depth + 1);
    return isArray ? "[" + text + "]" : "{" + text + "}";
  }
  // numbers, booleans, null (isFinite takes true/null as numbers)
  if (isFinite(value)) return "" + value;
  throw Error("json: cannot encode " + typeof value);
}

/** JSON text as UTF-8 bytes; throws "json: …" for what JSON cannot carry. */
export const json = (value: any): string => encodeJson(value, 0);

/** The topics the link subscribes: [property set, post replies, NTP response]. */
export function subscriptions(productKey: string, deviceName: string): string[] {
  const thing = "/sys/" + productKey + "/" + deviceName + "/thing/";
  return [thing + "service/property/set", thing + "event/+/post_reply", "/ext/ntp/" + productKey + "/" + deviceName + "/response"];
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
  declare _lastId: number;

  constructor(host: AlinkHost, timers: Timers, productKey: string, deviceName: string,
              now: () => number, setTime: (seconds: number) => void) {
    const alink = this, topics = subscriptions(productKey, deviceName),
      eventTopic = topics[1].slice(0, -12), // "/sys/{productKey}/{deviceName}/thing/event/"
      clock = () => Math.floor(now());
    // pendingIds: the last 16 posted ids (bounded: replies may never come);
    // ntpTimer: retry or daily; ntpSent: deviceSendTime of the outstanding NTP request
    let pendingIds: string[] = [], ntpTimer: any, ntpSent: any;

    const post = (eventName: string, params: any): string => {
      if (!params || typeof params != "object" || Array.isArray(params)) throw Error("alink: params must be an object");
      const id = "" + (alink._lastId % 4294967295 + 1), topic = eventTopic + eventName + "/post",
        payload = json({ id: id, version: "1.0", params: params, method: "thing.event." + eventName + ".post" });
      // first: a post the host cannot send (too big) throws before the id is used
      host.publish(topic, payload, 1);
      alink._lastId = +id;
      if (pendingIds.push(id) > 16) pendingIds.shift();
      return id;
    };
    const stop = () => {
      if (ntpTimer != null) timers.clear(ntpTimer);
      ntpTimer = ntpSent = null;
    };
    // (re)arm the NTP timer: a minute while a request is unanswered, a day after a sync
    const armNtp = (ms: number) => {
      stop();
      ntpTimer = timers.set(() => { ntpTimer = null; online() }, ms);
    };
    const online = () => {
      armNtp(6e4);
      ntpSent = "" + clock();
      host.publish(topics[2].slice(0, -8) + "request", json({ deviceSendTime: ntpSent }), 0);
    };

    alink.onSet = alink.onReply = null;
    alink._lastId = 0;
    alink.stop = stop;
    alink.online = online;
    alink.post = (params) => post("property", params);
    alink.event = (identifier, params) => {
      if (typeof identifier != "string" || !/^\w+$/.test(identifier) || identifier.length > 50) throw Error("alink: bad event identifier " + identifier);
      return post(identifier, params);
    };
    alink.message = (topic, payload) => {
      // per topic: code and params/id/times of the message (locals are free, these are reused)
      let message: any, code: any, value: any, index: any;
      try {
        message = JSON.parse(payload);
        // before any message.x: Espruino lets a throw inside an object literal escape try/catch
        if (!message || typeof message != "object") throw Error("not a JSON object");
        if (topic == topics[0]) {
          value = message.params;
          // 460: the platform's "request parameter error"
          code = !value || typeof value != "object" || Array.isArray(value) ? 460 : 200;
          if (code == 200 && alink.onSet) try { value = alink.onSet(value); if (typeof value == "number") code = value } catch (thrown) { code = 500 }
          host.publish(topic + "_reply", json({ id: message.id, code: code, data: {} }), 0);
          // the thing model expects accepted values to be reported back
          if (code == 200) alink.post(message.params);
        } else if (topic.slice(-11) == "/post_reply") { // only ours arrive: we subscribe to no others
          index = pendingIds.indexOf(value = "" + message.id);
          if (index < 0) return;
          pendingIds.splice(index, 1);
          code = message.code;
          if (code != 200) host.error("post " + value + ": code " + code + " " + message.message);
          if (alink.onReply) alink.onReply(value, code, message);
        } else if (topic == topics[2]) {
          const serverRecv = +message.serverRecvTime, serverSend = +message.serverSendTime, sent = ntpSent;
          if ("" + message.deviceSendTime != sent || !(serverRecv > 0 && serverSend > 0)) return;
          ntpSent = null;
          armNtp(864e5);
          // docs/ALIYUN.md: (serverRecvTime + serverSendTime + deviceRecvTime - deviceSendTime) / 2, in ms
          setTime((serverRecv + serverSend + clock() - sent) / 2000);
        }
      } catch (thrown) {
        host.error("alink " + topic + ": " + (thrown as Error).message);
      }
    };
  }
}
