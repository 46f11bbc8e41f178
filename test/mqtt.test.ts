// The codec against mqtt-packet as an independent oracle, both ways.
import { describe, expect, it } from "vitest";
import mqttPacket from "mqtt-packet";
import {
  type Packet,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
} from "../lib/mqtt";

import { toBuf, toStr, gen, seeded, asMp, mpFields, newReader, type Reader } from "./support/mqtt-oracle";

// mqtt-packet's parser on our bytes: all packets, or its error
function mpParse(bytes: string): any[] {
  const p = mqttPacket.parser({ protocolVersion: 4 });
  const out: any[] = [];
  let err: Error | null = null;
  p.on("packet", (x: any) => out.push(x));
  p.on("error", (e: Error) => {
    err = e;
  });
  p.parse(toBuf(bytes));
  if (err) throw err;
  return out;
}
const mpOne = (bytes: string) => {
  const a = mpParse(bytes);
  expect(a.length).toBe(1);
  return a[0];
};

// feed a stream into a reader in the given chunk sizes (cycled), collect packets
function feed(r: Reader, s: string, sizes: number[] | ((i: number) => number)): Packet[] {
  const out: Packet[] = [];
  for (let i = 0, k = 0; i < s.length; k++) {
    const n = typeof sizes === "function" ? sizes(k) : sizes[k % sizes.length];
    r.push(s.slice(i, i + n), (p) => out.push(p));
    i += n;
  }
  return out;
}
const readAll = (s: string, max = 1 << 28) => feed(newReader(max), s, [s.length || 1]);

const binary = (n: number, seed = 7) => {
  const r = seeded(seed);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * 256));
  return s;
};

