// The broker hooks: a plain aedes MQTT broker made to judge logins and topics as the platform
// does. preConnect reads the clientId/username and decides the refusals that do not need the
// secret (CONNACK 1, 2, 5); authenticate checks the password (CONNACK 4) and kicks an older
// login of the same device; authorizePublish/authorizeSubscribe close the link on a foreign
// topic or QoS 2. Accepted device publishes go on to the platform replies (platform.ts).
//
// Transport: securemode=2 must come over TLS and securemode=3 over TCP, as the platform
// requires (CONNACK 2 otherwise, logged with the reason); securemode=-2 (connwl) is taken on both.
// Dynamic registration (docs/ALIYUN.md §6, TLS only): a CONNECT with authType=register|regnwl signed
// with the product's secret gets CONNACK 0, then the reply on /ext/register or /ext/regnwl
// (no SUBSCRIBE needed), then the link is closed. register answers the registered device's
// deviceSecret; regnwl creates the device if needed and answers a new clientId + deviceToken,
// which the connwl login then takes. Events: 'register' {productKey, deviceName, authType}.
import { randomBytes } from "node:crypto";
import mqttPacket from "mqtt-packet";
import { Aedes, type AuthenticateError } from "aedes";
import type { Context } from "./context";
import { connOf, who, nameOf, type Connections, type Conn } from "./connection";
import { findDevice, productSecretOf } from "./registry";
import { parseClientId, expectedPassword, registrationPassword, ownTopic } from "./rules";

/** A shortened payload for a log line. */
function preview(b: Buffer): string {
  const t = b.toString("utf8");
  return t.length > 120 ? t.slice(0, 120) + "..." : t;
}

/** Marks a login as refused with CONNACK `code`; `why` names the check that failed (never a secret). */
function refuse(s: Conn, code: number, why: string): void {
  s.refuse = code;
  s.refuseWhy = why;
}

