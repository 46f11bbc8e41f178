// Shared test helpers: byte strings <-> Buffers, a seeded PRNG, and the mapping between
// our reader's packets and mqtt-packet's (the independent oracle).
import mqttPacket from "mqtt-packet";
import { readPackets, decodePacket, type MqttReader, type Packet } from "../../lib/mqtt";

export const toBuf = (s: string) => Buffer.from(s, "latin1");
export const toStr = (b: Buffer) => b.toString("latin1");
/** mqtt-packet's bytes for a packet object, as a byte string. */
export const gen = (o: any) => toStr(mqttPacket.generate(o, { protocolVersion: 4 }));

/** Seeded PRNG (mulberry32) so failures reproduce. */
export function seeded(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Our reader's packet in mqtt-packet's vocabulary. */
export function asMp(p: any): any {
  switch (p.type) {
    case 2:
      return { cmd: "connack", sessionPresent: p.sp, returnCode: p.rc };
    case 3:
      return {
        cmd: "publish",
        topic: toBuf(p.topic).toString("utf8"),
        payload: p.payload,
        qos: p.qos,
        dup: p.dup,
        retain: p.retain,
        ...(p.qos ? { messageId: p.id } : {}),
      };
    case 4:
      return { cmd: "puback", messageId: p.id };
    case 9:
      return { cmd: "suback", messageId: p.id, granted: p.granted };
    case 11:
      return { cmd: "unsuback", messageId: p.id };
    case 13:
      return { cmd: "pingresp" };
  }
  throw new Error("reader yielded unknown type " + p.type);
}

/** mqtt-packet's parsed packet reduced to the fields our reader reports (payloads as
 * byte strings: deep-equal on big Buffers is very slow). A type the client rejects
 * maps to `{cmd}` alone, never equal to one of ours. */
export function mpFields(x: any): any {
  switch (x.cmd) {
    case "connack":
      return { cmd: x.cmd, sessionPresent: x.sessionPresent, returnCode: x.returnCode };
    case "publish":
      return {
        cmd: x.cmd,
        topic: x.topic,
        payload: toStr(Buffer.from(x.payload)),
        qos: x.qos,
        dup: x.dup,
        retain: x.retain,
        ...(x.qos ? { messageId: x.messageId } : {}),
      };
    case "puback":
    case "unsuback":
      return { cmd: x.cmd, messageId: x.messageId };
    case "suback":
      return { cmd: x.cmd, messageId: x.messageId, granted: x.granted };
    case "pingresp":
      return { cmd: x.cmd };
  }
  return { cmd: x.cmd };
}

/** A reader over lib/mqtt's readPackets and decodePacket, as the link uses them, with the
 * push(chunk, onPacket) shape the tests use: a malformed packet throws and resets the reader. */
export function newReader(maxPacket: number) {
  const state: MqttReader = { _maxPacket: maxPacket };
  return {
    state,
    push: (chunk: string, onPacket: (packet: Packet) => void) =>
      readPackets(state, chunk, (header, body) => onPacket(decodePacket(header, body))),
  };
}
export type Reader = ReturnType<typeof newReader>;
