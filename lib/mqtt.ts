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
  | { type: typeof PUBLISH; topic: string; payload: string; qos: number; id: number; dup: boolean; retain: boolean }
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
  let remainingLength = body.length,
    fixedHeader = chr(header);
  do {
    fixedHeader += chr(remainingLength > 127 ? (remainingLength & 127) | 128 : remainingLength);
    remainingLength >>= 7;
  } while (remainingLength);
  // checked before the concatenation: a packet too big is never copied
  if (fixedHeader.length + body.length > maxPacket!) throw Error("mqtt: packet over " + maxPacket + " bytes");
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
  if (topic.length > 65535) throw Error("mqtt: field over 65535 bytes");
  return packet(
    qos ? 50 : 48,
    chr(topic.length >> 8, topic.length & 255) + topic + (qos ? chr(id >> 8, id & 255) : "") + payload,
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
function decodePublish(header: number, body: string): Packet {
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
    dup: (header & 8) > 0,
    retain: (header & 1) > 0,
  };
}
function decodeAck(type: number, body: string): Packet {
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

/** An incremental reader's state: `{ _maxPacket: n }` to start; readPackets() keeps the rest.
 * _buffer: unparsed bytes, a partial fixed header or, once _header is set, the body;
 * _header: the first header byte once the fixed header is complete, else 0 (or unset);
 * _remainingLength: the body length once the fixed header is complete.
 * Plain data and one function: a class would cost its prototype and method names (RAM). */
export interface MqttReader {
  _maxPacket: number;
  _buffer?: string;
  _header?: number;
  _remainingLength?: number;
}

/** Reads a chunk of socket data (any size): onPacket gets every whole packet, and the reader
 * (a caller with several can tell which one it came from). A packet over
 * _maxPacket bytes (whole packet) or malformed input throws "mqtt: …" and resets the reader.
 * A throwing onPacket loses nothing: the rest is kept for the next call. */
export function readPackets(
  reader: MqttReader,
  chunk: string,
  onPacket: (packet: Packet, reader: MqttReader) => void,
): void {
  // The chunk is read where it is, at an offset: a chunk often holds several packets (a
  // PUBACK and a reply per post), and cutting the rest off after each one would copy it
  // again for each (measured: most of a post's CPU in string copies with 8 posts in flight).
  // Only what is left over, a partial packet, is kept.
  let buffer = reader._buffer ? reader._buffer + chunk : chunk,
    // its length, read once: Espruino counts a string's length block by block at each .length
    size = buffer.length,
    header = reader._header,
    remainingLength = reader._remainingLength!,
    // where the next packet starts in buffer (once its fixed header is read: its body)
    offset = 0,
    // decoding the remaining length (MQTT 3.1.1 §2.2.3)
    position: number,
    multiplier: number,
    encodedByte: number,
    packet: Packet;
  // the state stays reset (so a throw leaves it reset) until we store it back; no buffer is
  // undefined, not "" (an empty string takes a JsVar, docs/ESPRUINO.md §7)
  reader._buffer = undefined;
  reader._header = 0;
  for (;;) {
    if (!header) {
      if (offset >= size) return;
      header = buffer.charCodeAt(offset);
      // accepted: PUBLISH QoS 0/1; CONNACK, PUBACK, SUBACK, UNSUBACK, PINGRESP with flags 0.
      // 10772 has bits 2, 4, 9, 11, 13 set: the types a client accepts with flags 0.
      if (header >> 4 == PUBLISH ? header & 4 : header & 15 || !((10772 >> (header >> 4)) & 1))
        throw Error("mqtt: bad header " + header);
      // the remaining length: 1 to 4 bytes of 7 bits, low first (MQTT 3.1.1 §2.2.3). A byte past
      // the end of the buffer reads NaN, which ends the loop. (Short: the loop's text is scanned
      // again for every packet, Espruino lexing as it runs.)
      remainingLength = 0;
      multiplier = 1;
      position = offset + 1;
      do {
        encodedByte = buffer.charCodeAt(position++);
        remainingLength += (encodedByte & 127) * multiplier;
        multiplier *= 128;
      } while (encodedByte > 127 && multiplier < 268435456);
      // the header cut short: kept for the next chunk
      if (position > size) {
        reader._buffer = buffer.slice(offset);
        return;
      }
      // a 4th length byte that asks for a 5th; the whole packet (header included) over maxPacket
      if (encodedByte > 127 || position - offset + remainingLength > reader._maxPacket) {
        throw Error(
          encodedByte > 127 ? "mqtt: bad remaining length" : "mqtt: packet over " + reader._maxPacket + " bytes",
        );
      }
      offset = position;
    }
    if (size - offset < remainingLength) {
      reader._buffer = buffer.slice(offset);
      reader._header = header;
      reader._remainingLength = remainingLength;
      return;
    }
    // a well-formed PUBACK, the most common packet, is decoded here (decodeAck is longer)
    packet =
      header == 64 && remainingLength == 2
        ? { type: PUBACK, id: (buffer.charCodeAt(offset) << 8) | buffer.charCodeAt(offset + 1) }
        : header >> 4 == PUBLISH
          ? decodePublish(header, buffer.substr(offset, remainingLength))
          : decodeAck(header >> 4, buffer.substr(offset, remainingLength));
    offset += remainingLength;
    header = 0;
    try {
      onPacket(packet, reader);
    } catch (thrown) {
      // kept for the next call; a reader the callback has filled since keeps its own
      if (!reader._buffer) reader._buffer = buffer.slice(offset);
      throw thrown;
    }
  }
}
