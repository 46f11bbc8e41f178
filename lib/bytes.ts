// Byte-string helpers. A byte string has one char (0..255) per byte.

export const chr = String.fromCharCode;

/** UTF-8 bytes of s. A string that already is valid UTF-8 bytes (ESP32 source
 * strings) is returned as is; otherwise each char (Unicode build) is encoded.
 * "Valid" is checked by lead/continuation structure only (overlong forms pass). */
export function utf8(s: string): string {
  let i = 0, c: number, n: number, o = "";
  // native test: ASCII (topics, most payloads) skips the JS loop
  if (!/[^\x00-\x7f]/.test(s)) return s;
  while (i < s.length) {
    c = s.charCodeAt(i++);
    // n = continuation bytes the lead byte asks for; 9 = not a lead byte
    n = c < 128 ? 0 : c < 194 ? 9 : c < 224 ? 1 : c < 240 ? 2 : c < 245 ? 3 : 9;
    // & 0xFFC0 also rejects chars over 0xFF
    while (n && n < 9 && (s.charCodeAt(i) & 0xffc0) == 128) { n--; i++ }
    if (n) {
      for (i = 0; i < s.length; i++) {
        c = s.charCodeAt(i);
        n = s.charCodeAt(i + 1);
        // a surrogate pair is one code point
        if (c >> 10 == 54 && n >> 10 == 55) { c = (c - 0xd7f7 << 10) + n; i++ }
        n = c < 128 ? 0 : c < 2048 ? 1 : c < 65536 ? 2 : 3;
        o += chr(n ? 256 - (128 >> n) | c >> 6 * n : c);
        while (n--) o += chr(128 | c >> 6 * n & 63);
      }
      return o;
    }
  }
  return s;
}
