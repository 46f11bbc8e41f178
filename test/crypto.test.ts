// lib/crypto.ts against independent oracles: RFC 1321 / RFC 2202 / RFC 4231 vectors,
// the docs/ALIYUN.md vectors and Node's crypto on random inputs.
import { describe, it, expect } from "vitest";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { md5, hmac, hex, type Hash } from "../lib/crypto";
import { ESPRUINO, ESPRUINO_HINT, libScript, minifyAsShipped, runInEspruino } from "./support/espruino";

const B = (s: string) => Buffer.from(s, "latin1");
const S = (b: Buffer) => b.toString("latin1");
// Node's hash injected as the device's native one would be (byte string in and out)
const node =
  (alg: string): Hash =>
  (s) =>
    createHash(alg).update(B(s)).digest().toString("latin1");
const sha1 = node("sha1"),
  sha256 = node("sha256");
const hashes: [string, Hash][] = [
  ["md5", md5],
  ["sha1", sha1],
  ["sha256", sha256],
];

describe("md5", () => {
  it("RFC 1321 test suite", () => {
    const suite: [string, string][] = [
      ["", "d41d8cd98f00b204e9800998ecf8427e"],
      ["a", "0cc175b9c0f1b6a831c399e269772661"],
      ["abc", "900150983cd24fb0d6963f7d28e17f72"],
      ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
      ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
      ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
      ["1234567890".repeat(8), "57edf4a22be3c955ac49da2e2107b67a"],
    ];
    for (const [m, d] of suite) expect(hex(md5(m)), m).toBe(d);
  });

  it("matches Node on random inputs of every length 0-300", () => {
    for (let n = 0; n <= 300; n++) {
      const b = randomBytes(n);
      expect(hex(md5(S(b))), "length " + n).toBe(createHash("md5").update(b).digest("hex"));
    }
  });

  it("matches Node around the padding boundaries, also with all bits set", () => {
    for (const n of [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129]) {
      for (const b of [randomBytes(n), Buffer.alloc(n, 0xff), Buffer.alloc(n, 0)]) {
        expect(md5(S(b)), "length " + n).toBe(createHash("md5").update(b).digest().toString("latin1"));
      }
    }
  });

  it("returns a 16-byte byte string", () => {
    const d = md5("x");
    expect(d.length).toBe(16);
    for (let i = 0; i < 16; i++) expect(d.charCodeAt(i)).toBeLessThan(256);
  });
});

describe("hex", () => {
  it("is lower-case two digits per byte for every byte value", () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(hex(S(all))).toBe(all.toString("hex"));
    expect(hex("")).toBe("");
  });
});

