// Bounded, seeded fuzzing of the MQTT reader: random and mutated streams, against
// mqtt-packet's parser. The reader must only ever throw "mqtt: " errors, always terminate,
// recover after an error, and agree with mqtt-packet on every stream: the same packets, and
// a rejection only where mqtt-packet rejects too or where the reader rejects by design
// (a packet a client never receives, or one over maxPacket).
import { describe, expect, it } from "vitest";
import mqttPacket from "mqtt-packet";
import { type Packet, encodeConnect, encodePublish, encodeSubscribe } from "../lib/mqtt";

import { toBuf, gen, seeded, asMp, mpFields, newReader, type Reader } from "./support/mqtt-oracle";

type Rnd = () => number;
const int = (r: Rnd, n: number) => Math.floor(r() * n);
const bytes = (r: Rnd, n: number) => {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(int(r, 256));
  return s;
};

// a random packet a broker could send (valid), as mqtt-packet input
function randomPacket(r: Rnd): any {
  switch (int(r, 6)) {
    case 0: {
      const sp = r() < 0.5;
      return { cmd: "connack", sessionPresent: sp, returnCode: sp ? 0 : int(r, 6) };
    }
    case 1: {
      const qos = int(r, 2);
      return {
        cmd: "publish",
        topic: r() < 0.8 ? "/sys/pk/dn/" + bytes(r, int(r, 5)).replace(/[^a-z]/g, "x") : "温度/" + int(r, 99),
        payload: toBuf(bytes(r, r() < 0.9 ? int(r, 40) : int(r, 3000))),
        qos,
        dup: qos ? r() < 0.3 : false,
        retain: r() < 0.2,
        ...(qos ? { messageId: 1 + int(r, 65535) } : {}),
      };
    }
    case 2:
      return { cmd: "puback", messageId: 1 + int(r, 65535) };
    case 3:
      return {
        cmd: "suback",
        messageId: 1 + int(r, 65535),
        granted: Array.from({ length: 1 + int(r, 4) }, () => [0, 1, 2, 128][int(r, 4)]),
      };
    case 4:
      return { cmd: "unsuback", messageId: 1 + int(r, 65535) };
    default:
      return { cmd: "pingresp" };
  }
}

// mqtt-packet's packets for a stream, up to its first error, and whether it rejected the stream
function mpParse(s: string): { packets: any[]; failed: boolean } {
  const p = mqttPacket.parser({ protocolVersion: 4 });
  const packets: any[] = [];
  let failed = false;
  p.on("packet", (x: any) => {
    if (!failed) packets.push(mpFields(x));
  });
  p.on("error", () => {
    failed = true;
  });
  p.parse(toBuf(s));
  return { packets, failed };
}

// The fixed header at offset: its first byte and the whole packet's size; null when the
// remaining-length bytes are cut off or malformed (MQTT 3.1.1 §2.2.3, decoded independently).
function headerAt(s: string, offset: number): { header: number; size: number; remainingLength: number } | null {
  let length = 0,
    i = offset + 1,
    byte = 128;
  for (let shift = 0; byte & 128; shift += 7) {
    if (i >= s.length || i > offset + 4) return null;
    byte = s.charCodeAt(i++);
    length += (byte & 127) * 2 ** shift;
  }
  return { header: s.charCodeAt(offset), size: i - offset + length, remainingLength: length };
}
// First header bytes a client accepts: CONNACK, PUBACK, SUBACK, UNSUBACK, PINGRESP (flags 0)
// and PUBLISH at QoS 0 or 1 (any DUP/RETAIN).
const clientAccepts = (h: number) =>
  [0x20, 0x40, 0x90, 0xb0, 0xd0].includes(h) || (h >> 4 == 3 && (h & 6) != 4 && (h & 6) != 6);
// Remaining lengths MQTT 3.1.1 fixes: CONNACK, PUBACK, UNSUBACK 2, PINGRESP 0; a SUBACK
// holds a packet id and at least one return code. The reader rejects other lengths;
// mqtt-packet reads the fields it needs and skips the rest, or reads past a short one.
const FIXED_LENGTH: { [header: number]: number } = { 32: 2, 64: 2, 176: 2, 208: 0 };

// Our reader and mqtt-packet agree on stream s: read with our reader of maxPacket max.
function expectAgreement(s: string, got: Packet[], err: Error | undefined, max: number) {
  const theirs = mpParse(s);
  // every packet we yield is theirs at the same position
  expect(got.map(asMp)).toEqual(theirs.packets.slice(0, got.length));
  if (!err) {
    // we accept what they accept, and reject nothing they accept...
    expect(got.length).toBe(theirs.packets.length);
    return;
  }
  // ...and we reject only where they do, or by design
  if (got.length == theirs.packets.length && theirs.failed) return;
  let offset = 0;
  for (let i = 0; i < got.length; i++) offset += headerAt(s, offset)!.size;
  const next = headerAt(s, offset);
  const why = "stream " + toBuf(s).toString("hex") + " offset " + offset + ": " + err.message;
  expect(
    next === null ||
      !clientAccepts(next.header) ||
      next.size > max ||
      (next.header in FIXED_LENGTH && next.remainingLength != FIXED_LENGTH[next.header]) ||
      (next.header == 0x90 && next.remainingLength < 3),
    why,
  ).toBe(true);
  if (next === null) expect(err.message, why).toMatch(/bad header|bad remaining length/);
}

