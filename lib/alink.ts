// Alink thing model: property post/set, events, reply matching, NTP time sync.
import { utf8 } from "./bytes";
import type { Timers } from "./link";
import type { Subscription } from "./mqtt";
import type { DeviceLog } from "./logs";

// Link fits. publish() throws for what it cannot send (Link: a PUBLISH over maxPacket):
// post() then throws that error and records nothing.
export interface AlinkHost {
  publish(topic: string, payload: string, qos: 0 | 1): void;
  error(message: string): void;
}

// JSON text as UTF-8 bytes, JSON.stringify's text for what it encodes exactly. Members that
// are undefined or functions are left out of objects (null in arrays), as JSON.stringify
// does; NaN, Infinity, a top-level undefined or function, and cycles throw "json: …".
// Strings keep their chars (only `"`, `\` and < 0x20 escaped), so UTF-8 bytes survive:
// Espruino's JSON.stringify turns each byte >= 0x80 into \u00XX, which is not UTF-8 text.
// 1 where the native encoder escapes every char outside printable ASCII (Espruino: "\x80" is
// "\u0080", 8 chars; Node leaves it as it is, 3 chars), else 0: tested once, not per post (1 %
// of a post's CPU on the device, for a JsVar)
const nativeEscapesAll = JSON.stringify("\x80").length > 3 ? 1 : 0;
export function json(value: any): string {
  let text: any;
  if (value && typeof value == "object") {
    // Fast path (a post of numbers and plain ASCII text): the native encoder's text, taken
    // when it is exactly ours: printable ASCII with no escape at all (Espruino escapes each
    // byte >= 0x80 of UTF-8 text, engines differ in how they escape control chars), no null
    // (perhaps from NaN or Infinity) and no "..." (Espruino's mark for a cycle; Node throws).
    // Otherwise the exact encoder, several times slower on the device: a function of its own,
    // so that a post does not lex its text (Espruino lexes all of a function's text at each call).
    // The tests: indexOf, native (Espruino 2v29's String.indexOf also matches a needle cut off
    // at the end of the string, but this text ends with "}", and a false hit only takes the
    // exact encoder); the regex only where the native encoder leaves non-ASCII unescaped
    // (nativeEscapesAll 0: Node): Espruino's regex engine costs thousands of instructions per
    // char (docs/ESPRUINO.md §9).
    try {
      text = JSON.stringify(value);
    } catch (ignored) {}
    if (
      text &&
      text.indexOf("\\") < 0 &&
      text.indexOf("null") < 0 &&
      text.indexOf("...") < 0 &&
      (nativeEscapesAll || !/[^ -~]/.test(text))
    )
      return text;
  }
  return exactJson(value, 0);
}

