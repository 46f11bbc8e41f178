// Hostile peers for the fault scenarios: a raw TCP "broker" that answers CONNECT and then sends
// whatever bytes a case gives, broken MQTT framings, and well-formed PUBLISHes whose payloads
// are hostile. The firmware must drop such a link (or ignore the message) and carry on.
import { createServer, type AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import mqttPacket from "mqtt-packet";
import type { Ctx } from "./scenario-kit";

/** What the raw broker sends on one connection: `bytes()` 300 ms after CONNACK (none when connack is false). */
export interface RawCase {
  k: string;
  connack?: boolean;
  bytes: () => Buffer;
}

/** One connection the raw broker accepted. */
export interface RawConn {
  i: number;
  t: number;
  closedAt: number;
  got: number;
  connack: boolean;
}

// A raw TCP "broker": CONNACK 0 on CONNECT, then the bytes of cases[i] for connection i.
export async function rawBroker(c: Ctx, cases: RawCase[]): Promise<{ port: number; conns: RawConn[] }> {
  const conns: RawConn[] = [];
  const srv = createServer((s) => {
    const rec: RawConn = { i: conns.length, t: Date.now(), closedAt: 0, got: 0, connack: false };
    conns.push(rec);
    const cs = cases[Math.min(rec.i, cases.length - 1)];
    s.on("data", (b) => {
      rec.got += b.length;
      if (b[0] >> 4 === 1 && !rec.connack && cs.connack !== false) {
        rec.connack = true;
        s.write(Buffer.from([0x20, 2, 0, 0]));
        setTimeout(() => {
          if (!s.destroyed) s.write(cs.bytes());
        }, 300);
      }
    });
    s.on("error", () => {});
    s.on("close", () => {
      rec.closedAt = Date.now();
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  c.servers.push(srv);
  return { port: (srv.address() as AddressInfo).port, conns };
}

/** Broken MQTT byte sequences, by name. */
export const HOSTILE: Record<string, () => Buffer> = {
  random: () => randomBytes(64),
  lengthOf5Bytes: () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
  topicBeyondPacket: () => Buffer.from([0x30, 0x04, 0x00, 0x10, 0x61, 0x62]),
  remaining10MB: () => Buffer.concat([Buffer.from([0x30, 0x80, 0x80, 0x80, 0x05]), randomBytes(200)]),
  type0: () => Buffer.from([0x00, 0x00]),
  type15: () => Buffer.from([0xf0, 0x00]),
  subackWrongLength: () => Buffer.from([0x90, 0x02, 0x00, 0x01]),
};

// Well-formed PUBLISHes with hostile payloads on the device's own topics.
export function hostilePublishes(pk: string, dn: string): Buffer {
  const sys = "/sys/" + pk + "/" + dn + "/",
    T = [
      sys + "thing/service/property/set",
      sys + "thing/event/property/post_reply",
      "/ext/ntp/" + pk + "/" + dn + "/response",
      sys + "unknown/topic",
    ];
  const P = [
    "",
    "{",
    "null",
    "[]",
    "1e400",
    '"str"',
    '{"id":1}',
    '{"id":"1","params":null}',
    '{"id":"1","params":"x"}',
    '{"id":"2","params":[1,2]}',
    '{"id":"3","version":"1.0","params":{"a":{"b":[1,2,{"c":null}]}}}',
    '{"deviceSendTime":"abc","serverRecvTime":"x","serverSendTime":null}',
    '{"deviceSendTime":1e400,"serverRecvTime":-1,"serverSendTime":9e99}',
    '{"code":"200","id":{}}',
    '{"code":null,"id":null,"message":[]}',
    "[".repeat(100) + "]".repeat(100),
    '{"id":"' + "9".repeat(300) + '","params":{}}',
    randomBytes(300).toString("latin1"),
  ];
  const out: Buffer[] = [];
  let id = 1;
  for (const t of T)
    for (const p of P)
      out.push(
        mqttPacket.generate({
          cmd: "publish",
          topic: t,
          payload: Buffer.from(p, "latin1"),
          qos: (id % 2) as 0 | 1,
          messageId: id++,
          retain: false,
          dup: false,
        }),
      );
  return Buffer.concat(out);
}
