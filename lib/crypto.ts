// HMAC over an injected hash (native SHA1/SHA256 on the device) and a JS MD5,
// the one digest Espruino lacks. All values are byte strings.
import { chr } from "./bytes";

/** Byte string in, raw digest byte string out. */
export type Hash = (bytes: string) => string;

export interface CryptoKit {
  _md5: Hash;
  _hmac(hash: Hash, key: string, message: string): string;
  _hex(bytes: string): string;
}

/**
 * MD5 and HMAC, created by each call and freed when the caller drops them (RAM: neither is
 * resident on the device; signing at each start and the MD5 check of an OTA image call it).
 * The named exports below are the same functions one at a time, for the host (tests).
 */
export function cryptoKit(): CryptoKit {
  /** RFC 1321 MD5. 32-bit math with |0 and shifts only (no Math.imul on Espruino). */
  const md5: Hash = (bytes) => {
    const length = bytes.length,
      // index of the bit-length word in the padded message
      lengthWord = (((length + 8) >> 6) << 4) + 14;
    // a..d: the state (RFC 1321's A..D); A..D below: its value before the block (AA..DD).
    // words: the current 16-word block only, so a long message (an OTA image) costs no RAM
    let a = 1732584193,
      b = -271733879,
      c = -1732584194,
      d = 271733878,
      words: number[],
      i: number,
      step: number,
      shift: number,
      sum: number,
      A: number,
      B: number,
      C: number,
      D: number,
      digest = "";
    for (i = 0; i < lengthWord; i += 16) {
      words = [];
      for (step = 0; step < 64; step++) {
        sum = i * 4 + step;
        words[step >> 2] |= (sum < length ? bytes.charCodeAt(sum) : sum == length ? 128 : 0) << ((step % 4) * 8);
      }
      if (i + 14 == lengthWord) words[14] = length * 8;
      A = a;
      B = b;
      C = c;
      D = d;
      for (step = 0; step < 64; step++) {
        // K[step] = floor(|sin(step+1)| * 2^32): each product is >= 0.015 from an integer,
        // far beyond double sin's error, so no table is needed. The sum stays exact
        // (< 2^34) and << / >>> reduce it mod 2^32.
        sum =
          a +
          (step < 16 ? (b & c) | (~b & d) : step < 32 ? (d & b) | (~d & c) : step < 48 ? b ^ c ^ d : c ^ (b | ~d)) +
          ((Math.abs(Math.sin(step + 1)) * 4294967296) | 0) +
          (words[(step < 16 ? step : step < 32 ? 5 * step + 1 : step < 48 ? 3 * step + 5 : 7 * step) % 16] | 0);
        // per-round rotations 7,12,17,22, 5,9,14,20, 4,11,16,23, 6,10,15,21 as chars + 48
        shift = "7<AF59>D4;@G6:?E".charCodeAt(((step >> 4) << 2) | (step & 3)) - 48;
        a = d;
        d = c;
        c = b;
        b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
      }
      a = (a + A) | 0;
      b = (b + B) | 0;
      c = (c + C) | 0;
      d = (d + D) | 0;
    }
    for (i = 0; i < 16; i++) digest += chr(([a, b, c, d][i >> 2] >>> ((i % 4) * 8)) & 255);
    return digest;
  };

  /** RFC 2104 HMAC with a 64-byte block; keys over 64 bytes are hashed first. */
  function hmac(hash: Hash, key: string, message: string): string {
    let i = 0,
      keyByte: number,
      innerPad = "",
      outerPad = "";
    if (key.length > 64) key = hash(key);
    // charCodeAt past the end is NaN, and NaN ^ x == x: zero padding for free
    for (; i < 64; i++) {
      keyByte = key.charCodeAt(i);
      innerPad += chr(keyByte ^ 54);
      outerPad += chr(keyByte ^ 92);
    }
    return hash(outerPad + hash(innerPad + message));
  }
  return {
    _md5: md5,
    _hmac: hmac,
    /** Lower-case hex of a byte string. */
    _hex: (bytes) => bytes.replace(/[\s\S]/g, (byte) => (256 + byte.charCodeAt(0)).toString(16).slice(1)),
  };
}

// The host's view, one function at a time (not in the bundle: the firmware calls cryptoKit()).
export const md5: Hash = (bytes) => cryptoKit()._md5(bytes);
export const hmac = (hash: Hash, key: string, message: string): string => cryptoKit()._hmac(hash, key, message);

export const hex = (bytes: string): string => cryptoKit()._hex(bytes);
