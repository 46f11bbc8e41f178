// The emulator is the oracle of our end-to-end tests; here it is checked against independent
// references: node crypto for the signatures, mqtt-packet and the `mqtt` client as devices.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createHmac, randomBytes } from "node:crypto";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqttPacket from "mqtt-packet";
import mqtt from "mqtt";
import iot from "alibabacloud-iot-device-sdk";
import { startEmulator } from "../tools/emulator/index";

type Dev = { productKey: string; deviceName: string; deviceSecret: string };
const secret = () => randomBytes(16).toString("hex");
const A: Dev = { productKey: "a1TestPk001", deviceName: "dev-a", deviceSecret: secret() };
const B: Dev = { productKey: "a1TestPk001", deviceName: "dev-b", deviceSecret: secret() };
const C: Dev = { productKey: "a1TestPk001", deviceName: "dev-c", deviceSecret: secret() };
const D: Dev = { productKey: "a1TestPk002", deviceName: "sdk-device", deviceSecret: secret() };
const logs: string[] = [];
const ALG: Record<string, string> = { hmacmd5: "md5", hmacsha1: "sha1", hmacsha256: "sha256" };

function sign(method: string, d: Dev, id: string, ts?: string): string {
  const content = `clientId${id}deviceName${d.deviceName}productKey${d.productKey}` + (ts ? `timestamp${ts}` : "");
  return createHmac(ALG[method], d.deviceSecret).update(content).digest("hex");
}

function creds(d: Dev, o: { id?: string; method?: string; ts?: string; upper?: boolean } = {}) {
  const id = o.id || `${d.productKey}.${d.deviceName}`;
  const method = o.method || "hmacsha256";
  const pw = sign(method, d, id, o.ts);
  return {
    clientId: `${id}|securemode=3,signmethod=${method}${o.ts ? ",timestamp=" + o.ts : ""}|`,
    username: `${d.deviceName}&${d.productKey}`,
    password: o.upper ? pw.toUpperCase() : pw,
  };
}

/** A device on a raw socket: packets parsed with mqtt-packet, every TCP chunk counted. */
class Raw {
  sock: Socket;
  packets: any[] = [];
  chunks: Buffer[] = [];
  waiters: Array<() => void> = [];
  closed: Promise<void>;
  /** secure: TLS without a certificate check (as Espruino; an object adds TLS options), else plain TCP */
  constructor(port: number, secure: boolean | object = false) {
    this.sock = secure
      ? tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false, ...(secure === true ? {} : secure) })
      : netConnect(port, "127.0.0.1");
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (p: any) => {
      this.packets.push(p);
      this.waiters.splice(0).forEach((w) => w());
    });
    this.sock.on("data", (d) => {
      this.chunks.push(d);
      parser.parse(d);
    });
    this.sock.on("error", () => {});
    this.closed = new Promise((resolve) =>
      this.sock.on("close", () => {
        resolve();
        this.waiters.splice(0).forEach((w) => w());
      }),
    );
  }

  send(p: any) {
    this.sock.write(mqttPacket.generate(p));
  }

  /** Next packet matching `cmd` (and `pred`), or rejects when the link closes first. */
  async next(cmd: string, pred: (p: any) => boolean = () => true): Promise<any> {
    for (;;) {
      const i = this.packets.findIndex((p) => p.cmd === cmd && pred(p));
      if (i >= 0) return this.packets.splice(i, 1)[0];
      if (this.sock.destroyed) throw new Error("closed while waiting for " + cmd);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** CONNECT and return the CONNACK return code. */
  async connect(c: { clientId: string; username?: string; password?: string }, extra: any = {}): Promise<number> {
    this.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 60, ...c, ...extra });
    return (await this.next("connack")).returnCode;
  }

  async subscribe(topic: string, qos = 1): Promise<number> {
    const messageId = Math.floor(Math.random() * 60000) + 1;
    this.send({ cmd: "subscribe", messageId, subscriptions: [{ topic, qos }] });
    return (await this.next("suback", (p) => p.messageId === messageId)).granted[0];
  }

  publish(topic: string, payload: string | Buffer, qos = 0) {
    this.send({ cmd: "publish", topic, payload, qos, messageId: qos ? 1 : undefined, retain: false, dup: false });
  }

  async message(topic: string): Promise<any> {
    const p = await this.next("publish", (x) => x.topic === topic);
    if (p.qos === 1) this.send({ cmd: "puback", messageId: p.messageId });
    return { ...p, json: JSON.parse(p.payload.toString("utf8")) };
  }

  end() {
    this.sock.destroy();
  }
}

