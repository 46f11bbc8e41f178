// The platform's side of services, RRPC and device logs (docs/ALIYUN.md §5, §8), written from
// the docs like the rest of the emulator, never from lib/:
// - callService: cloud -> device thing/service/<identifier>; async waits for the device's
//   `_reply`, sync (RRPC) publishes on /ext/rrpc/<rrpcId>/sys/... and waits for the reply on the
//   same topic. Resolves {id, code, data}.
// - rrpc: classic RRPC, /sys/pk/dn/rrpc/request/<messageId> -> the device's
//   /sys/pk/dn/rrpc/response/<messageId>; resolves the response payload as text.
// - thing/log/post: every device log post is checked strictly against the documented shape and
//   reported as a 'log' event {productKey, deviceName, id, entries, errors} (errors empty when valid).
// - thing/config/log/get is answered on get_reply with the device's log switch (mode 1 unless
//   setLogMode said otherwise); setLogMode also pushes it on thing/config/log/push.
// Events: service_reply, rrpc_reply, log, log_config_get.
import type { Context } from "./context";
import { who, nameOf, type Connections, type Conn } from "./connection";
import { findDevice } from "./registry";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const LEVELS = ["FATAL", "ERROR", "WARN", "INFO", "DEBUG"];
// yyyy-MM-dd'T'HH:mm:ss.SSS and a zone (Z or +hhmm), as the docs' example has it
const UTC_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d{4})$/;

export interface ServiceReply {
  id: string;
  code: number;
  data: any;
}

export interface CallServiceOptions {
  /** synchronous call (RRPC over /ext/rrpc); default asynchronous */
  sync?: boolean;
  /** real ms to wait for the reply (default 5000; the platform's RRPC waits at most 8 s) */
  timeout?: number;
  /** adds "sys":{"ack":0}: the device must not reply, the promise resolves null after timeout */
  noAck?: boolean;
}

export interface LogPost {
  productKey?: string;
  deviceName?: string;
  id: unknown;
  entries: any[];
  /** what is wrong with the post's shape; empty when it is valid */
  errors: string[];
}

/** Everything wrong with a thing/log/post payload (empty: valid), and its entries. */
export function checkLogPost(text: string): { message: any; errors: string[] } {
  const errors: string[] = [];
  let m: any;
  try {
    m = JSON.parse(text);
  } catch (e) {
    return { message: undefined, errors: ["not JSON: " + (e as Error).message] };
  }
  if (!m || typeof m !== "object" || Array.isArray(m)) return { message: m, errors: ["not a JSON object"] };
  const known = ["id", "version", "sys", "params", "method"];
  for (const k of Object.keys(m)) if (!known.includes(k)) errors.push("unknown member " + k);
  if (typeof m.id !== "string" || !/^\d{1,10}$/.test(m.id)) errors.push("id must be a string of digits");
  if (m.version !== "1.0") errors.push('version must be "1.0"');
  if (JSON.stringify(m.sys) !== '{"ack":0}') errors.push('sys must be {"ack":0}');
  if (m.method !== "thing.log.post") errors.push('method must be "thing.log.post"');
  if (!Array.isArray(m.params) || !m.params.length) errors.push("params must be a non-empty array");
  else {
    m.params.forEach((e: any, i: number) => {
      const at = "params[" + i + "]: ";
      if (!e || typeof e !== "object" || Array.isArray(e)) return errors.push(at + "not an object");
      for (const k of Object.keys(e))
        if (!["utcTime", "logLevel", "module", "code", "logContent", "traceContext"].includes(k))
          errors.push(at + "unknown member " + k);
      if (
        typeof e.utcTime !== "string" ||
        !UTC_TIME.test(e.utcTime) ||
        Number.isNaN(Date.parse(e.utcTime.replace(/([+-]\d\d)(\d\d)$/, "$1:$2")))
      )
        errors.push(at + "utcTime must be yyyy-MM-ddTHH:mm:ss.SSS with a zone");
      if (!LEVELS.includes(e.logLevel)) errors.push(at + "logLevel must be one of " + LEVELS.join(", "));
      for (const k of ["module", "code", "logContent"])
        if (typeof e[k] !== "string") errors.push(at + k + " must be a string");
      if (typeof e.logContent === "string" && Buffer.byteLength(e.logContent) > 4096)
        errors.push(at + "logContent over 4096 bytes");
    });
  }
  return { message: m, errors };
}

