// The connection layer: one record per TCP connection, and the byte path between the socket and
// aedes. aedes does not read the socket directly but a Duplex proxy, so that the emulator can
// - see every inbound byte (the silence limit: 1.5 x keepalive / timeScale, ours, not aedes');
// - shape outbound bytes for fault injection (mute: drop them; splitWrites: one byte per write);
// - close a link on purpose (kill) with a reason that the 'disconnect' event reports.
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { Client } from "aedes";
import type { Context } from "./context";
import type { ClientIdInfo } from "./rules";

/** Per-TCP-connection state. */
export interface Conn {
  sock: Socket;
  duplex: Duplex;
  /** the aedes client of this link; `_parser`/`_disconnected` are aedes 1.2 internals */
  client: Client & { _parser?: NodeJS.EventEmitter; _disconnected?: boolean };
  productKey?: string;
  deviceName?: string;
  clientId?: string;
  keepalive?: number;
  /** CONNACK code decided in preConnect */
  refuse?: number;
  /** which login check failed, for the log (as the platform's device log says it) */
  refuseWhy?: string;
  /** parsed clientId (null when malformed) */
  info?: ClientIdInfo | null;
  /** the link is TLS (else plain TCP) */
  secure: boolean;
  /** register | regnwl: a registration link, answered then closed */
  registering?: string;
  authed: boolean;
  closed: boolean;
  reason?: string;
  /** silence limit in ms (0 = not armed) */
  limit: number;
  timer: NodeJS.Timeout | null;
  /** Date.now() of the last inbound bytes */
  rxTime: number;
}

/** Faults injected on the bytes towards the devices. */
export interface Fault {
  /** drop every outbound byte (the link looks dead, TCP stays open) */
  mute?: boolean;
  /** write one byte at a time */
  splitWrites?: boolean;
}

export interface ClientInfo {
  productKey?: string;
  deviceName?: string;
  clientId?: string;
  keepalive?: number;
}

const connByStream = new WeakMap<object, Conn>();

/** The connection record behind an aedes client. */
export const connOf = (client: Client): Conn => connByStream.get(client.conn) as Conn;

/** The device identity of a link, as the events report it. */
export const who = (s: Conn) => ({ productKey: s.productKey, deviceName: s.deviceName });

/** A link's name in log lines (its clientId is logged once, with the connect line). */
export const nameOf = (s: Conn) => (s.productKey ? s.productKey + "/" + s.deviceName : "?");

export class Connections {
  /** every open TCP connection, authenticated or not */
  readonly all = new Set<Conn>();
  fault: Fault = {};
  private readonly ctx: Context;

  constructor(ctx: Context) {
    this.ctx = ctx;
  }

  /** Close a link on purpose; `kick` announces it (log line and 'kick' event). */
  kill(s: Conn, reason: string, kick: boolean): void {
    if (s.closed) return;
    s.reason = s.reason || reason;
    if (kick) {
      this.ctx.log("kick " + nameOf(s) + ": " + reason);
      this.ctx.emit("kick", { ...who(s), clientId: s.clientId, reason });
    }
    s.sock.destroy();
  }

  /** Note inbound bytes and (re)arm the silence timer. */
  touch(s: Conn): void {
    s.rxTime = Date.now();
    if (!s.limit) return;
    if (s.timer) clearTimeout(s.timer);
    s.timer = setTimeout(
      () =>
        this.kill(
          s,
          "keepalive timeout: no packet for " +
            s.limit +
            " ms (1.5 x " +
            s.keepalive +
            " s / timeScale " +
            this.ctx.timeScale +
            ")",
          false,
        ),
      s.limit,
    );
  }

  /** Is device pk/dn logged in right now? */
  online(pk: string, dn: string): boolean {
    return [...this.all].some((s) => s.authed && !s.closed && s.productKey === pk && s.deviceName === dn);
  }

  /** The authenticated links. */
  list(): ClientInfo[] {
    return [...this.all]
      .filter((s) => s.authed && !s.closed)
      .map((s) => ({ ...who(s), clientId: s.clientId, keepalive: s.keepalive }));
  }

  /** Wires a new (plain or TLS) socket to the current broker. */
  accept(sock: Socket, secure: boolean): void {
    const { ctx } = this;
    sock.setNoDelay(true);
    const s = {
      sock,
      secure,
      authed: false,
      closed: false,
      limit: 0,
      timer: null,
      rxTime: Date.now(),
    } as unknown as Conn;
    // A proxy between the socket and aedes: lets us observe inbound bytes and shape outbound ones.
    s.duplex = new Duplex({
      read() {},
      writev: (chunks, cb) => {
        this.writeOut(s, Buffer.concat(chunks.map((c) => c.chunk)), () => cb());
      },
      write: (chunk, _enc, cb) => {
        this.writeOut(s, chunk, () => cb());
      },
      final(cb) {
        sock.end();
        cb();
      },
      destroy(_err, cb) {
        if (s.client?._disconnected) s.reason = s.reason || "device sent DISCONNECT";
        sock.destroy();
        cb(null);
      },
    });
    connByStream.set(s.duplex, s);
    this.all.add(s);
    sock.on("data", (d) => {
      this.touch(s);
      s.duplex.push(d);
    });
    sock.on("end", () => {
      s.reason = s.reason || "device closed the connection";
      s.duplex.push(null);
    });
    sock.on("error", (e) => {
      s.reason = s.reason || "socket error: " + e.message;
    });
    sock.on("close", () => {
      s.closed = true;
      if (s.timer) clearTimeout(s.timer);
      this.all.delete(s);
      s.duplex.destroy();
      if (s.authed) {
        const reason = s.reason || "connection closed";
        ctx.log("disconnect " + nameOf(s) + ": " + reason);
        ctx.emit("disconnect", { ...who(s), clientId: s.clientId, reason });
      }
    });
    s.client = (ctx.broker as NonNullable<Context["broker"]>).handle(s.duplex);
    // The platform has no QoS 2: grant 1. aedes fixes the SUBACK code before authorizeSubscribe, so
    // lower the request as it leaves the parser (aedes 1.2 internals: Client._parser).
    // No echo on system topics either: the platform routes a device's /sys/ and /ext/rrpc/
    // publishes to the cloud, never back to it (with /ext/rrpc/+ and thing/service/+ subscribed,
    // aedes would echo the device's replies); custom topics keep the broker's plain MQTT
    // delivery. aedes honours MQTT 5's no-local flag whatever protocol level the client speaks.
    if (s.client._parser) {
      s.client._parser.prependListener("packet", (p: any) => {
        if (p.cmd !== "subscribe") return;
        for (const x of p.subscriptions) {
          x.qos = Math.min(x.qos, 1);
          x.nl = /^\/(sys|ext\/rrpc)\//.test(x.topic);
        }
        // logged in arrival order (aedes' 'subscribe' event comes after later packets were handled)
        ctx.log("subscribe " + nameOf(s) + " " + p.subscriptions.map((x: any) => x.topic + "@" + x.qos).join(" "));
      });
    }
  }

  /** Bytes towards the device, honouring the faults. */
  private writeOut(s: Conn, buf: Buffer, cb: () => void): void {
    const fault = this.fault;
    if (fault.mute || s.sock.destroyed) return cb();
    if (!fault.splitWrites) return void s.sock.write(buf, () => cb());
    let i = 0;
    const next = (): void => {
      if (i >= buf.length || this.fault.mute || s.sock.destroyed) return cb();
      s.sock.write(buf.subarray(i, ++i));
      setImmediate(next);
    };
    next();
  }
}