/** First `ev` event whose data matches `pred` (other devices' leftovers are ignored). */
function waitFor(em: any, ev: string, pred: (x: any) => boolean): Promise<any> {
  return new Promise((resolve) =>
    em.on(ev, function f(x: any) {
      if (pred(x)) {
        em.off(ev, f);
        resolve(x);
      }
    }),
  );
}

const sys = (d: Dev, rest: string) => `/sys/${d.productKey}/${d.deviceName}/${rest}`;

let emu: any;
beforeAll(async () => {
  emu = await startEmulator({ port: 0, devices: [A, B, C, D], log: (l: string) => logs.push(l) });
});
afterAll(async () => {
  await emu.close();
  // no secret may ever reach the log
  for (const d of [A, B, C, D]) expect(logs.join("\n")).not.toContain(d.deviceSecret);
});

async function online(d: Dev, o: any = {}): Promise<Raw> {
  const r = new Raw(emu.port);
  expect(await r.connect(creds(d, o))).toBe(0);
  return r;
}

describe("CONNECT rules", () => {
  it.each(["hmacmd5", "hmacsha1", "hmacsha256"])("accepts a device signed with %s (mqtt client)", async (method) => {
    const seen = once(emu, "connect");
    const c = await mqtt.connectAsync({
      host: "127.0.0.1",
      port: emu.port,
      protocolVersion: 4,
      keepalive: 60,
      reconnectPeriod: 0,
      ...creds(A, { method, ts: String(Date.now()), upper: method === "hmacsha1" }),
    });
    const [info] = await seen;
    expect(info).toMatchObject({
      productKey: A.productKey,
      deviceName: A.deviceName,
      keepalive: 60,
      signMethod: method,
    });
    expect(emu.clients().map((x: any) => x.deviceName)).toContain("dev-a");
    await c.endAsync();
  });

  it("signmethod defaults to hmacmd5, securemode=2 (over TLS) and any param order are accepted", async () => {
    const id = "AA:BB:CC";
    const r = new Raw(emu.port, true);
    expect(
      await r.connect({
        clientId: `${id}|securemode=2|`,
        username: `${A.deviceName}&${A.productKey}`,
        password: sign("hmacmd5", A, id),
      }),
    ).toBe(0);
    r.end();
    const r2 = new Raw(emu.port);
    const ts = "2524608000000";
    expect(
      await r2.connect({
        clientId: `${id}|timestamp=${ts},signmethod=hmacsha1,securemode=3|`,
        username: `${A.deviceName}&${A.productKey}`,
        password: sign("hmacsha1", A, id, ts),
      }),
    ).toBe(0);
    r2.end();
  });

  it("refuses a bad secret, an unknown device or a missing timestamp in the signature with CONNACK 4", async () => {
    const bad = { ...A, deviceSecret: A.deviceSecret + "x" };
    expect(await new Raw(emu.port).connect(creds(bad))).toBe(4);
    const ghost = { ...A, deviceName: "ghost" };
    expect(await new Raw(emu.port).connect(creds(ghost))).toBe(4);
    const c = creds(A, { ts: "123" });
    expect(
      await new Raw(emu.port).connect({ ...c, password: sign("hmacsha256", A, `${A.productKey}.${A.deviceName}`) }),
    ).toBe(4);
    const r = new Raw(emu.port);
    expect(await r.connect({ ...creds(A), password: undefined })).toBe(4);
    await r.closed;
  });

  it.each([
    "plain-id",
    "id|securemode=3,signmethod=hmacsha256",
    "x".repeat(65) + "|securemode=3|",
    "|securemode=3|",
    "id|securemode=1|",
    "id|securemode=3,signmethod=hmacsha512|",
    "id|securemode=3,timestamp=12a|",
    "id|securemode=2,authType=connwl|",
    "id|securemode=3,securemode=3|",
    "id|securemode=3,authType=register,random=1|",
    "id|securemode=2,authType=register|",
    "id|securemode=2,authType=other,random=1|",
  ])("refuses malformed clientId %s with CONNACK 2", async (clientId) => {
    expect(
      await new Raw(emu.port).connect({ clientId, username: `${A.deviceName}&${A.productKey}`, password: "x" }),
    ).toBe(2);
  });

  it("one port serves TLS and TCP; securemode 2 needs TLS, 3 needs TCP (CONNACK 2 otherwise, logged)", async () => {
    const id = `${A.productKey}.${A.deviceName}`;
    const tls2 = { ...creds(A), clientId: `${id}|securemode=2,signmethod=hmacsha256|` };
    // what Espruino's mbedTLS can do: TLS 1.2, RSA key exchange only (no ECDHE)
    for (const ciphers of ["AES256-GCM-SHA384", "AES128-SHA256"]) {
      const r = new Raw(emu.port, { ciphers, maxVersion: "TLSv1.2" });
      expect(await r.connect(tls2)).toBe(0);
      expect((r.sock as any).getCipher().name).toBe(ciphers);
      r.end();
    }
    const r = new Raw(emu.port, true);
    expect(await r.connect(tls2)).toBe(0);
    r.end();
    const n = logs.length;
    expect(await new Raw(emu.port).connect(tls2)).toBe(2);
    expect(logs.slice(n).join("\n")).toContain("securemode=2 over TCP (2 needs TLS, 3 needs TCP)");
    expect(await new Raw(emu.port, true).connect(creds(A))).toBe(2);
    expect(logs.slice(n).join("\n")).toContain("securemode=3 over TLS");
    // securemode=-2 (connwl) is taken on both; an unknown token is refused
    for (const secure of [false, true])
      expect(
        await new Raw(emu.port, secure).connect({
          clientId: "x|securemode=-2,authType=connwl|",
          username: `${A.deviceName}&${A.productKey}`,
          password: "nope",
        }),
      ).toBe(4);
  });

  it("reports why a device left: DISCONNECT packet or closed socket", async () => {
    const r = await online(B, { id: "bye" });
    const gone = waitFor(emu, "disconnect", (x) => x.clientId.startsWith("bye|"));
    r.send({ cmd: "disconnect" });
    expect(await gone).toMatchObject({ deviceName: B.deviceName, reason: "device sent DISCONNECT" });
    const r2 = await online(B, { id: "eof" });
    const gone2 = waitFor(emu, "disconnect", (x) => x.clientId.startsWith("eof|"));
    r2.sock.end();
    expect(await gone2).toMatchObject({ reason: "device closed the connection" });
  });

  it("accepts a 64-char id", async () => {
    const r = await online(A, { id: "i".repeat(64) });
    r.end();
  });

  it("refuses keepalive outside 30..1200 (CONNACK 2), Will (5) and MQTT 3.1 (1); accepts clean=0", async () => {
    for (const keepalive of [0, 10, 29, 1201]) expect(await new Raw(emu.port).connect(creds(A), { keepalive })).toBe(2);
    for (const keepalive of [30, 1200]) {
      const r = new Raw(emu.port);
      expect(await r.connect(creds(A), { keepalive })).toBe(0);
      r.end();
    }
    expect(
      await new Raw(emu.port).connect(creds(A), {
        will: { topic: sys(A, "x"), payload: Buffer.from("bye"), qos: 0, retain: false },
      }),
    ).toBe(5);
    expect(await new Raw(emu.port).connect(creds(A), { protocolId: "MQIsdp", protocolVersion: 3 })).toBe(1);
    const r = new Raw(emu.port);
    expect(await r.connect(creds(A), { clean: false })).toBe(0);
    r.end();
  });
});

