// MQTT 3.1.1 client codec on byte strings: the packets this firmware sends,
// and an incremental reader for the packets a broker sends to a client.
// maxPacket everywhere is the size of the whole packet: fixed header included.
import { chr, utf8 } from "./bytes";

// Control packet types (MQTT 3.1.1 §2.2.1) the reader yields
export const CONNACK = 2,
  PUBLISH = 3,
  PUBACK = 4,
  SUBACK = 9,
  UNSUBACK = 11,
  PINGRESP = 13;

// A topic filter and the QoS requested for it
export type Subscription = [string, 0 | 1];

export type Packet =
  | { type: typeof CONNACK; sp: boolean; rc: number }
  | { type: typeof PUBLISH; topic: string; payload: string; qos: number; id: number; dup?: boolean; retain?: boolean }
  | { type: typeof PUBACK | typeof UNSUBACK; id: number }
  | { type: typeof SUBACK; id: number; granted: number[] }
  | { type: typeof PINGRESP };

// Two-byte integers are written `chr(value >> 8, value & 255)` and read
// `(bytes.charCodeAt(at) << 8) | bytes.charCodeAt(at + 1)` where they are used, and errors
// thrown as `Error("mqtt: …")` there: a helper function each would be resident (RAM).

// length-prefixed UTF-8 string field
function stringField(text: string): string {
  // ASCII (every topic of the platform) is tested here: utf8() is long, and Espruino lexes
  // all of a function's text at each call (a topic is encoded with every post)
  if (/[^\x00-\x7f]/.test(text)) text = utf8(text);
  if (text.length > 65535) throw Error("mqtt: field over 65535 bytes");
  return chr(text.length >> 8, text.length & 255) + text;
}

// fixed header + remaining length + body; a whole packet over maxPacket throws (no
// maxPacket: no limit). The remaining length never reaches the 268435455 the 4 bytes hold:
// no device has that much RAM.
function packet(header: number, body: string, maxPacket?: number): string {
  // (a string's .length is counted block by block: read once)
  const bodyLength = body.length;
  let remainingLength = bodyLength,
    fixedHeader = chr(header);
  do {
    fixedHeader += chr(remainingLength > 127 ? (remainingLength & 127) | 128 : remainingLength);
    remainingLength >>= 7;
  } while (remainingLength);
  // checked before the concatenation: a packet too big is never copied
  if (fixedHeader.length + bodyLength > maxPacket!) throw Error("mqtt: packet over " + maxPacket + " bytes");
  return fixedHeader + body;
}
/** CONNECT, clean session, no will; username and password always sent. */
export function encodeConnect(clientId: string, username: string, password: string, keepAlive: number): string {
  return packet(
    16,
    "\0\x04MQTT\x04\xc2" +
      chr(keepAlive >> 8, keepAlive & 255) +
      stringField(clientId) +
      stringField(username) +
      stringField(password),
  );
}

/** PUBLISH; topic and payload are byte strings, written as they are (the device's topics are
 * ASCII, built from its validated productKey and deviceName, or bytes of a received topic);
 * id is ignored for QoS 0; throws if the whole packet is over maxPacket bytes. DUP is never
 * set here: a resend sets it in the first byte of the packet it keeps (`| 8`), and a parameter
 * for it would cost a JsVar of this resident function. */
export function encodePublish(topic: string, payload: string, qos: number, id: number, maxPacket: number): string {
  // not stringField(): its test for non-ASCII text is a regex, and Espruino's regex engine
  // costs several thousand instructions per char (bench/ram.ts, BENCH_CALLGRIND=1: 5 % of a post)
  const topicLength = topic.length; // (read once, as in packet())
  if (topicLength > 65535) throw Error("mqtt: field over 65535 bytes");
  return packet(
    qos ? 50 : 48,
    chr(topicLength >> 8, topicLength & 255) + topic + (qos ? chr(id >> 8, id & 255) : "") + payload,
    maxPacket,
  );
}

export const encodePuback = (id: number) => "\x40\x02" + chr(id >> 8, id & 255);

/** SUBSCRIBE: each filter is [topic filter, requested QoS]. */
export function encodeSubscribe(id: number, filters: Subscription[]): string {
  let body = chr(id >> 8, id & 255);
  for (const filter of filters) body += stringField(filter[0]) + chr(filter[1]);
  return packet(130, body);
}

export const encodePingreq = () => "\xc0\0";
export const encodeDisconnect = () => "\xe0\0";