describe("writer vs mqtt-packet", () => {
  it("CONNECT: clean session, keepalive, clientId, username, password, no will", () => {
    const cases: [string, string, string, number][] = [
      ["dev1|securemode=3,signmethod=hmacsha1|", "dn&pk", "0123456789abcdef0123456789abcdef01234567", 300],
      ["", "u", "p", 0],
      ["温度客户端", "用户", "pässwörd", 65535],
      ["c".repeat(300), "u".repeat(200), "p".repeat(70000 - 69800), 60],
    ];
    for (const [id, user, pass, ka] of cases) {
      const bytes = encodeConnect(id, user, pass, ka);
      const p = mpOne(bytes);
      expect(p).toMatchObject({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clean: true,
        keepalive: ka,
        clientId: id,
        username: user,
      });
      expect(p.will).toBeUndefined();
      expect(Buffer.from(p.password).toString("utf8")).toBe(pass);
      // byte-exact with mqtt-packet's generator for the same fields
      expect(bytes).toBe(
        gen({
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: 4,
          clean: true,
          keepalive: ka,
          clientId: id,
          username: user,
          password: Buffer.from(pass),
        }),
      );
    }
  });

  it("PUBLISH QoS 0 and 1, packet id, DUP, binary payloads", () => {
    // topics as bytes (UTF-8), as the firmware has them: mqtt-packet reads them as text
    const topics = ["/sys/a1b2c3/dev/thing/event/property/post", "t", Buffer.from("温度/ü").toString("latin1")];
    const payloads = [
      "",
      '{"id":"1","params":{}}',
      binary(256),
      binary(1000, 3),
      Buffer.from("温度=1").toString("latin1"),
    ];
    for (const topic of topics)
      for (const payload of payloads)
        for (const [qos, id, dup] of [
          [0, 0, false],
          [1, 1, false],
          [1, 65535, true],
          [1, 258, false],
        ] as const) {
          // DUP as the link sets it on a resend: in the first byte of the packet
          const packet = encodePublish(topic, payload, qos, id, 4096),
            bytes = dup ? String.fromCharCode(packet.charCodeAt(0) | 8) + packet.slice(1) : packet,
            text = Buffer.from(topic, "latin1").toString("utf8");
          const p = mpOne(bytes);
          expect(p).toMatchObject({ cmd: "publish", topic: text, qos, dup, retain: false });
          expect(toStr(p.payload)).toBe(payload);
          if (qos) expect(p.messageId).toBe(id);
          expect(bytes).toBe(
            gen({
              cmd: "publish",
              topic: text,
              payload: toBuf(payload),
              qos,
              dup,
              retain: false,
              ...(qos ? { messageId: id } : {}),
            }),
          );
        }
  });

  it("PUBLISH QoS 0 ignores id", () => {
    expect(encodePublish("t", "x", 0, 77, 100)).toBe(
      gen({ cmd: "publish", topic: "t", payload: Buffer.from("x"), qos: 0, dup: false, retain: false }),
    );
  });

  it("PUBACK, PINGREQ, DISCONNECT", () => {
    for (const id of [1, 255, 256, 4660, 65535]) {
      expect(mpOne(encodePuback(id))).toMatchObject({ cmd: "puback", messageId: id });
      expect(encodePuback(id)).toBe(gen({ cmd: "puback", messageId: id }));
    }
    expect(mpOne(encodePingreq()).cmd).toBe("pingreq");
    expect(encodePingreq()).toBe(gen({ cmd: "pingreq" }));
    expect(mpOne(encodeDisconnect()).cmd).toBe("disconnect");
    expect(encodeDisconnect()).toBe(gen({ cmd: "disconnect" }));
  });

  it("SUBSCRIBE one or more topics, each at its own QoS 0/1", () => {
    const lists: [string, 0 | 1][][] = [
      [["/a1/dev/user/get", 0]],
      [["/a1/dev/user/get", 1]],
      [
        ["/sys/pk/dn/thing/service/property/set", 1],
        ["/ext/ntp/pk/dn/response", 0],
        ["温度/#", 1],
        ["+/x", 0],
      ],
    ];
    for (const filters of lists)
      for (const id of [1, 300]) {
        const bytes = encodeSubscribe(id, filters);
        const subscriptions = filters.map(([topic, qos]) => ({ topic, qos }));
        expect(mpOne(bytes)).toMatchObject({ cmd: "subscribe", messageId: id, subscriptions });
        expect(bytes).toBe(gen({ cmd: "subscribe", messageId: id, subscriptions }));
      }
  });

  it("string fields are measured in UTF-8 bytes; over 65535 bytes throws naming the limit", () => {
    // 21845 chars * 3 bytes = 65535 bytes: the largest field
    const ok = "温".repeat(21845);
    expect(mpOne(encodeConnect(ok, "u", "p", 60)).clientId).toBe(ok);
    // 21846 chars is only 21846 chars but 65538 bytes
    const tooLong = "温".repeat(21846);
    // a PUBLISH's topic is bytes already (UTF-8): its length is its byte count
    const bytesOf = (text: string) => Buffer.from(text).toString("latin1");
    expect(mpOne(encodePublish(bytesOf(ok), "p", 0, 0, 1e6)).topic).toBe(ok);
    expect(() => encodePublish(bytesOf(tooLong), "p", 0, 0, 1e6)).toThrow(/^mqtt: .*65535/);
    expect(() => encodeConnect(tooLong, "u", "p", 60)).toThrow(/65535/);
    expect(() => encodeConnect("c", "x".repeat(65536), "p", 60)).toThrow(/65535/);
    expect(() =>
      encodeSubscribe(1, [
        ["a", 1],
        [tooLong, 1],
      ]),
    ).toThrow(/65535/);
    expect(mpOne(encodeConnect("c", "x".repeat(65535), "p", 60)).username.length).toBe(65535);
  });

  it("the password never appears in an error message", () => {
    const secret = "s3cr3t-" + "x".repeat(65535);
    try {
      encodeConnect("c", "u", secret, 60);
      expect.unreachable();
    } catch (e: any) {
      expect(e.message).not.toContain("s3cr3t");
    }
  });

  it("a whole packet over maxPacket throws naming the limit; one at maxPacket is built", () => {
    // whole packet = 1 type byte + 2 remaining-length bytes + 2 + topic + payload (QoS 0)
    expect(() => encodePublish("t", "x".repeat(4091), 0, 0, 4096)).toThrow(/^mqtt: packet over 4096 bytes$/);
    const atMax = encodePublish("t", "x".repeat(4090), 0, 0, 4096);
    expect(mpOne(atMax).payload.length).toBe(4090);
    expect(atMax.length).toBe(4096);
    // QoS 1 adds the 2-byte packet id
    expect(() => encodePublish("t", "x".repeat(4089), 1, 5, 4096)).toThrow(/4096/);
    expect(encodePublish("t", "x".repeat(4088), 1, 5, 4096).length).toBe(4096);
  });

  it("remaining length at the 1-4 byte boundaries; maxPacket counts the header bytes", () => {
    for (const [rl, hdr] of [
      [127, 2],
      [128, 3],
      [16383, 3],
      [16384, 4],
      [2097151, 4],
      [2097152, 5],
    ]) {
      const payload = "z".repeat(rl - 3); // topic "t": 2 + 1 bytes
      const bytes = encodePublish("t", payload, 0, 0, hdr + rl);
      expect(bytes.length).toBe(hdr + rl);
      const p = mpOne(bytes);
      expect(p.length).toBe(rl);
      expect(p.payload.length).toBe(rl - 3);
      expect(bytes.slice(0, hdr)).toBe(
        gen({ cmd: "publish", topic: "t", payload: toBuf(payload), qos: 0, dup: false, retain: false }).slice(0, hdr),
      );
      expect(() => encodePublish("t", payload, 0, 0, hdr + rl - 1)).toThrow(/^mqtt: packet over/);
    }
  });
});