describe("official Node SDK as an independent device", () => {
  it("connects (hmacsha1 + timestamp + extra clientId params), subscribes its preset topics unkicked", async () => {
    const kicks: any[] = [];
    const onKick = (k: any) => kicks.push(k);
    emu.on("kick", onKick);
    const seen = once(emu, "connect");
    const lastSub = new Promise<void>((resolve) =>
      emu.on("subscribe", function f(s: any) {
        if (s.topics.some((t: any) => t.topic.endsWith("/rrpc/request/+"))) {
          emu.off("subscribe", f);
          resolve();
        }
      }),
    );
    const d = iot.device({ ...D, brokerUrl: `mqtt://127.0.0.1:${emu.port}` });
    try {
      const [info] = await seen;
      expect(info).toMatchObject({ deviceName: D.deviceName, signMethod: "hmacsha1", keepalive: 60 });
      await lastSub;
      const reply: any = await new Promise((resolve) => d.postProps({ Temp: 1 }, resolve));
      expect(reply.method).toBe("thing.event.property.post");
      expect(kicks).toEqual([]);
      expect(emu.clients().map((c: any) => c.deviceName)).toContain(D.deviceName);
    } finally {
      emu.off("kick", onKick);
      d.end();
    }
  });
});

describe("device topics", () => {
  it("answers a property post with post_reply carrying the same id", async () => {
    const r = await online(A);
    expect(await r.subscribe(sys(A, "thing/event/property/post_reply"))).toBe(1);
    const post = once(emu, "post");
    r.publish(
      sys(A, "thing/event/property/post"),
      JSON.stringify({ id: "42", version: "1.0", params: { Temp: 21.5 }, method: "thing.event.property.post" }),
      1,
    );
    await r.next("puback");
    const m = await r.message(sys(A, "thing/event/property/post_reply"));
    expect(m.json).toEqual({
      code: 200,
      data: {},
      id: "42",
      message: "success",
      method: "thing.event.property.post",
      version: "1.0",
    });
    expect((await post)[0]).toMatchObject({
      productKey: A.productKey,
      deviceName: A.deviceName,
      id: "42",
      params: { Temp: 21.5 },
    });
    r.end();
  });

  it("answers every post of a burst sent in one TCP chunk", async () => {
    const r = await online(A);
    await r.subscribe(sys(A, "thing/event/property/post_reply"));
    r.sock.write(
      Buffer.concat(
        ["11", "12", "13"].map((id) =>
          mqttPacket.generate({
            cmd: "publish",
            topic: sys(A, "thing/event/property/post"),
            payload: `{"id":"${id}","params":{}}`,
            qos: 0,
            retain: false,
            dup: false,
          } as any),
        ),
      ),
    );
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await r.message(sys(A, "thing/event/property/post_reply"))).json.id);
    expect(ids.sort()).toEqual(["11", "12", "13"]);
    r.end();
  });

  it("answers an event post on its own _reply topic", async () => {
    const r = await online(A);
    await r.subscribe(sys(A, "thing/event/+/post_reply"), 0);
    r.publish(sys(A, "thing/event/alarm/post"), JSON.stringify({ id: "7", params: { level: 2 } }));
    const m = await r.message(sys(A, "thing/event/alarm/post_reply"));
    expect(m.qos).toBe(0);
    expect(m.json).toMatchObject({ code: 200, id: "7", method: "thing.event.alarm.post" });
    r.end();
  });

  it.each([
    [
      "invalid UTF-8",
      Buffer.concat([Buffer.from('{"id":"1","params":{"s":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]),
    ],
    ["invalid JSON", Buffer.from('{"id":"1",')],
    ["a numeric id", Buffer.from('{"id":1,"params":{}}')],
    ["a non-decimal id", Buffer.from('{"id":"1a","params":{}}')],
    ["params as array", Buffer.from('{"id":"1","params":[1]}')],
    ["no params", Buffer.from('{"id":"1"}')],
  ])("replies 460 to a post with %s", async (_what, payload) => {
    const r = await online(A);
    await r.subscribe(sys(A, "thing/event/property/post_reply"));
    r.publish(sys(A, "thing/event/property/post"), payload);
    const m = await r.message(sys(A, "thing/event/property/post_reply"));
    expect(m.json).toMatchObject({ code: 460, message: "request parameter error" });
    r.end();
  });

  it("delivers replies only to a subscribed device", async () => {
    const r = await online(A);
    r.publish(sys(A, "thing/event/property/post"), '{"id":"1","params":{}}');
    await once(emu, "post");
    await r.subscribe(sys(A, "thing/event/property/post_reply"));
    r.publish(sys(A, "thing/event/property/post"), '{"id":"2","params":{}}');
    const m = await r.message(sys(A, "thing/event/property/post_reply"));
    expect(m.json.id).toBe("2");
    expect(r.packets.filter((p) => p.cmd === "publish")).toEqual([]);
    r.end();
  });

  it("never echoes a device its own publishes; the sync RRPC topics are its own (subscribe and reply)", async () => {
    const r = await online(A);
    const rrpc = `/ext/rrpc/+/sys/${A.productKey}/${A.deviceName}/thing/service/+`;
    expect(await r.subscribe(rrpc)).toBe(1);
    expect(await r.subscribe(sys(A, "thing/service/+"))).toBe(1);
    const call = emu.callService(A.productKey, A.deviceName, "S", { x: 1 }, { sync: true });
    const req = await r.next("publish", (p) => p.topic.startsWith("/ext/rrpc/"));
    if (req.qos === 1) r.send({ cmd: "puback", messageId: req.messageId });
    const body = JSON.parse(req.payload.toString("utf8"));
    expect(body).toEqual({ id: body.id, version: "1.0", params: { x: 1 }, method: "thing.service.S" });
    r.publish(req.topic, JSON.stringify({ id: body.id, code: 200, data: { y: 2 } }));
    r.publish(sys(A, "thing/service/S_reply"), '{"id":"0","code":200,"data":{}}');
    expect(await call).toEqual({ id: body.id, code: 200, data: { y: 2 } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(r.packets.filter((p) => p.cmd === "publish")).toEqual([]);
    expect(emu.clients().some((c: any) => c.deviceName === A.deviceName)).toBe(true);
    r.end();
  });

  it("answers NTP requests with real server times", async () => {
    const r = await online(A);
    await r.subscribe(`/ext/ntp/${A.productKey}/${A.deviceName}/response`, 0);
    const before = Date.now();
    r.publish(`/ext/ntp/${A.productKey}/${A.deviceName}/request`, '{"deviceSendTime":"1571724098000"}');
    const m = await r.message(`/ext/ntp/${A.productKey}/${A.deviceName}/response`);
    const after = Date.now();
    expect(m.json.deviceSendTime).toBe("1571724098000");
    const recv = Number(m.json.serverRecvTime);
    const sent = Number(m.json.serverSendTime);
    expect(m.json.serverRecvTime).toMatch(/^\d+$/);
    expect(m.json.serverSendTime).toMatch(/^\d+$/);
    expect(recv).toBeGreaterThanOrEqual(before);
    expect(sent).toBeGreaterThanOrEqual(recv);
    expect(sent).toBeLessThanOrEqual(after);
    r.end();
  });

  it("setProperty round trip at the granted QoS", async () => {
    const r = await online(B);
    expect(await r.subscribe(sys(B, "thing/service/property/set"), 2)).toBe(1); // QoS 2 is granted as 1
    const done = emu.setProperty(B.productKey, B.deviceName, { LightSwitch: 1 });
    const m = await r.message(sys(B, "thing/service/property/set"));
    expect(m.qos).toBe(1);
    expect(m.json).toMatchObject({
      id: expect.stringMatching(/^\d+$/),
      version: "1.0",
      params: { LightSwitch: 1 },
      method: "thing.service.property.set",
    });
    const ev = once(emu, "set_reply");
    r.publish(sys(B, "thing/service/property/set_reply"), JSON.stringify({ id: m.json.id, code: 200, data: {} }));
    expect(await done).toEqual({ id: m.json.id, code: 200, data: {} });
    expect((await ev)[0]).toMatchObject({ deviceName: "dev-b", id: m.json.id, code: 200 });
    r.end();
  });

  it("setProperty at QoS 0, and rejects for offline or silent devices", async () => {
    await expect(emu.setProperty(C.productKey, C.deviceName, { a: 1 })).rejects.toThrow(/offline/);
    const r = await online(C);
    await r.subscribe(sys(C, "thing/service/property/set"), 0);
    const done = emu.setProperty(C.productKey, C.deviceName, { a: 1 }, { timeout: 300 });
    const m = await r.message(sys(C, "thing/service/property/set"));
    expect(m.qos).toBe(0);
    await expect(done).rejects.toThrow(/no set_reply/); // the device never answers
    r.end();
  });

  it("kicks the older of two logins of the same device", async () => {
    const old = await online(A, { id: "first" });
    const kick = waitFor(emu, "kick", (k) => k.clientId.startsWith("first|"));
    const gone = waitFor(emu, "disconnect", (k) => k.clientId.startsWith("first|"));
    const neu = await online(A, { id: "second" });
    await old.closed;
    expect(await kick).toMatchObject({
      productKey: A.productKey,
      deviceName: A.deviceName,
      reason: expect.stringMatching(/newer login/),
    });
    expect(await gone).toMatchObject({ deviceName: A.deviceName, reason: expect.stringMatching(/newer login/) });
    expect(
      emu
        .clients()
        .filter((c: any) => c.deviceName === A.deviceName)
        .map((c: any) => c.clientId),
    ).toEqual(["second|securemode=3,signmethod=hmacsha256|"]);
    expect(neu.sock.destroyed).toBe(false);
    neu.end();
  });

  it.each([
    ["publish", "another device topic", (r: Raw) => r.publish(sys(B, "thing/event/property/post"), "{}")],
    ["publish", "a topic outside the platform", (r: Raw) => r.publish("/random/topic", "{}")],
    ["publish", "QoS 2", (r: Raw) => r.publish(sys(A, "thing/event/property/post"), "{}", 2)],
    ["subscribe", "another device topic", (r: Raw) => r.subscribe(sys(B, "thing/service/property/set")).catch(() => 0)],
    ["subscribe", "a wildcard over devices", (r: Raw) => r.subscribe(`/sys/${A.productKey}/+/thing/#`).catch(() => 0)],
    ["subscribe", "#", (r: Raw) => r.subscribe("#").catch(() => 0)],
  ])("closes the connection on %s to %s", async (_op, _what, act) => {
    const r = await online(A);
    const kick = once(emu, "kick");
    act(r);
    await r.closed;
    expect((await kick)[0]).toMatchObject({ deviceName: A.deviceName, reason: expect.stringMatching(/foreign|QoS 2/) });
  });

  it("allows wildcards inside the device prefix and its OTA and custom topics", async () => {
    const r = await online(A);
    expect(await r.subscribe(sys(A, "#"))).toBe(1);
    expect(await r.subscribe(`/${A.productKey}/${A.deviceName}/user/+`, 0)).toBe(0);
    expect(await r.subscribe(`/ota/device/upgrade/${A.productKey}/${A.deviceName}`)).toBe(1);
    r.publish(`/ota/device/inform/${A.productKey}/${A.deviceName}`, '{"id":"1","params":{"version":"1.0.0"}}');
    r.publish(`/${A.productKey}/${A.deviceName}/user/echo`, "hi");
    const m = await r.next("publish", (p) => p.topic.endsWith("/user/echo"));
    expect(m.payload.toString()).toBe("hi");
    expect(r.sock.destroyed).toBe(false);
    r.end();
  });
});

describe("faults and restarts", () => {
  it("mute drops everything towards the device (PINGRESP included) while TCP stays open", async () => {
    const r = await online(A);
    emu.setFault({ mute: true });
    const ping = once(emu, "pingreq");
    r.send({ cmd: "pingreq" });
    await ping;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(r.packets).toEqual([]);
    expect(r.sock.destroyed).toBe(false);
    emu.setFault({});
    r.send({ cmd: "pingreq" });
    await r.next("pingresp");
    r.end();
  });

  it("splitWrites sends every byte to the device in its own write", async () => {
    emu.setFault({ splitWrites: true });
    try {
      const r = new Raw(emu.port);
      expect(await r.connect(creds(B))).toBe(0);
      // CONNACK is 4 bytes: with 1-byte writes it cannot arrive in one chunk
      expect(r.chunks.length).toBeGreaterThan(1);
      expect(Math.max(...r.chunks.map((c) => c.length))).toBeLessThan(4);
      r.end();
      // and a real client still parses it all
      const c = await mqtt.connectAsync({
        host: "127.0.0.1",
        port: emu.port,
        protocolVersion: 4,
        keepalive: 60,
        reconnectPeriod: 0,
        ...creds(B),
      });
      await c.subscribeAsync(sys(B, "thing/event/property/post_reply"), { qos: 1 });
      const got = new Promise<[string, Buffer]>((resolve) =>
        c.once("message", (topic, payload) => resolve([topic, payload])),
      );
      await c.publishAsync(sys(B, "thing/event/property/post"), '{"id":"9","params":{"x":"ü"}}', { qos: 1 });
      const [topic, payload] = await got;
      expect(topic).toBe(sys(B, "thing/event/property/post_reply"));
      expect(JSON.parse(payload.toString()).id).toBe("9");
      await c.endAsync();
    } finally {
      emu.setFault({});
    }
  });

  it("stop() drops clients, start() listens again on the same port", async () => {
    const port = emu.port;
    const r = await online(C);
    const gone = waitFor(emu, "disconnect", (x) => x.deviceName === C.deviceName);
    await emu.stop();
    await r.closed;
    expect(await gone).toMatchObject({ deviceName: C.deviceName, reason: "broker stopped" });
    const refused = netConnect(port, "127.0.0.1");
    expect((await once(refused, "error"))[0].code).toBe("ECONNREFUSED");
    await emu.start();
    expect(emu.port).toBe(port);
    const r2 = await online(C);
    expect(emu.clients().map((c: any) => c.deviceName)).toContain(C.deviceName);
    r2.end();
  });
});

describe("silence and devices file", () => {
  it("drops a device silent for 1.5 x keepalive (scaled), keeps a pinging one", async () => {
    const fast = await startEmulator({ port: 0, devices: [A, B], timeScale: 100, log: (l: string) => logs.push(l) });
    try {
      const limit = (1.5 * 30 * 1000) / 100; // 450 ms
      const silent = new Raw(fast.port);
      const alive = new Raw(fast.port);
      expect(await alive.connect(creds(B), { keepalive: 30 })).toBe(0);
      const t0 = Date.now();
      expect(await silent.connect(creds(A), { keepalive: 30 })).toBe(0);
      const pinger = setInterval(() => alive.send({ cmd: "pingreq" }), 50);
      const ev = await waitFor(fast, "disconnect", () => true);
      clearInterval(pinger);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(limit - 20);
      expect(ev).toMatchObject({ deviceName: A.deviceName, reason: expect.stringMatching(/keepalive timeout/) });
      await silent.closed;
      expect(alive.sock.destroyed).toBe(false);
      expect(fast.clients().map((c: any) => c.deviceName)).toEqual([B.deviceName]);
      alive.end();
    } finally {
      await fast.close();
    }
  });

  it("creates a devices file with a demo device when missing, reuses it afterwards", async () => {
    const dir = mkdtempSync(join(tmpdir(), "emu-"));
    try {
      const file = join(dir, "sub", "devices.json");
      const e1 = await startEmulator({ port: 0, devicesFile: file });
      expect(e1.demo).toMatchObject({
        productKey: expect.stringMatching(/^[A-Za-z0-9]{11}$/),
        deviceName: "demo-device",
      });
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual([e1.demo]);
      const r = new Raw(e1.port);
      expect(await r.connect(creds(e1.demo! as any))).toBe(0);
      r.end();
      await e1.close();
      const e2 = await startEmulator({ port: 0, devicesFile: file });
      expect(e2.demo).toBeNull();
      expect(e2.devices).toEqual([e1.demo]);
      await e2.close();
      await expect(startEmulator({ port: 0, devices: [{ productKey: "p" } as Dev] })).rejects.toThrow(
        /device #0 .* deviceName/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("dynamic registration (docs/ALIYUN.md §6), checked with Node crypto", () => {
  const PS = secret();
  const P = { productKey: "a1RegProd01", deviceName: "reg-a", deviceSecret: secret(), productSecret: PS };
  let reg: any;
  const events: any[] = [];
  beforeAll(async () => {
    reg = await startEmulator({ port: 0, devices: [P], log: (l: string) => logs.push(l) });
    reg.on("register", (e: any) => events.push(e));
  });
  afterAll(async () => {
    await reg.close();
  });
  const regConnect = (dn: string, authType: string, key = PS, random = "8675309", method = "hmacsha1") => ({
    clientId: `${P.productKey}.${dn}|securemode=2,authType=${authType},random=${random},signmethod=${method}|`,
    username: `${dn}&${P.productKey}`,
    password: createHmac(ALG[method], key)
      .update(`deviceName${dn}productKey${P.productKey}random${random}`)
      .digest("hex"),
  });

  it("register: CONNACK 0, the deviceSecret on /ext/register without a SUBSCRIBE, then the platform closes", async () => {
    const r = new Raw(reg.port, true);
    expect(await r.connect(regConnect(P.deviceName, "register"))).toBe(0);
    const m = await r.message("/ext/register");
    expect(m.json).toEqual({ productKey: P.productKey, deviceName: P.deviceName, deviceSecret: P.deviceSecret });
    await r.closed;
    expect(events.pop()).toEqual({ productKey: P.productKey, deviceName: P.deviceName, authType: "register" });
    expect(logs.join("\n")).not.toContain(P.deviceSecret);
    expect(logs.join("\n")).not.toContain(PS);
  });

  it("regnwl: a new device gets clientId + deviceToken on /ext/regnwl; connwl logs in with them, a wrong token is refused", async () => {
    const r = new Raw(reg.port, true);
    expect(await r.connect(regConnect("brand-new", "regnwl", PS, "42", "hmacsha256"))).toBe(0);
    const m = await r.message("/ext/regnwl");
    expect(Object.keys(m.json).sort()).toEqual(["clientId", "deviceName", "deviceToken", "productKey"]);
    await r.closed;
    const login = {
      clientId: m.json.clientId + "|securemode=-2,authType=connwl|",
      username: `brand-new&${P.productKey}`,
      password: m.json.deviceToken,
    };
    const ok = new Raw(reg.port, true);
    expect(await ok.connect(login)).toBe(0);
    expect(await ok.subscribe(`/sys/${P.productKey}/brand-new/thing/service/property/set`)).toBe(1);
    ok.end();
    expect(await new Raw(reg.port, true).connect({ ...login, password: "x" + m.json.deviceToken })).toBe(4);
    expect(await new Raw(reg.port, true).connect({ ...login, clientId: "other|securemode=-2,authType=connwl|" })).toBe(
      4,
    );
    expect(logs.join("\n")).not.toContain(m.json.deviceToken);
  });

  it("refuses a wrong productSecret, an unknown product, register of an unknown device (CONNACK 4) and registration over TCP (CONNACK 2)", async () => {
    expect(await new Raw(reg.port, true).connect(regConnect(P.deviceName, "register", PS + "x"))).toBe(4);
    expect(
      await new Raw(reg.port, true).connect({
        ...regConnect(P.deviceName, "register"),
        username: `${P.deviceName}&a1OtherProd`,
      }),
    ).toBe(4);
    expect(await new Raw(reg.port, true).connect(regConnect("not-registered", "register"))).toBe(4);
    expect(await new Raw(reg.port).connect(regConnect(P.deviceName, "register"))).toBe(2);
  });
});