// The body of a PUBLISH (QoS 0 or 1: the reader refuses QoS 2) and of the other packets a
// client receives, one function each (a PUBACK, the most common, never lexes the PUBLISH code:
// Espruino lexes all of a function's text at each call). The body is the packet's own copy
// (its length the remaining length: no parameter for it, each parameter of a resident function
// costs a JsVar). Malformed: "mqtt: bad packet, type N".
export function decodePublish(header: number, body: string): Packet {
  const topicEnd = ((body.charCodeAt(0) << 8) | body.charCodeAt(1)) + 2,
    qos = (header >> 1) & 1,
    payloadStart = topicEnd + 2 * qos; // after the packet id
  if (payloadStart > body.length) throw Error("mqtt: bad packet, type " + PUBLISH);
  return {
    type: PUBLISH,
    topic: body.slice(2, topicEnd),
    payload: body.slice(payloadStart),
    qos: qos,
    id: qos && (body.charCodeAt(topicEnd) << 8) | body.charCodeAt(topicEnd + 1),
  };
}
export function decodeAck(type: number, body: string): Packet {
  let position: number, code: number;
  const remainingLength = body.length;
  // CONNACK: acknowledge flags 0 or 1 (bits 7-1 reserved); SUBACK: return codes 0, 1, 2 or 128
  let malformed: any =
    type == SUBACK
      ? remainingLength < 3
      : remainingLength != (type == PINGRESP ? 0 : 2) || (type == CONNACK && body.charCodeAt(0) > 1);
  const packet: any =
    type == CONNACK
      ? { type: type, sp: (body.charCodeAt(0) & 1) > 0, rc: body.charCodeAt(1) }
      : remainingLength
        ? { type: type, id: (body.charCodeAt(0) << 8) | body.charCodeAt(1) }
        : { type: type };
  if (type == SUBACK)
    for (packet.granted = [], position = 2; position < remainingLength; ) {
      code = body.charCodeAt(position++);
      if (code > 2 && code != 128) malformed = 1;
      packet.granted.push(code);
    }
  if (malformed) throw Error("mqtt: bad packet, type " + type);
  return packet;
}

/** The packet readPackets() found: its first header byte (which the reader has checked: a type
 * and flags a client accepts) and its body. Malformed: "mqtt: bad packet, type N". (The link
 * decodes a PUBACK itself, with no packet object: the most common packet.) */
export function decodePacket(header: number, body: string): Packet {
  // a PUBLISH with its DUP and RETAIN flags (the link has no use for them: decodePublish leaves
  // them out, two properties less per message)
  return header >> 4 == PUBLISH
    ? Object.assign(decodePublish(header, body), { dup: (header & 8) > 0, retain: (header & 1) > 0 })
    : decodeAck(header >> 4, body);
}

/** An incremental reader's state: `{ _maxPacket: n }` to start; readPackets() keeps the rest.
 * _buffer: what is left of the last chunk, the start of a packet (undefined: none).
 * Plain data and one function: a class would cost its prototype and method names (RAM). */
export interface MqttReader {
  _maxPacket: number;
  _buffer?: string;
}

/** Reads a chunk of socket data (any size): onPacket gets every whole packet, its first header
 * byte and its body (decodePacket() makes a Packet of them), and the reader (a caller with
 * several can tell which one it came from). A header byte that is no packet a broker sends to a
 * client, a bad remaining length or a packet over _maxPacket bytes (whole packet) throws
 * "mqtt: …" at once and resets the reader; so does a throw of onPacket, which propagates (the
 * link drops the session then: what follows is of no use). */
export function readPackets(
  reader: MqttReader,
  chunk: string,
  onPacket: (header: number, body: string, reader: MqttReader) => void,
): void {
  // The chunk is read where it is, at an offset: a chunk often holds several packets (a
  // PUBACK and a reply per post), and cutting the rest off after each one would copy it
  // again for each (measured: most of a post's CPU in string copies with 8 posts in flight).
  // Only what is left over, a partial packet, is kept, and its fixed header read again with
  // the next chunk (no state for it: RAM). The loop's text is lexed again for every packet
  // (Espruino lexes as it runs): it is kept short, its rare work in expressions.
  let buffer = reader._buffer ? reader._buffer + chunk : chunk,
    // its length, read once: Espruino counts a string's length block by block at each .length
    size = buffer.length,
    // where the next packet starts in buffer, and where its body starts
    offset = 0,
    position: number,
    header: number,
    // the remaining length (MQTT 3.1.1 §2.2.3): 1 to 4 bytes of 7 bits, low first
    remainingLength: number,
    multiplier: number,
    encodedByte: number,
    badHeader: any;
  // reset (so a throw leaves it reset) until what is left is stored; no buffer is undefined,
  // not "" (an empty string takes a JsVar, docs/ESPRUINO.md §7)
  reader._buffer = undefined;
  while (offset < size) {
    header = buffer.charCodeAt(offset);
    remainingLength = 0;
    multiplier = 1;
    position = offset + 1;
    // a byte past the end of the buffer reads NaN, which ends the loop (the length cut short:
    // NaN, read again with the next chunk)
    do {
      encodedByte = buffer.charCodeAt(position++);
      remainingLength += (encodedByte % 128) * multiplier; // (NaN & 127 would be 0)
      multiplier *= 128;
    } while (encodedByte > 127 && multiplier < 268435456);
    // accepted: PUBLISH QoS 0/1; CONNACK, PUBACK, SUBACK, UNSUBACK, PINGRESP with flags 0
    // (10772 has bits 2, 4, 9, 11, 13 set: the types a client accepts with flags 0); a 4th
    // length byte that asks for a 5th; the whole packet (header included) over maxPacket
    if (
      (badHeader = header >> 4 == PUBLISH ? header & 4 : header & 15 || !((10772 >> (header >> 4)) & 1)) ||
      encodedByte > 127 ||
      position - offset + remainingLength > reader._maxPacket
    )
      throw Error(
        badHeader
          ? "mqtt: bad header " + header
          : encodedByte > 127
            ? "mqtt: bad remaining length"
            : "mqtt: packet over " + reader._maxPacket + " bytes",
      );
    // not all here yet (NaN too): kept for the next chunk
    if (!(position + remainingLength <= size)) {
      reader._buffer = buffer.slice(offset);
      return;
    }
    offset = position + remainingLength;
    onPacket(header, buffer.substr(position, remainingLength), reader);
  }
}
