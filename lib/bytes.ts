// Byte-string helpers. A byte string has one char (0..255) per byte.

export const chr = String.fromCharCode;

/** UTF-8 bytes of s. A string that already is valid UTF-8 bytes (ESP32 source
 * strings) is returned as is; otherwise each char (Unicode build) is encoded.
 * "Valid" is checked by lead/continuation structure only (overlong forms pass). */
export function utf8(text: string): string {
  // code: a char's code, then a code point; count: continuation bytes (asked for, or to write)
  let i = 0,
    code: number,
    count: number,
    next: number,
    bytes = "";
  // native test: ASCII (topics, most payloads) skips the JS loop
  if (!/[^\x00-\x7f]/.test(text)) return text;
  while (i < text.length) {
    code = text.charCodeAt(i++);
    // continuation bytes the lead byte asks for; 9 = not a lead byte
    count = code < 128 ? 0 : code < 194 ? 9 : code < 224 ? 1 : code < 240 ? 2 : code < 245 ? 3 : 9;
    // & 0xFFC0 also rejects chars over 0xFF
    while (count && count < 9 && (text.charCodeAt(i) & 0xffc0) == 128) {
      count--;
      i++;
    }
    if (count) {
      for (i = 0; i < text.length; i++) {
        code = text.charCodeAt(i);
        next = text.charCodeAt(i + 1);
        // a surrogate pair is one code point
        if (code >> 10 == 54 && next >> 10 == 55) {
          code = ((code - 0xd7f7) << 10) + next;
          i++;
        }
        count = code < 128 ? 0 : code < 2048 ? 1 : code < 65536 ? 2 : 3;
        bytes += chr(count ? (256 - (128 >> count)) | (code >> (6 * count)) : code);
        while (count--) bytes += chr(128 | ((code >> (6 * count)) & 63));
      }
      return bytes;
    }
  }
  return text;
}
