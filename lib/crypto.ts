// HMAC over an injected hash (native SHA1/SHA256 on the device) and a JS MD5,
// the one digest Espruino lacks. All values are byte strings.
import { chr } from "./bytes";

/** Byte string in, raw digest byte string out. */
export type Hash = (bytes: string) => string;

/** RFC 1321 MD5. 32-bit math with |0 and shifts only (no Math.imul on Espruino). */
export const md5: Hash = s => {
  const n = s.length, w: number[] = [],
    // index of the bit-length word in the padded message
    L = (n + 8 >> 6 << 4) + 14;
  let a = 1732584193, b = -271733879, c = -1732584194, d = 271733878,
    i: number, j: number, k: number, f: number, A: number, B: number, C: number, D: number, o = "";
  for (i = 0; i < n; i++) w[i >> 2] |= s.charCodeAt(i) << i % 4 * 8;
  w[n >> 2] |= 128 << n % 4 * 8;
  w[L] = n * 8;
  for (i = 0; i < L; i += 16) {
    A = a; B = b; C = c; D = d;
    for (j = 0; j < 64; j++) {
      // K[j] = floor(|sin(j+1)| * 2^32): each product is >= 0.015 from an integer,
      // far beyond double sin's error, so no table is needed. The sum stays exact
      // (< 2^34) and << / >>> reduce it mod 2^32.
      f = a + (j < 16 ? b & c | ~b & d : j < 32 ? d & b | ~d & c : j < 48 ? b ^ c ^ d : c ^ (b | ~d)) +
        (Math.abs(Math.sin(j + 1)) * 4294967296 | 0) +
        (w[i + (j < 16 ? j : j < 32 ? 5 * j + 1 : j < 48 ? 3 * j + 5 : 7 * j) % 16] | 0);
      // per-round rotations 7,12,17,22, 5,9,14,20, 4,11,16,23, 6,10,15,21 as chars + 48
      k = "7<AF59>D4;@G6:?E".charCodeAt(j >> 4 << 2 | j & 3) - 48;
      a = d; d = c; c = b;
      b = b + (f << k | f >>> 32 - k) | 0;
    }
    a = a + A | 0; b = b + B | 0; c = c + C | 0; d = d + D | 0;
  }
  for (i = 0; i < 16; i++) o += chr([a, b, c, d][i >> 2] >>> i % 4 * 8 & 255);
  return o;
};

/** RFC 2104 HMAC with a 64-byte block; keys over 64 bytes are hashed first. */
export function hmac(hash: Hash, key: string, msg: string): string {
  let i = 0, c: number, a = "", b = "";
  if (key.length > 64) key = hash(key);
  // charCodeAt past the end is NaN, and NaN ^ x == x: zero padding for free
  for (; i < 64; i++) { c = key.charCodeAt(i); a += chr(c ^ 54); b += chr(c ^ 92) }
  return hash(b + hash(a + msg));
}

/** Lower-case hex of a byte string. */
export const hex = (s: string): string => s.replace(/[\s\S]/g, c => (256 + c.charCodeAt(0)).toString(16).slice(1));