// packets a broker sends to a client, as mqtt-packet objects
function brokerPackets(): any[] {
  const ps: any[] = [];
  for (const sessionPresent of [false, true])
    for (const returnCode of [0, 1, 2, 3, 4, 5]) {
      if (!(sessionPresent && returnCode)) ps.push({ cmd: "connack", sessionPresent, returnCode });
    }
  for (const topic of ["/sys/pk/dn/thing/service/property/set", "t", "温度"]) {
    for (const payload of ["", '{"method":"thing.service.property.set"}', binary(300, 11)]) {
      ps.push({ cmd: "publish", topic, payload: toBuf(payload), qos: 0, dup: false, retain: false });
      ps.push({ cmd: "publish", topic, payload: toBuf(payload), qos: 0, dup: false, retain: true });
      ps.push({ cmd: "publish", topic, payload: toBuf(payload), qos: 1, dup: false, retain: false, messageId: 1 });
      ps.push({ cmd: "publish", topic, payload: toBuf(payload), qos: 1, dup: true, retain: true, messageId: 65535 });
    }
  }
  for (const messageId of [1, 256, 65535]) {
    ps.push({ cmd: "puback", messageId });
    ps.push({ cmd: "unsuback", messageId });
  }
  ps.push({ cmd: "suback", messageId: 9, granted: [0] });
  ps.push({ cmd: "suback", messageId: 10, granted: [1, 0, 128, 2] });
  ps.push({ cmd: "suback", messageId: 11, granted: [128] });
  ps.push({ cmd: "suback", messageId: 12, granted: new Array(200).fill(1) });
  ps.push({ cmd: "pingresp" });
  return ps;
}