// json() without the fast path (depth: for the recursion)
function exactJson(value: any, depth: number): string {
  let text: any = "",
    key: any,
    member: any,
    isArray: any;
  if (typeof value == "string")
    // printable ASCII: native JSON.stringify gives the same text, fastest. Otherwise
    // each string is made UTF-8 bytes on its own (a byte string next to a Unicode one in
    // the Linux build stays as it is), then replace() escapes (native; keeps bytes)
    return /[^ -~]/.test(value)
      ? '"' +
          utf8(value).replace(
            /["\\\x00-\x1f]/g,
            (char) => "\\" + (char < " " ? "u00" + (256 + char.charCodeAt(0)).toString(16).slice(1) : char),
          ) +
          '"'
      : JSON.stringify(value);
  if (value && typeof value == "object") {
    // the depth limit also stops cycles
    depth++;
    if (depth > 10) throw Error("json: over 10 deep");
    isArray = Array.isArray(value);
    for (key in value) {
      member = value[key];
      if (member === undefined || typeof member == "function") {
        if (!isArray) continue;
        member = null;
      }
      text += (text ? "," : "") + (isArray ? "" : exactJson("" + key, depth) + ":") + exactJson(member, depth);
    }
    return isArray ? "[" + text + "]" : "{" + text + "}";
  }
  // numbers, booleans, null (isFinite takes true/null as numbers)
  if (isFinite(value)) return "" + value;
  throw Error("json: cannot encode " + typeof value);
}

/** The topic filters the link subscribes, each with its QoS: [property set, post replies, NTP
 * response, services, synchronous services (RRPC over /ext/rrpc), classic RRPC requests, log
 * config reply and push]. Under MQTT's rules `thing/service/+` matches one level only, so it
 * does not cover `thing/service/property/set` (two levels): both are subscribed, and no message
 * matches two filters. Answers to the device's own requests (post replies, NTP, the log
 * config reply) at QoS 0, as Alibaba's device SDKs subscribe them (e.g. espressif/esp-mdf's
 * aliyun_subscribe.c): the device sends no PUBACK per reply, and with a clean session QoS 1
 * would redeliver nothing after a drop anyway. Requests from the cloud at QoS 1. */
export function subscriptions(productKey: string, deviceName: string): Subscription[] {
  const device = productKey + "/" + deviceName,
    thing = "/sys/" + device + "/thing/";
  return [
    [thing + "service/property/set", 1],
    [thing + "event/+/post_reply", 0],
    ["/ext/ntp/" + device + "/response", 0],
    [thing + "service/+", 1],
    ["/ext/rrpc/+" + thing + "service/+", 1],
    ["/sys/" + device + "/rrpc/request/+", 1],
    [thing + "config/log/get_reply", 0],
    [thing + "config/log/push", 1],
  ];
}

// An Alink: made by Alink(...) (a plain function, not a class: a class costs about 7 JsVars
// more on Espruino, its prototype and the names that link it). Methods are closures over the
// function's locals: minified, `x` beats `this._x`.
export interface Alink {
  // event(identifier, params), or event(params): a property post
  event: (identifierOrParams: any, params?: object) => string;
  message: (topic: string, payload: string) => void;
  // true: the session is online (NTP now and daily, the log switch asked); false: offline or
  // stopped (no NTP timer). One function for both: each function is resident.
  setOnline: (online: boolean) => void;
  // The application's handler, one function for every event (RAM: one closure, not four):
  //   on("set", params): a number return is the reply code (else 200)
  //   on("reply", id, code, message): a post_reply to one of our posts
  //   on("service", identifier, params): an object return is the reply's data (code 200), a
  //     number the code
  //   on("rrpc", payload): classic RRPC, the return is the response payload (a string, else
  //     its JSON); null or undefined: no response
  // No handler (null): sets are accepted (200), services answer 404, RRPC gets no response.
  on: ((event: string, first?: any, second?: any, third?: any) => any) | null;
  _lastId: number;
}

// What every Alink works with, the same for all of them: the link it publishes on, the timers,
// the wall clock (ms) and its setter (seconds), the device log (optional). Module-level, set
// once by alinkHost() (main.ts calls it once: the build inlines the call, so the function is
// not resident), not parameters of each Alink: each parameter of a resident function costs a
// JsVar, and so did the wrapper that passed them.
let sharedHost: AlinkHost,
  timers: Timers,
  now: () => number,
  setTime: (seconds: number) => void,
  logs: DeviceLog | undefined;
export function alinkHost(
  host: AlinkHost,
  timerFunctions: Timers,
  clock: () => number,
  setClock: (seconds: number) => void,
  deviceLog?: DeviceLog,
) {
  sharedHost = host;
  timers = timerFunctions;
  now = clock;
  setTime = setClock;
  logs = deviceLog;
}

// Alink's log gates (bits; numeric constants: the build inlines them)
const ONLINE = 1,
  SYNCED = 2,
  LOGS_ON = 4;

// A new Alink for a device, on alinkHost()'s host.
export function Alink(productKey: string, deviceName: string): Alink {
  // the host, used by every post and reply, in this scope (a global is found by a walk of the
  // root scope's names, docs/ESPRUINO.md §7); the rest, used rarely, stays global
  // Topics: one is kept, a post's, built once (5 JsVars on the ESP32, for six concatenations
  // less per post); the others are built where they are used. Rare work (services, RRPC, NTP
  // replies, the log switch) is in request().
  const host = sharedHost,
    postTopic = "/sys/" + productKey + "/" + deviceName + "/thing/event/property/post";
  const alink = {} as Alink;
  // pendingIds: the last 32 posted ids (bounded: replies may never come). Twice board.json's
  // queueLength: the posts queued for a PUBACK plus those acknowledged and awaiting their
  // reply (with 16, a reply after an outage could find its id already forgotten);
  // ntpTimer: retry or daily; ntpSent: deviceSendTime of the outstanding NTP request;
  // logGates: the bits that let log posts go, all three needed: ONLINE, SYNCED (the clock was
  // set by NTP), LOGS_ON (the platform's log switch). One number, and undefined for none: in a
  // scope a number or undefined costs one JsVar, a boolean or null two (docs/ESPRUINO.md §7)
  let pendingIds: string[] = [],
    ntpTimer: any,
    ntpSent: any,
    logGates = LOGS_ON;

  // NTP: stops the timer; ms: (re)arms it (a minute while a request is unanswered, a day
  // after a sync); request: asks for the time now. The timer calls ntp(6e4, 1, true) itself
  // (setTimeout's arguments; fired: its handle is spent, Espruino may reuse it): no closure
  // made per timer, which would keep this call's scope for a day.
  const ntp = (ms: number, request?: any, fired?: boolean) => {
    if (ntpTimer != null && !fired) timers.clear(ntpTimer);
    ntpTimer = ntpSent = undefined;
    if (ms) ntpTimer = timers.set(ntp, ms, 6e4, 1, true);
    if (request)
      host.publish(
        "/ext/ntp/" + productKey + "/" + deviceName + "/request",
        json({ deviceSendTime: (ntpSent = "" + Math.floor(now())) }),
        0,
      );
  };
  // Log entries go out only online, with real timestamps and while the platform wants them.
  // QoS 0 and "ack":0 as the platform's log service has it: a lost post loses its lines.
  const flushLogs = () => {
    if (logs && logGates == ONLINE + SYNCED + LOGS_ON)
      try {
        const params = logs._take();
        if (params)
          host.publish(
            "/sys/" + productKey + "/" + deviceName + "/thing/log/post",
            '{"id":"' +
              (alink._lastId = (alink._lastId % 4294967295) + 1) +
              '","version":"1.0","sys":{"ack":0},"params":' +
              params +
              ',"method":"thing.log.post"}',
            0,
          );
      } catch (thrown) {
        host.error("log: " + (thrown as Error).message);
      }
  };

  alink.on = null;
  alink._lastId = 0;
  alink.setOnline = (online) => {
    logGates = online ? logGates | ONLINE : logGates & ~ONLINE;
    if (!online) return ntp(0);
    ntp(6e4, 1);
    // the platform's log switch (docs/ALIYUN.md §8): the Link SDK asks at every connect,
    // without "sys" so that the reply comes
    if (logs)
      host.publish(
        "/sys/" + productKey + "/" + deviceName + "/thing/config/log/get",
        json({
          id: "" + (alink._lastId = (alink._lastId % 4294967295) + 1),
          version: "1.0",
          params: { configScope: "device", getType: "content" },
          method: "thing.config.log.get",
        }),
        0,
      );
  };
  if (logs) logs._flush = flushLogs;
  // event(identifier, params), or event(params): a property post (the console's iot.post and
  // iot.event are this one function: a call less per post)
  alink.event = (identifier: any, params?: any) => {
    let text: any;
    // (no identifier, params alone: a post; event(null, {}) is a bad identifier, post(null) bad params)
    if (typeof identifier != "string" && params === undefined) {
      params = identifier;
      identifier = "property";
    } else if (
      // (a post, "property", needs no check: a regex test less per post)
      identifier !== "property" &&
      (typeof identifier != "string" || !/^\w+$/.test(identifier) || identifier.length > 50)
    )
      throw Error("alink: bad event identifier " + identifier);
    // an array's JSON starts with "[" (no Array.isArray: a walk of the root scope's names to find
    // Array, docs/ESPRUINO.md §7)
    if (!params || typeof params != "object" || (text = json(params))[0] != "{")
      throw Error("alink: params must be an object");
    const id = "" + ((alink._lastId % 4294967295) + 1);
    // first: a post the host cannot send (too big) throws before the id is used
    host.publish(
      identifier === "property"
        ? postTopic
        : "/sys/" + productKey + "/" + deviceName + "/thing/event/" + identifier + "/post",
      // the envelope written as text: only the params go through json() (its fast path scans
      // the native encoder's text, char by char on the device)
      '{"id":"' + id + '","version":"1.0","params":' + text + ',"method":"thing.event.' + identifier + '.post"}',
      1,
    );
    alink._lastId = +id;
    if (pendingIds.push(id) > 32) pendingIds.shift();
    return id;
  };
  // The most common message, a reply to one of our posts (only ours arrive: we subscribe to
  // no others), is told by its end (no topic string built) and handled here; every other
  // message goes to request(), whose text is long: Espruino lexes all of a function's text
  // at each call, so it is not lexed for every post. A malformed message or a throwing
  // handler is reported here, for both.
  alink.message = (topic, payload) => {
    let message: any, index: any, id: any, code: any;
    try {
      if (!topic.endsWith("/post_reply")) return request(topic, payload);
      message = JSON.parse(payload);
      // before any message.x: Espruino lets a throw inside an object literal escape try/catch
      if (!message || typeof message != "object") throw Error("not a JSON object");
      index = pendingIds.indexOf((id = "" + message.id));
      if (index < 0) return;
      pendingIds.splice(index, 1);
      code = message.code;
      if (code != 200) host.error("post " + id + ": code " + code + " " + message.message);
      if (alink.on) alink.on("reply", id, code, message);
    } catch (thrown) {
      host.error("alink " + topic + ": " + (thrown as Error).message);
    }
  };
  // a request from the cloud: property set, service, RRPC; or an NTP reply, the log switch.
  // What it throws, message() reports.
  const request = (topic: string, payload: string) => {
    // per topic: code and params/id/times of the message (locals are free, these are reused)
    let message: any, code: any, value: any, identifier: any, data: any, reply: any, rest: any;
    const rrpcRequest = "/sys/" + productKey + "/" + deviceName + "/rrpc/request/",
      thing = "/sys/" + productKey + "/" + deviceName + "/thing/";
    // classic RRPC: any payload, answered with the handler's text at QoS 0 (docs/ALIYUN.md §5)
    if (topic.startsWith(rrpcRequest)) {
      value = topic.slice(rrpcRequest.length);
      if (alink.on && value && value.split("/").length == 1) {
        reply = alink.on("rrpc", payload);
        if (reply != null)
          host.publish(
            "/sys/" + productKey + "/" + deviceName + "/rrpc/response/" + value,
            typeof reply == "string" ? reply : json(reply),
            0,
          );
      }
      return;
    }
    message = JSON.parse(payload);
    // before any message.x: Espruino lets a throw inside an object literal escape try/catch
    if (!message || typeof message != "object") throw Error("not a JSON object");
    // services: asynchronous on thing/service/{identifier} (reply on + "_reply"), synchronous
    // on /ext/rrpc/{rrpcId}/sys/.../thing/service/{identifier} (reply on the same topic):
    // the identifier is what follows thing/service/, one level, not a reply
    rest = topic.startsWith("/ext/rrpc/") ? topic.slice(10 + topic.slice(10).split("/")[0].length) : topic;
    identifier = rest.startsWith(thing + "service/") ? rest.slice(thing.length + 8) : "";
    if (identifier && identifier.split("/").length == 1 && !identifier.endsWith("_reply")) {
      // a message with a code is a reply (ours, echoed by a broker), not a request
      if (message.code != null) return;
      value = message.params;
      code = !value || typeof value != "object" || Array.isArray(value) ? 460 : 404;
      data = {};
      try {
        if (code == 404 && alink.on) {
          value = alink.on("service", identifier, value);
          if (typeof value == "number") code = value;
          else {
            code = 200;
            if (value && typeof value == "object") data = value;
          }
        }
        reply = json({ id: message.id, code: code, data: data });
      } catch (thrown) {
        reply = json({ id: message.id, code: 500, data: {} });
      }
      if (!message.sys || message.sys.ack !== 0)
        host.publish(topic.startsWith("/ext/") ? topic : topic + "_reply", reply, 0);
    } else if (topic == thing + "service/property/set") {
      value = message.params;
      // 460: the platform's "request parameter error"
      code = !value || typeof value != "object" || Array.isArray(value) ? 460 : 200;
      if (code == 200 && alink.on)
        try {
          value = alink.on("set", value);
          if (typeof value == "number") code = value;
        } catch (thrown) {
          code = 500;
        }
      host.publish(topic + "_reply", json({ id: message.id, code: code, data: {} }), 0);
      // the thing model expects accepted values to be reported back
      if (code == 200) alink.event("property", message.params);
    } else if (topic.startsWith("/ext/ntp/")) {
      const serverRecv = +message.serverRecvTime,
        serverSend = +message.serverSendTime,
        sent = ntpSent;
      if ("" + message.deviceSendTime != sent || !(serverRecv > 0 && serverSend > 0)) return;
      ntp(864e5);
      // docs/ALIYUN.md: (serverRecvTime + serverSendTime + deviceRecvTime - deviceSendTime) / 2, in ms
      value = (serverRecv + serverSend + Math.floor(now()) - sent) / 2;
      // entries logged before the first sync carry the old clock: shift them by the step
      if (logs) logs._take(value - now());
      setTime(value / 1000);
      logGates |= SYNCED;
      flushLogs();
    } else if (topic == thing + "config/log/get_reply" || topic == thing + "config/log/push") {
      // get_reply {data: {content: {mode}}} or push {params: {content: {mode}}}: 0 = off
      value = message.data || message.params;
      value = value && value.content;
      if (value && typeof value.mode == "number") {
        logGates = value.mode != 0 ? logGates | LOGS_ON : logGates & ~LOGS_ON;
        flushLogs();
      }
    }
  };
  return alink;
}