/** A new aedes broker with the platform's hooks; `onDevicePublish` gets every accepted device publish. */
export async function createBroker(
  ctx: Context,
  conns: Connections,
  onDevicePublish: (s: Conn, topic: string, payload: Buffer) => void,
): Promise<Aedes> {
  const { log, emit } = ctx;
  // aedes' own keepalive limit is off: the silence limit is ours (connection.ts), scaled by timeScale.
  const b = await Aedes.createBroker({ keepaliveLimit: 0, connectTimeout: 30000 });

  b.preConnect = (client, packet, cb) => {
    const s = connOf(client);
    const up = /^([^&]+)&([^&]+)$/.exec(packet.username || "");
    s.clientId = packet.clientId;
    s.info = parseClientId(packet.clientId);
    s.keepalive = packet.keepalive;
    if (up) {
      s.deviceName = up[1];
      s.productKey = up[2];
    }
    const info = {
      productKey: s.productKey,
      deviceName: s.deviceName,
      clientId: packet.clientId,
      keepalive: packet.keepalive,
      signMethod: s.info ? s.info.signMethod : undefined,
      clean: packet.clean,
      protocolVersion: packet.protocolVersion,
      will: !!packet.will,
      tls: s.secure,
      authType: s.info ? s.info.authType : undefined,
    };
    log(
      "connect " +
        nameOf(s) +
        (s.secure ? " tls" : " tcp") +
        " clientId=" +
        packet.clientId +
        " keepalive=" +
        packet.keepalive +
        " signmethod=" +
        info.signMethod +
        " clean=" +
        packet.clean +
        " level=" +
        packet.protocolVersion,
    );
    emit("connect", info);
    const mode = s.info?.secureMode;
    if (packet.protocolVersion !== 4) {
      packet.protocolVersion = 5; // aedes then answers CONNACK 1
      log(
        "refused " +
          nameOf(s) +
          ": MQTT protocol level " +
          info.protocolVersion +
          ", the platform takes 4 (MQTT 3.1.1)",
      );
    } else if (!s.info) refuse(s, 2, 'clientId "' + packet.clientId + '" is not id|securemode=-2|2|3,...|');
    else if ((mode === "2" && !s.secure) || (mode === "3" && s.secure))
      refuse(s, 2, "securemode=" + mode + " over " + (s.secure ? "TLS" : "TCP") + " (2 needs TLS, 3 needs TCP)");
    else if ((packet.keepalive as number) < 30 || (packet.keepalive as number) > 1200)
      refuse(s, 2, "keepalive " + packet.keepalive + " s is outside 30..1200");
    else if (packet.will) refuse(s, 5, "a Will message is not allowed");
    packet.keepalive = 0; // the silence limit is ours (scaled); disable aedes' own timer
    cb(null, true);
  };

  b.authenticate = (client, username, password, cb) => {
    const s = connOf(client);
    const dev = s.productKey ? findDevice(ctx.devices, s.productKey, s.deviceName as string) : undefined;
    const info = s.info;
    const given = password ? password.toString("utf8") : "";
    if (s.refuse) {
      // refused at CONNECT already (the reason is recorded)
    } else if (info && (info.authType === "register" || info.authType === "regnwl")) {
      const productSecret = productSecretOf(ctx.devices, s.productKey as string);
      const want =
        productSecret &&
        registrationPassword(info.signMethod, productSecret, {
          deviceName: s.deviceName as string,
          productKey: s.productKey as string,
          random: info.random as string,
        });
      if (!want) refuse(s, 4, "registration: product " + s.productKey + " has no productSecret");
      else if (given.toLowerCase() !== want)
        refuse(
          s,
          4,
          "registration: password is not " +
            info.signMethod +
            '(productSecret, "deviceName..productKey..random.."): wrong productSecret',
        );
      // register: only a device registered in advance (it has a deviceSecret to hand out)
      else if (info.authType === "register" && !dev?.deviceSecret)
        refuse(s, 4, "registration: no device " + s.productKey + "/" + s.deviceName + " registered in advance");
      else s.registering = info.authType;
    } else if (info && info.authType === "connwl") {
      if (!dev?.deviceToken || dev.clientId !== info.id || given !== dev.deviceToken)
        refuse(s, 4, "connwl: unknown clientId or wrong deviceToken");
    } else if (!dev) {
      refuse(
        s,
        4,
        s.productKey
          ? "no device " + s.productKey + "/" + s.deviceName + " is registered"
          : 'username "' + (username || "") + '" is not deviceName&productKey',
      );
    } else if (!dev.deviceSecret)
      refuse(
        s,
        4,
        "device " + dev.productKey + "/" + dev.deviceName + " has no deviceSecret (it logs in with a deviceToken)",
      );
    else if (!password) refuse(s, 4, "no password");
    else if (info) {
      const want = expectedPassword(info.signMethod, dev.deviceSecret as string, {
        ...info,
        deviceName: dev.deviceName,
        productKey: dev.productKey,
      });
      if (given.toLowerCase() !== want) {
        refuse(
          s,
          4,
          "password is not " +
            info.signMethod +
            '(deviceSecret, "clientId' +
            info.id +
            "deviceName" +
            dev.deviceName +
            "productKey" +
            dev.productKey +
            (info.timestamp !== undefined ? "timestamp" + info.timestamp : "") +
            '"): wrong deviceSecret, or signed other fields than the clientId says',
        );
      }
    }
    const code = s.refuse || 0;
    if (code) {
      log("refused " + nameOf(s) + ": CONNACK " + code + ", " + s.refuseWhy);
      const err = new Error("refused") as AuthenticateError;
      err.returnCode = code;
      return cb(err, false);
    }
    if (s.registering) return cb(null, true);
    for (const o of conns.all) {
      if (o !== s && o.authed && o.productKey === s.productKey && o.deviceName === s.deviceName) {
        conns.kill(o, "kicked: newer login of the same device (clientId " + s.clientId + ")", true);
      }
    }
    s.authed = true;
    log("connack " + nameOf(s) + " returnCode=0 (accepted)");
    s.limit = Math.round((1.5 * (s.keepalive as number) * 1000) / ctx.timeScale);
    conns.touch(s);
    cb(null, true);
  };

  // logged here, not at connackSent: that comes after the device may already have read the CONNACK
  // and acted on it, and log lines must come in the order things happened
  b.on("connackSent", (connack, client) => {
    const s = connOf(client);
    emit("connack", { ...who(s), clientId: s.clientId, returnCode: connack.returnCode });
    if (s.registering && connack.returnCode === 0) register(s);
  });

  // The registration reply, then the platform closes the link. Secrets never go to the log.
  function register(s: Conn) {
    const pk = s.productKey as string;
    const dn = s.deviceName as string;
    let dev = findDevice(ctx.devices, pk, dn);
    let reply: Record<string, string>;
    if (s.registering === "register") {
      reply = { productKey: pk, deviceName: dn, deviceSecret: (dev as NonNullable<typeof dev>).deviceSecret as string };
    } else {
      if (!dev) ctx.devices.push((dev = { productKey: pk, deviceName: dn }));
      dev.clientId = randomBytes(8).toString("hex");
      dev.deviceToken = randomBytes(16).toString("hex");
      reply = { clientId: dev.clientId, productKey: pk, deviceName: dn, deviceToken: dev.deviceToken };
    }
    const topic = s.registering === "register" ? "/ext/register" : "/ext/regnwl";
    log("register " + nameOf(s) + " " + s.registering + ": reply on " + topic + ", then close");
    emit("register", { ...who(s), authType: s.registering });
    // straight to the socket: the device has no subscription, the reply is the platform's own
    s.sock.write(
      mqttPacket.generate({
        cmd: "publish",
        topic,
        payload: Buffer.from(JSON.stringify(reply)),
        qos: 0,
        retain: false,
        dup: false,
      } as any),
    );
    setTimeout(() => conns.kill(s, "registration done", false), 50);
  }

  b.authorizePublish = (client, packet, cb) => {
    if (!client) return cb(new Error("no client"));
    const s = connOf(client);
    const pk = s.productKey as string;
    const dn = s.deviceName as string;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload || "");
    log(
      "publish " +
        nameOf(s) +
        " " +
        packet.topic +
        " qos=" +
        packet.qos +
        (packet.dup ? " dup" : "") +
        " " +
        payload.length +
        " B: " +
        preview(payload),
    );
    emit("publish", {
      ...who(s),
      topic: packet.topic,
      payload,
      qos: packet.qos,
      dup: !!packet.dup,
      retain: !!packet.retain,
      messageId: packet.messageId,
    });
    if (packet.qos > 1) {
      conns.kill(s, "QoS 2 publish on " + packet.topic, true);
      return cb(new Error("QoS 2 not supported"));
    }
    if (!ownTopic(packet.topic, pk, dn, false)) {
      conns.kill(s, "publish on a foreign topic " + packet.topic, true);
      return cb(new Error("forbidden topic"));
    }
    packet.retain = false;
    // no echo: aedes skips delivering a packet to its own publisher when it carries the
    // publisher's clientId and the no-local flag (kept by aedes' Packet copy)
    Object.assign(packet, { clientId: client.id, nl: true });
    cb(null);
    onDevicePublish(s, packet.topic, payload);
  };

  b.authorizeSubscribe = (client, sub, cb) => {
    const s = connOf(client);
    if (!ownTopic(sub.topic, s.productKey as string, s.deviceName as string, true)) {
      conns.kill(s, "subscribe to a foreign topic " + sub.topic, true);
      return cb(new Error("forbidden topic"));
    }
    cb(null, sub);
  };

  b.authorizeForward = (_client, packet) => packet;

  b.on("subscribe", (subs, client) => {
    const s = connOf(client);
    const topics = subs.map((x) => ({ topic: x.topic, qos: x.qos }));
    // the log line is written as the SUBSCRIBE arrives (connection.ts): this event comes later
    emit("subscribe", { ...who(s), topics });
  });
  b.on("ping", (_packet, client) => emit("pingreq", who(connOf(client))));
  b.on("clientError", (client, err) => {
    const s = client?.conn && connOf(client);
    if (s && !s.reason) s.reason = "broker: " + err.message;
  });
  b.on("connectionError", () => {});
  return b;
}
