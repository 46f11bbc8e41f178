import { describe, expect, it } from "vitest";
import { utf8 } from "../lib/bytes";
import { seeded as prng } from "./support/mqtt-oracle";
import {
  ESPRUINO,
  ESPRUINO_HINT,
  HARNESS_HELPERS,
  asciiSource,
  libScript,
  minifyAsShipped,
  runInEspruino,
} from "./support/espruino";

// Node oracle: UTF-8 bytes of a Unicode string, as a byte string
const nodeUtf8 = (s: string) => Buffer.from(s, "utf8").toString("latin1");
const bytes = (...b: number[]) => String.fromCharCode(...b);

describe("utf8", () => {
  it("leaves ASCII unchanged", () => {
    const s = 'a1/sys/pk/dn/thing/event/property/post {"id":"1"} \x00\x7f';
    expect(utf8(s)).toBe(s);
    expect(utf8("")).toBe("");
  });

  it("encodes a Node Unicode string like Buffer.from(s, 'utf8')", () => {
    expect(utf8("温度")).toBe(nodeUtf8("温度"));
    expect(Buffer.from(utf8("温度"), "latin1")).toEqual(Buffer.from("温度", "utf8"));
    expect(utf8("x温度=25.5°C")).toBe(nodeUtf8("x温度=25.5°C"));
  });

  it("returns an already-UTF-8 byte string unchanged (ESP32 source strings)", () => {
    const b = Buffer.from("温度").toString("latin1");
    expect(b.length).toBe(6);
    expect(utf8(b)).toBe(b);
    const c = Buffer.from("é°😀").toString("latin1");
    expect(utf8(c)).toBe(c);
  });

  it('encodes "é" alone (U+00E9, not valid UTF-8 as a byte) as C3 A9', () => {
    expect(utf8("é")).toBe(bytes(0xc3, 0xa9));
    expect(utf8("café")).toBe(nodeUtf8("café"));
  });

  it("encodes surrogate pairs as one 4-byte code point", () => {
    expect(utf8("😀")).toBe(nodeUtf8("😀"));
    expect(utf8("a😀b温")).toBe(nodeUtf8("a😀b温"));
    expect(utf8("\u{10FFFF}\u{10000}")).toBe(nodeUtf8("\u{10FFFF}\u{10000}"));
  });

  it("encodes strings whose bytes are not well-formed UTF-8", () => {
    for (const s of [
      bytes(0x80), // lone continuation byte
      bytes(0xc3), // lead without continuation
      bytes(0xe6, 0xb8), // truncated 3-byte sequence
      bytes(0xc0, 0x80), // C0 lead is never valid
      bytes(0xc1, 0xbf),
      bytes(0xf5, 0x80, 0x80, 0x80), // beyond U+10FFFF
      bytes(0xff),
      bytes(0xc3, 0xa9, 0xa9), // valid pair then stray continuation
      "é温", // mixes a byte-range char with a wide char
      bytes(0xc3) + "\u0100", // continuation position holds a char > 0xFF
    ]) {
      expect(utf8(s)).toBe(nodeUtf8(s));
    }
  });

  it("random Unicode strings with a char > 0xFF encode like Node", () => {
    const rnd = prng(1);
    const pick = () => {
      const r = rnd();
      if (r < 0.3) return String.fromCharCode(32 + Math.floor(rnd() * 95));
      if (r < 0.5) return String.fromCharCode(0x80 + Math.floor(rnd() * 0x780));
      if (r < 0.8) {
        const c = 0x800 + Math.floor(rnd() * 0xf800);
        return c >= 0xd800 && c < 0xe000 ? "x" : String.fromCharCode(c);
      }
      return String.fromCodePoint(0x10000 + Math.floor(rnd() * 0x100000));
    };
    for (let k = 0; k < 2000; k++) {
      let s = "\u4e2d";
      const n = Math.floor(rnd() * 20);
      for (let j = 0; j < n; j++) s = rnd() < 0.5 ? s + pick() : pick() + s;
      expect(utf8(s)).toBe(nodeUtf8(s));
    }
  });

  it("random byte strings: valid UTF-8 (TextDecoder fatal) is kept, anything changed is Node's encoding", () => {
    const rnd = prng(2);
    const dec = new TextDecoder("utf-8", { fatal: true });
    let kept = 0,
      changed = 0;
    for (let k = 0; k < 5000; k++) {
      let s = "";
      const n = Math.floor(rnd() * 12);
      for (let j = 0; j < n; j++) {
        // bias towards UTF-8-looking bytes so both branches are exercised
        const r = rnd();
        s += String.fromCharCode(
          r < 0.4 ? Math.floor(rnd() * 128) : r < 0.7 ? 0x80 + Math.floor(rnd() * 64) : 0xc0 + Math.floor(rnd() * 64),
        );
      }
      const out = utf8(s);
      let valid = true;
      try {
        dec.decode(Buffer.from(s, "latin1"));
      } catch {
        valid = false;
      }
      if (valid) expect(out).toBe(s);
      if (out !== s) {
        changed++;
        expect(out).toBe(nodeUtf8(s));
      } else kept++;
    }
    expect(kept).toBeGreaterThan(500);
    expect(changed).toBeGreaterThan(500);
  });
  it("the ASCII fast path and the first non-ASCII char after an ASCII prefix", () => {
    const rnd = prng(3);
    for (let k = 0; k < 2000; k++) {
      let a = "";
      const n = Math.floor(rnd() * 40);
      for (let j = 0; j < n; j++) a += String.fromCharCode(Math.floor(rnd() * 128));
      expect(utf8(a)).toBe(a); // every ASCII string, controls and 0x7F included
      // one non-ASCII tail: a wide char, a valid UTF-8 byte run, or a broken one
      const w = 0x80 + Math.floor(rnd() * 0xff00); // no lone surrogates (Node writes U+FFFD)
      const t = [
        String.fromCharCode(w >= 0xd800 && w < 0xe000 ? w - 0x800 : w),
        nodeUtf8("é温😀"),
        bytes(0xe6, 0xb8),
        bytes(0x80 + Math.floor(rnd() * 128)),
      ][k % 4];
      const s = rnd() < 0.5 ? a + t : a + t + a;
      let valid = true;
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(s, "latin1"));
      } catch {
        valid = false;
      }
      expect(utf8(s)).toBe(valid && !/[^\x00-\xff]/.test(s) ? s : nodeUtf8(s));
    }
  });
});