interface Waiting {
  resolve: (v: any) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Services {
  private readonly ctx: Context;
  private readonly conns: Connections;
  private readonly send: (topic: string, obj: unknown, qos: 0 | 1) => void;
  /** requests waiting for the device, by reply topic + id (classic RRPC: by response topic) */
  private readonly waiting = new Map<string, Waiting>();
  /** the log switch per pk/dn (default 1: on) */
  private readonly logModes = new Map<string, number>();
  private nextId = 1;

  constructor(ctx: Context, conns: Connections, send: (topic: string, obj: unknown, qos: 0 | 1) => void) {
    this.ctx = ctx;
    this.conns = conns;
    this.send = send;
  }

  private check(pk: string, dn: string): Error | null {
    if (!findDevice(this.ctx.devices, pk, dn)) return new Error("emulator: unknown device " + pk + "/" + dn);
    if (!this.ctx.broker || !this.conns.online(pk, dn))
      return new Error("emulator: device " + pk + "/" + dn + " is offline");
    return null;
  }

  private wait(key: string, timeout: number, what: string, onTimeout?: () => void): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        if (onTimeout) {
          onTimeout();
          resolve(null);
        } else reject(new Error("emulator: no " + what + " within " + timeout + " ms"));
      }, timeout);
      this.waiting.set(key, { resolve, reject, timer });
    });
  }

  private settle(key: string, value: any): boolean {
    const w = this.waiting.get(key);
    if (!w) return false;
    this.waiting.delete(key);
    clearTimeout(w.timer);
    w.resolve(value);
    return true;
  }

  /** Cloud -> device service call; resolves the device's reply {id, code, data} (null with noAck once the timeout passed without a reply). */
  callService(
    pk: string,
    dn: string,
    identifier: string,
    params: Record<string, any>,
    o: CallServiceOptions = {},
  ): Promise<ServiceReply | null> {
    const err = this.check(pk, dn);
    if (err) return Promise.reject(err);
    const id = String(this.nextId++);
    const service = "/sys/" + pk + "/" + dn + "/thing/service/" + identifier;
    const topic = o.sync ? "/ext/rrpc/" + Date.now() + id + service : service;
    const replyTopic = o.sync ? topic : topic + "_reply";
    const timeout = o.timeout || 5000;
    const p = this.wait(replyTopic + "#" + id, timeout, "reply on " + replyTopic, o.noAck ? () => {} : undefined);
    const request: any = { id, version: "1.0", params, method: "thing.service." + identifier };
    if (o.noAck) request.sys = { ack: 0 };
    this.send(topic, request, 0);
    return p;
  }

  /** Classic RRPC; resolves the device's response payload (text). */
  rrpc(pk: string, dn: string, payload: string, timeout = 8000): Promise<string> {
    const err = this.check(pk, dn);
    if (err) return Promise.reject(err);
    const messageId = String(Date.now()) + this.nextId++;
    const p = this.wait("/sys/" + pk + "/" + dn + "/rrpc/response/" + messageId, timeout, "RRPC response " + messageId);
    const b = this.ctx.broker;
    this.ctx.log("send /sys/" + pk + "/" + dn + "/rrpc/request/" + messageId + " qos=0: " + payload);
    // the payload is the caller's bytes, not JSON
    setImmediate(() => {
      if (b && !b.closed)
        b.publish(
          {
            cmd: "publish",
            topic: "/sys/" + pk + "/" + dn + "/rrpc/request/" + messageId,
            payload: Buffer.from(payload),
            qos: 0,
            retain: false,
            dup: false,
          },
          () => {},
        );
    });
    return p;
  }

  /** The device's log switch (console "device local log reporting"): pushed at once, answered to later gets. */
  setLogMode(pk: string, dn: string, mode: 0 | 1): void {
    this.logModes.set(pk + "/" + dn, mode);
    this.send(
      "/sys/" + pk + "/" + dn + "/thing/config/log/push",
      {
        id: String(this.nextId++),
        version: "1.0",
        params: { getType: "content", content: { mode } },
        method: "thing.config.log.push",
      },
      0,
    );
  }

  /** Handles a device publish of this module's topics; false if the topic is not one of them. */
  onDevicePublish(s: Conn, topic: string, payload: Buffer): boolean {
    const { log, emit } = this.ctx;
    const pk = s.productKey as string;
    const dn = s.deviceName as string;
    const sys = "/sys/" + pk + "/" + dn + "/";
    let text = "";
    try {
      text = utf8.decode(payload);
    } catch {
      text = payload.toString("latin1");
    }
    const json = () => {
      try {
        return JSON.parse(text);
      } catch {
        return undefined;
      }
    };
    if (topic.startsWith(sys + "rrpc/response/")) {
      emit("rrpc_reply", { ...who(s), topic, payload: text });
      if (!this.settle(topic, text)) log("rrpc response " + nameOf(s) + " nobody waits for: " + topic);
      return true;
    }
    const sync = /^\/ext\/rrpc\/[^/]+(\/sys\/.*)$/.exec(topic);
    const asyncReply =
      topic.startsWith(sys + "thing/service/") &&
      topic.endsWith("_reply") &&
      topic !== sys + "thing/service/property/set_reply";
    if (sync || asyncReply) {
      const m = json();
      const reply =
        m && typeof m === "object"
          ? { id: m.id, code: m.code, data: m.data }
          : { id: undefined, code: undefined, data: undefined };
      emit("service_reply", { ...who(s), topic, sync: !!sync, ...reply });
      if (!this.settle(topic + "#" + reply.id, reply))
        log("service reply " + nameOf(s) + " nobody waits for: " + topic + " id " + reply.id);
      return true;
    }
    if (topic === sys + "thing/log/post") {
      const { message, errors } = checkLogPost(text);
      const entries = message && Array.isArray(message.params) ? message.params : [];
      if (errors.length) log("log post " + nameOf(s) + " INVALID: " + errors.join("; "));
      emit("log", { ...who(s), id: message?.id, entries, errors } satisfies LogPost);
      return true;
    }
    if (topic === sys + "thing/config/log/get") {
      const m = json();
      emit("log_config_get", { ...who(s), id: m?.id, params: m?.params, sys: m?.sys });
      const mode = this.logModes.has(pk + "/" + dn) ? this.logModes.get(pk + "/" + dn) : 1;
      // the docs' sample request carries "sys":{"ack":0} and still documents a reply: answer either way
      this.send(
        sys + "thing/config/log/get_reply",
        {
          id: m && typeof m.id === "string" ? m.id : "",
          version: "1.0",
          code: 200,
          data: { getType: "content", content: { mode } },
        },
        0,
      );
      return true;
    }
    return false;
  }

  /** Fail every waiting call (the emulator stops). */
  rejectPending(): void {
    for (const [key, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new Error("emulator: stopped before " + key));
    }
    this.waiting.clear();
  }
}
