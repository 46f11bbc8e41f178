// The platform's replies: what the cloud answers to a device's messages, and the one request it
// makes of a device. Device -> cloud: thing/event/<id>/post gets post_reply (200, or 460 for a
// malformed request); /ext/ntp/.../request gets the NTP response; property/set_reply settles a
// pending setProperty. Cloud -> device: setProperty publishes property/set and waits for the
// reply. Replies go out at QoS 1 (the device gets min(1, granted QoS)).
import type { Context } from "./context";
import { who, nameOf, type Connections, type Conn } from "./connection";
import { findDevice } from "./registry";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A payload's JSON object, or undefined (not UTF-8, not JSON, not an object). */
function parseJson(payload: Buffer): any {
  try {
    const v = JSON.parse(utf8.decode(payload));
    return v && typeof v === "object" && !Array.isArray(v) ? v : undefined;
  } catch (_e) {
    return undefined;
  }
}

export interface SetReply {
  id: string;
  code: number;
  data: any;
}

export interface SetPropertyOptions {
  qos?: 0 | 1;
  /** real ms to wait for set_reply (default: the emulator's setTimeout option) */
  timeout?: number;
}

interface Pending {
  resolve: (reply: SetReply) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Platform {
  private readonly ctx: Context;
  private readonly conns: Connections;
  private readonly setTimeoutMs: number;
  /** setProperty requests waiting for their set_reply, by pk/dn/id */
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;

  constructor(ctx: Context, conns: Connections, setTimeoutMs: number) {
    this.ctx = ctx;
    this.conns = conns;
    this.setTimeoutMs = setTimeoutMs;
  }

  /** Publish towards devices (delivered only to subscribers, at min(qos, granted)). */
  send(topic: string, obj: unknown, qos: 0 | 1): void {
    const b = this.ctx.broker;
    if (!b) return;
    this.ctx.log("send " + topic + " qos=" + qos + ": " + JSON.stringify(obj));
    // Deferred: aedes 1.2 loses a QoS 1 delivery published while it is still dispatching a
    // device's read chunk (seen with two PUBLISHes in one TCP chunk).
    setImmediate(() => {
      if (!b.closed)
        b.publish(
          { cmd: "publish", topic, payload: Buffer.from(JSON.stringify(obj)), qos, retain: false, dup: false },
          () => {},
        );
    });
  }

  /** The platform's side of an accepted device publish. */
  onDevicePublish(s: Conn, topic: string, payload: Buffer): void {
    const { log, emit } = this.ctx;
    const pk = s.productKey;
    const dn = s.deviceName;
    const sys = "/sys/" + pk + "/" + dn + "/";
    const ev = topic.startsWith(sys) && /^thing\/event\/([^/]+)\/post$/.exec(topic.slice(sys.length));
    if (ev) {
      const msg = parseJson(payload);
      const ok =
        msg &&
        typeof msg.id === "string" &&
        /^\d+$/.test(msg.id) &&
        msg.params &&
        typeof msg.params === "object" &&
        !Array.isArray(msg.params);
      const code = ok ? 200 : 460;
      const method = "thing.event." + ev[1] + ".post";
      emit("post", { ...who(s), identifier: ev[1], id: msg?.id, params: ok ? msg.params : undefined, code });
      this.send(
        topic + "_reply",
        {
          code,
          data: {},
          id: msg && typeof msg.id === "string" ? msg.id : "",
          message: ok ? "success" : "request parameter error",
          method,
          version: "1.0",
        },
        1,
      );
      return;
    }
    if (topic === sys + "thing/service/property/set_reply") {
      const msg = parseJson(payload);
      const reply = msg
        ? { id: msg.id, code: msg.code, data: msg.data }
        : { id: undefined, code: undefined, data: undefined };
      emit("set_reply", { ...who(s), ...reply });
      const key = pk + "/" + dn + "/" + reply.id;
      const p = this.pending.get(key);
      if (p) {
        this.pending.delete(key);
        clearTimeout(p.timer);
        p.resolve(reply as SetReply);
      } else log("set_reply " + nameOf(s) + " with unknown id " + reply.id);
      return;
    }
    if (topic === "/ext/ntp/" + pk + "/" + dn + "/request") {
      const msg = parseJson(payload);
      if (!msg || msg.deviceSendTime === undefined)
        return log("ntp request " + nameOf(s) + " without deviceSendTime ignored");
      const res = {
        deviceSendTime: String(msg.deviceSendTime),
        serverRecvTime: String(s.rxTime),
        serverSendTime: String(Date.now()),
      };
      emit("ntp", { ...who(s), ...res });
      this.send("/ext/ntp/" + pk + "/" + dn + "/response", res, 1);
    }
  }

  /** Cloud -> device property set; resolves with the device's set_reply {id, code, data}. */
  setProperty(pk: string, dn: string, params: Record<string, any>, o: SetPropertyOptions = {}): Promise<SetReply> {
    if (!findDevice(this.ctx.devices, pk, dn))
      return Promise.reject(new Error("emulator: unknown device " + pk + "/" + dn));
    if (!params || typeof params !== "object")
      return Promise.reject(new Error("emulator: setProperty params must be an object"));
    if (!this.ctx.broker || !this.conns.online(pk, dn)) {
      return Promise.reject(new Error("emulator: device " + pk + "/" + dn + " is offline"));
    }
    const id = String(this.nextId++);
    const key = pk + "/" + dn + "/" + id;
    const timeout = o.timeout || this.setTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new Error("emulator: no set_reply for " + key + " within " + timeout + " ms"));
      }, timeout);
      this.pending.set(key, { resolve, reject, timer });
      this.send(
        "/sys/" + pk + "/" + dn + "/thing/service/property/set",
        { id, version: "1.0", params, method: "thing.service.property.set" },
        o.qos === undefined ? 1 : o.qos,
      );
    });
  }

  /** Fail every waiting setProperty (the emulator stops). */
  rejectPending(): void {
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error("emulator: stopped before set_reply " + key));
    }
    this.pending.clear();
  }
}