describe("reader vs mqtt-packet", () => {
  const ps = brokerPackets();
  const stream = ps.map(gen).join("");

  it("every broker packet, one at a time, gives mqtt-packet's fields", () => {
    for (const o of ps) {
      const bytes = gen(o);
      const got = readAll(bytes);
      expect(got.length).toBe(1);
      expect(asMp(got[0])).toEqual(mpFields(mpOne(bytes)));
      expect(asMp(got[0])).toEqual(mpFields(o));
    }
  });

  it("packet objects have exactly the documented fields", () => {
    const got = readAll(
      [
        ps[1],
        ps[7],
        ps[8],
        ps.find((p) => p.cmd === "puback"),
        ps.find((p) => p.cmd === "unsuback"),
        ps.at(-2),
        ps.at(-1),
      ]
        .map(gen)
        .join(""),
    );
    expect(got.map((p) => Object.keys(p).sort().join())).toEqual([
      "rc,sp,type",
      "dup,id,payload,qos,retain,topic,type",
      "dup,id,payload,qos,retain,topic,type",
      "id,type",
      "id,type",
      "granted,id,type",
      "type",
    ]);
    expect(got[1]).toMatchObject({ type: 3, qos: 0, id: 0 });
  });

  it("the whole stream in one chunk, byte by byte, and in random chunkings", () => {
    const want = ps.map(mpFields);
    expect(readAll(stream).map(asMp)).toEqual(want);
    expect(feed(newReader(4096), stream, [1]).map(asMp)).toEqual(want);
    for (let seed = 1; seed <= 30; seed++) {
      const r = seeded(seed);
      const big = seed % 3 ? 8 : 700;
      expect(feed(newReader(4096), stream, () => 1 + Math.floor(r() * big)).map(asMp)).toEqual(want);
    }
  });

  it("a header split inside the remaining-length bytes", () => {
    const payload = binary(20000, 5);
    const bytes = gen({
      cmd: "publish",
      topic: "a/b",
      payload: toBuf(payload),
      qos: 1,
      dup: false,
      retain: false,
      messageId: 42,
    });
    expect(bytes.charCodeAt(1) & 128).toBe(128); // 3 length bytes
    for (const cut of [1, 2, 3, 4, 5]) {
      const got = feed(newReader(1 << 20), bytes, [cut, bytes.length]);
      expect(got.length).toBe(1);
      expect(got[0]).toMatchObject({ type: 3, topic: "a/b", qos: 1, id: 42 });
      expect((got[0] as any).payload).toBe(payload);
    }
  });

  it("a 20 KB publish fed in 1-byte chunks", () => {
    const payload = binary(20000, 9);
    const bytes = gen({ cmd: "publish", topic: "big", payload: toBuf(payload), qos: 0, dup: false, retain: false });
    const got = feed(newReader(20480), bytes + gen({ cmd: "pingresp" }), [1]);
    expect(got.length).toBe(2);
    expect((got[0] as any).payload).toBe(payload);
    expect(got[1].type).toBe(13);
  });

  it("remaining length boundaries 127/128/16383/16384/2097151/2097152", () => {
    for (const rl of [127, 128, 16383, 16384, 2097151, 2097152]) {
      const payload = binary(rl - 5 > 70000 ? 0 : rl - 5, rl) || "y".repeat(rl - 5);
      const o = {
        cmd: "publish",
        topic: "t",
        payload: toBuf(payload),
        qos: 1,
        dup: false,
        retain: false,
        messageId: 3,
      };
      const bytes = gen(o);
      expect(bytes.length).toBe(rl + (rl < 128 ? 2 : rl < 16384 ? 3 : rl < 2097152 ? 4 : 5));
      const r = seeded(rl);
      for (const sizes of [[bytes.length], [1, 1, 1, 1, 1, 1000], () => 1 + Math.floor(r() * 5000)]) {
        const got = feed(newReader(bytes.length), bytes, sizes);
        expect(got.length).toBe(1);
        expect(asMp(got[0])).toEqual(mpFields(o));
      }
      // one byte over maxPacket (the whole packet) is rejected from the header alone
      expect(() => newReader(bytes.length - 1).push(bytes.slice(0, 5), () => {})).toThrow(/^mqtt: packet over/);
    }
  });

  it("a throwing onPacket propagates and resets the reader, as malformed input does", () => {
    const r = newReader(4096);
    const got: Packet[] = [];
    let n = 0;
    // cut inside the 5th packet: the throw at the 3rd must drop the partial 5th too
    const cut = ps.slice(0, 4).map(gen).join("").length + 3;
    expect(() =>
      r.push(stream.slice(0, cut), (p) => {
        if (++n === 3) throw new Error("app");
        got.push(p);
      }),
    ).toThrow("app");
    expect(got.map(asMp)).toEqual(ps.slice(0, 2).map(mpFields));
    expect(r.state._buffer).toBeUndefined();
    // a fresh stream parses from its start
    r.push(gen({ cmd: "pingresp" }), (p) => got.push(p));
    expect(got.length).toBe(3);
    expect(got[2]).toEqual({ type: 13 });
  });
});