describe("hmac", () => {
  it("RFC 2202 HMAC-MD5 and HMAC-SHA1 vectors (incl. 80-byte keys, hashed first)", () => {
    const k80 = "\xaa".repeat(80),
      big = "Test Using Larger Than Block-Size Key - Hash Key First";
    expect(hex(hmac(md5, "\x0b".repeat(16), "Hi There"))).toBe("9294727a3638bb1c13f48ef8158bfc9d");
    expect(hex(hmac(md5, "Jefe", "what do ya want for nothing?"))).toBe("750c783e6ab0b503eaa86e310a5db738");
    expect(hex(hmac(md5, k80, big))).toBe("6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
    expect(hex(hmac(sha1, "\x0b".repeat(20), "Hi There"))).toBe("b617318655057264e28bc0b6fb378c8ef146be00");
    expect(hex(hmac(sha1, "Jefe", "what do ya want for nothing?"))).toBe("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    expect(hex(hmac(sha1, k80, big))).toBe("aa4ae5e15272d00e95705637ce8a3b55ed402112");
  });

  it("RFC 4231 HMAC-SHA256 vectors (incl. a 131-byte key)", () => {
    expect(hex(hmac(sha256, "\x0b".repeat(20), "Hi There"))).toBe(
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    );
    expect(hex(hmac(sha256, "Jefe", "what do ya want for nothing?"))).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
    expect(hex(hmac(sha256, "\xaa".repeat(131), "Test Using Larger Than Block-Size Key - Hash Key First"))).toBe(
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    );
  });

  it("matches Node createHmac on random keys 0-100 bytes and messages, all three hashes", () => {
    for (const [alg, h] of hashes) {
      for (let n = 0; n <= 100; n++) {
        const k = randomBytes(n),
          m = randomBytes((n * 7) % 200);
        expect(hmac(h, S(k), S(m)), alg + " key length " + n).toBe(
          createHmac(alg, k).update(m).digest().toString("latin1"),
        );
      }
    }
  });

  it("docs/ALIYUN.md password vectors (key `secret`)", () => {
    const ts = "clientId12345deviceNamedeviceproductKeypktimestamp789",
      no = "clientId12345deviceNamedeviceproductKeypk";
    const v: [string, Hash, string][] = [
      [ts, sha1, "FAFD82A3D602B37FB0FA8B7892F24A477F851A14"],
      [ts, md5, "14B198324FE55E1D3C88F2E705E201EE"],
      [ts, sha256, "6074A46A91B1EBB2CC4EA42790AD0E80202C9843859FC292E57C4EB19FAD9E57"],
      [no, sha1, "3504E4DF7CE4766D30F796EE973C9CE7FC5425CB"],
      [no, md5, "2CE7304EC0DDD548EB1492D65AC0B334"],
      [no, sha256, "C8CB3DCB7159682438E5FD9A9C34F398E41BB8EDB6F222795E307BAFEE151090"],
    ];
    for (const [m, h, d] of v) expect(hex(hmac(h, "secret", m)).toUpperCase()).toBe(d);
  });

  it("docs/ALIYUN.md dynamic-registration vector", () => {
    expect(hex(hmac(sha1, "secret", "deviceNamedevice1productKeyal123456789random123")).toUpperCase()).toBe(
      "3DB45E2C7880D9EDB7921262D396CE454FAB25D7",
    );
  });

  it("docs/ALIYUN.md SDK-style vector", () => {
    const c = "clientIda1X2bEnP82z.example1deviceNameexample1productKeya1X2bEnP82ztimestamp2524608000000";
    expect(hex(hmac(sha256, "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw", c)).toUpperCase()).toBe(
      "909EA16E2F80B550E9746E212CE5F511B66CAA75F2D1C417D55BE8DCDF05594A",
    );
  });
});

// The same code, minified as shipped, in the real interpreter (ESP32 has no JIT, no
// Math.imul, its own number and string handling).
describe.skipIf(!ESPRUINO)("on the Espruino interpreter (" + ESPRUINO_HINT + ")", () => {
  it("md5, hmac (native SHA1/SHA256 wrapped as on the device) and credentials match Node", async () => {
    const lib = await minifyAsShipped(await libScript("bytes.ts", "crypto.ts", "aliyun.ts"));
    // deterministic bytes both sides can make: byte i of a stream is (i * 167 + 13) & 255
    const bytes = (n: number, o: number) => {
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode(((i + o) * 167 + 13) & 255);
      return s;
    };
    const { markers, output } = runInEspruino(
      lib +
        `
var C = require("crypto");
function nat(f) { return function (s) { return E.toString(new Uint8Array(C[f](s))) } }
var H = { md5: md5, sha1: nat("SHA1"), sha256: nat("SHA256") };
function bytes(n, o) { var s = "", i; for (i = 0; i < n; i++) s += String.fromCharCode((i + o) * 167 + 13 & 255); return s }
var r = { md5: [], hmac: [], cred: [] }, n, k;
for (n = 0; n <= 130; n++) r.md5.push(hex(md5(bytes(n, n))));
for (k in H) for (n = 0; n <= 80; n += 5) r.hmac.push(hex(hmac(H[k], bytes(n, 1), bytes(n * 2, 7))));
["hmacmd5", "hmacsha1", "hmacsha256"].forEach(function (m) {
  r.cred.push(credentials({ productKey: "a1X2bEnP82z", deviceName: "example1", deviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw", signMethod: m, timestamp: 2524608000000 }, H.sha1, H.sha256));
});
console.log("@@result " + JSON.stringify(r));
quit();
`,
      60000,
    );
    const r = markers.result;
    expect(r, output.slice(-2000)).toBeDefined();
    const hx = (alg: string, k: string, m: string) => createHmac(alg, B(k)).update(B(m)).digest("hex");
    for (let n = 0; n <= 130; n++)
      expect(r.md5[n], "md5 length " + n).toBe(
        createHash("md5")
          .update(B(bytes(n, n)))
          .digest("hex"),
      );
    let i = 0;
    for (const alg of ["md5", "sha1", "sha256"]) {
      for (let n = 0; n <= 80; n += 5)
        expect(r.hmac[i++], alg + " key " + n).toBe(hx(alg, bytes(n, 1), bytes(n * 2, 7)));
    }
    const content = "clientIda1X2bEnP82z.example1deviceNameexample1productKeya1X2bEnP82ztimestamp2524608000000";
    expect(r.cred.map((c: any) => c.password)).toEqual(
      ["md5", "sha1", "sha256"].map((a) => hx(a, "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw", content)),
    );
    // TLS is the default transport: securemode=2
    expect(r.cred[2].clientId).toBe("a1X2bEnP82z.example1|securemode=2,signmethod=hmacsha256,timestamp=2524608000000|");
  });
});