// feed s in random chunks; returns the packets and the error (if any)
function run(reader: Reader, s: string, r: Rnd): { got: Packet[]; err?: Error } {
  const got: Packet[] = [];
  const maxChunk = [1, 3, 16, 500][int(r, 4)];
  try {
    for (let i = 0; i < s.length; ) {
      const n = 1 + int(r, maxChunk);
      reader.push(s.slice(i, i + n), (p) => got.push(p));
      i += n;
    }
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/^mqtt: /);
    return { got, err: e as Error };
  }
  return { got };
}

function mutate(s: string, r: Rnd): string {
  const k = 1 + int(r, 4);
  for (let j = 0; j < k; j++) {
    const i = int(r, s.length + 1);
    switch (int(r, 5)) {
      case 0:
        s = s.slice(0, i) + String.fromCharCode(int(r, 256)) + s.slice(i + 1);
        break; // replace
      case 1:
        s = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << int(r, 8))) + s.slice(i + 1);
        break; // bit flip
      case 2:
        s = s.slice(0, i) + s.slice(i + 1 + int(r, 4));
        break; // delete
      case 3:
        s = s.slice(0, i) + bytes(r, 1 + int(r, 4)) + s.slice(i);
        break; // insert
      default:
        s = s.slice(0, i); // truncate
    }
  }
  return s;
}

const PING = "\xd0\x00";

describe("readPackets fuzz", () => {
  it("valid random streams in random chunkings read exactly as mqtt-packet generated them", () => {
    const r = seeded(101);
    for (let k = 0; k < 1500; k++) {
      const ps = Array.from({ length: 1 + int(r, 6) }, () => randomPacket(r));
      const s = ps.map(gen).join("");
      const { got, err } = run(newReader(4096), s, r);
      expect(err).toBeUndefined();
      expect(got.map(asMp)).toEqual(ps.map(mpFields));
    }
  });

  it("mutated streams: only mqtt: errors, the same packets and rejections as mqtt-packet, reader recovers", () => {
    const r = seeded(202);
    let errors = 0,
      packets = 0;
    for (let k = 0; k < 3000; k++) {
      const s = mutate(Array.from({ length: 1 + int(r, 5) }, () => gen(randomPacket(r))).join(""), r);
      const reader = newReader(r() < 0.5 ? 4096 : 64);
      const { got, err } = run(reader, s, r);
      if (err) errors++;
      packets += got.length;
      expect(got.length).toBeLessThanOrEqual(s.length / 2); // every packet takes >= 2 bytes
      expectAgreement(s, got, err, reader.state._maxPacket);
      // after an error the reader is reset and reads a fresh stream
      if (err) {
        const after: Packet[] = [];
        reader.push(PING, (p) => after.push(p));
        expect(after).toEqual([{ type: 13 }]);
      }
    }
    expect(errors).toBeGreaterThan(300);
    expect(packets).toBeGreaterThan(3000);
  });

  it("random byte streams: only mqtt: errors, always terminate, agree with mqtt-packet, bounded buffering", () => {
    const r = seeded(303);
    for (let k = 0; k < 3000; k++) {
      // half the streams start with a byte a broker may send, so that some packets parse
      const s =
        (r() < 0.5 ? String.fromCharCode([0x20, 0x30, 0x32, 0x40, 0x90, 0xb0, 0xd0][int(r, 7)]) : "") +
        bytes(r, int(r, 300));
      const reader = newReader(int(r, 2) ? 100 : 1 << 20);
      const { got, err } = run(reader, s, r);
      expectAgreement(s, got, err, reader.state._maxPacket);
      // whatever is buffered is a partial packet no bigger than maxPacket
      expect((reader.state._buffer || "").length).toBeLessThanOrEqual(Math.max(5, reader.state._maxPacket));
    }
  });

  it("our own encoder's output round-trips through the reader in random chunkings", () => {
    const r = seeded(404);
    for (let k = 0; k < 500; k++) {
      const topic = "/a/" + bytes(r, int(r, 20)).replace(/[^\x20-\x7e]/g, "");
      const payload = bytes(r, int(r, 2000));
      const qos = int(r, 2),
        id = 1 + int(r, 65535),
        dup = r() < 0.5;
      const packet = encodePublish(topic, payload, qos, id, 4096),
        s = qos && dup ? String.fromCharCode(packet.charCodeAt(0) | 8) + packet.slice(1) : packet; // DUP as a resend sets it
      const { got, err } = run(newReader(4096), s + PING, r);
      expect(err).toBeUndefined();
      expect(got).toEqual([
        { type: 3, topic, payload, qos, id: qos ? id : 0, dup: qos ? dup : false, retain: false },
        { type: 13 },
      ]);
    }
    // client-only packets are rejected by the reader
    for (const s of [encodeConnect("c", "u", "p", 60), encodeSubscribe(1, [["t", 1]])]) {
      expect(run(newReader(4096), s, r).err?.message).toMatch(/^mqtt: bad header/);
    }
  });
});