// The regexes of utf8() in the real interpreter (a Unicode build): true byte strings
// (E.toString of bytes, as on an ESP32) and Unicode strings, against Node's answers.
describe.skipIf(!ESPRUINO)("utf8 in the real Espruino interpreter (" + ESPRUINO_HINT + ")", () => {
  it("keeps valid UTF-8 bytes, encodes everything else like Node", async () => {
    const rnd = prng(4),
      dec = new TextDecoder("utf-8", { fatal: true });
    const cases: number[][] = [];
    for (let k = 0; k < 400; k++) {
      const b: number[] = [];
      const n = Math.floor(rnd() * 10);
      for (let j = 0; j < n; j++) {
        const r = rnd();
        b.push(
          r < 0.3 ? Math.floor(rnd() * 128) : r < 0.6 ? 0x80 + Math.floor(rnd() * 64) : 0xc0 + Math.floor(rnd() * 64),
        );
      }
      cases.push(b);
    }
    cases.push([...Buffer.from("温度 café 😀")], [0xe6, 0xc3, 0xa9, 0xb8, 0xa9], [0x41]);
    const uni = ["温度", "café", "a😀b", "é温", "plain"];
    const { markers, output } = runInEspruino(
      (await minifyAsShipped(await libScript("bytes.ts"))) +
        HARNESS_HELPERS +
        `
OUT("utf8",${JSON.stringify(cases)}.map(function(b){return H(utf8(E.toString(new Uint8Array(b))))})
 .concat(${asciiSource(JSON.stringify(uni))}.map(function(s){return H(utf8(s))})));
quit();
`,
    );
    const out: string[] = markers.utf8;
    expect(out, output).toBeDefined();
    let kept = 0;
    cases.forEach((b, i) => {
      const s = String.fromCharCode(...b);
      let valid = true;
      try {
        dec.decode(Buffer.from(b));
      } catch {
        valid = false;
      }
      if (valid) kept++;
      expect(out[i], "bytes " + Buffer.from(b).toString("hex")).toBe(
        Buffer.from(valid ? s : nodeUtf8(s), "latin1").toString("hex"),
      );
    });
    expect(kept).toBeGreaterThan(50);
    uni.forEach((s, i) => expect(out[cases.length + i]).toBe(Buffer.from(s, "utf8").toString("hex")));
  });
});