describe("reader rejects malformed input with 'mqtt: ' errors and resets", () => {
  const ping = gen({ cmd: "pingresp" });
  const bad: [string, string, RegExp][] = [
    ["5th remaining-length byte", "\x30\xff\xff\xff\xff\x01", /remaining length/],
    ["CONNECT", gen({ cmd: "connect", clientId: "x", protocolId: "MQTT", protocolVersion: 4 }), /header 16/],
    ["SUBSCRIBE", gen({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a", qos: 0 }] }), /header/],
    ["UNSUBSCRIBE", gen({ cmd: "unsubscribe", messageId: 1, unsubscriptions: ["a"] }), /header/],
    ["PINGREQ", gen({ cmd: "pingreq" }), /header/],
    ["DISCONNECT", gen({ cmd: "disconnect" }), /header/],
    ["PUBREC", gen({ cmd: "pubrec", messageId: 1 }), /header/],
    ["PUBREL", gen({ cmd: "pubrel", messageId: 1 }), /header/],
    ["PUBCOMP", gen({ cmd: "pubcomp", messageId: 1 }), /header/],
    ["type 0", "\x00\x00", /header 0/],
    ["type 15", "\xf0\x00", /header 240/],
    ["QoS 2 PUBLISH", gen({ cmd: "publish", topic: "a", payload: Buffer.from("x"), qos: 2, messageId: 1 }), /header/],
    ["QoS 3 PUBLISH", "\x36\x05\x00\x01a\x00\x01", /header 54/],
    ["PUBACK flags", "\x42\x02\x00\x01", /header/],
    ["CONNACK flags", "\x21\x02\x00\x00", /header/],
    ["CONNACK acknowledge flags other than session present", "\x20\x02\x02\x00", /bad packet, type 2/],
    ["SUBACK return code 3", "\x90\x04\x00\x01\x01\x03", /bad packet, type 9/],
    ["SUBACK return code 0x81", "\x90\x03\x00\x01\x81", /bad packet, type 9/],
    ["SUBACK flags", "\x92\x03\x00\x01\x00", /header/],
    ["PINGRESP flags", "\xd1\x00", /header/],
    ["topic length beyond remaining length", "\x30\x04\x00\x05ab", /bad packet, type 3/],
    ["QoS 1 PUBLISH without room for the packet id", "\x32\x04\x00\x02ab", /bad packet, type 3/],
    ["QoS 1 PUBLISH with 1 byte of packet id", "\x32\x05\x00\x02ab\x01", /bad packet, type 3/],
    ["PUBLISH shorter than a topic length", "\x30\x01\x00", /bad packet, type 3/],
    ["empty PUBLISH", "\x30\x00", /bad packet, type 3/],
    ["CONNACK of length 3", "\x20\x03\x00\x00\x00", /bad packet, type 2/],
    ["CONNACK of length 1", "\x20\x01\x00", /bad packet, type 2/],
    ["PUBACK of length 3", "\x40\x03\x00\x01\x00", /bad packet, type 4/],
    ["UNSUBACK of length 0", "\xb0\x00", /bad packet, type 11/],
    ["SUBACK without return codes", "\x90\x02\x00\x01", /bad packet, type 9/],
    ["PINGRESP of length 1", "\xd0\x01\x00", /bad packet, type 13/],
  ];

  for (const [name, bytes, re] of bad) {
    it(name, () => {
      for (const sizes of [[bytes.length], [1]]) {
        const r = newReader(4096);
        const got: Packet[] = [];
        // a good packet first, then the bad one, then a good one in the same stream
        const err = (() => {
          try {
            feed(r, ping + bytes + ping, sizes.length > 1 ? sizes : [ping.length + bytes.length + 2]).forEach((p) =>
              got.push(p),
            );
          } catch (e) {
            return e as Error;
          }
        })();
        expect(err).toBeInstanceOf(Error);
        expect(err!.message).toMatch(/^mqtt: /);
        expect(err!.message).toMatch(re);
        // the reader is reset: a fresh stream parses
        const after: Packet[] = [];
        r.push(ping + ping, (p) => after.push(p));
        expect(after).toEqual([{ type: 13 }, { type: 13 }]);
      }
    });
  }

  it("an error mid-chunk keeps the packets before it and drops the rest", () => {
    const r = newReader(4096);
    const got: Packet[] = [];
    expect(() => r.push(ping + "\x00\x00" + ping, (p) => got.push(p))).toThrow(/^mqtt: bad header 0$/);
    expect(got).toEqual([{ type: 13 }]);
    r.push(gen({ cmd: "puback", messageId: 7 }), (p) => got.push(p));
    expect(got).toEqual([{ type: 13 }, { type: 4, id: 7 }]);
  });

  it("the 5th length byte is rejected without waiting for more bytes", () => {
    const r = newReader(1 << 28);
    r.push("\x30\xff\xff\xff", () => {});
    expect(() => r.push("\xff", () => {})).toThrow(/^mqtt: bad remaining length$/);
  });

  it("a packet over maxPacket is rejected from the header, before any body is buffered", () => {
    const r = newReader(4096);
    // 10 MB declared; only the header is sent
    expect(() => r.push("\x30\x80\x80\x80\x05", () => {})).toThrow(/^mqtt: packet over 4096 bytes$/);
    const r2 = newReader(4096);
    const at = gen({ cmd: "publish", topic: "t", payload: Buffer.alloc(4090), qos: 0, dup: false, retain: false });
    expect(at.length).toBe(4096);
    expect(readAll(at, 4096).length).toBe(1);
    const over = gen({ cmd: "publish", topic: "t", payload: Buffer.alloc(4091), qos: 0, dup: false, retain: false });
    expect(() => r2.push(over.slice(0, 3), () => {})).toThrow(/4096/);
  });

  it("the header byte is rejected as soon as it arrives", () => {
    expect(() => newReader(4096).push("\x10", () => {})).toThrow(/^mqtt: bad header 16$/);
  });
});
