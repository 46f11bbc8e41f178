// Signing benchmark (figures, not a test): µs per MQTT password (one credentials()
// call) for each sign method. "native" injects Node's hashes, the host analogue of
// Espruino's native require("crypto").SHA1/SHA256; "js" injects the pure-JS SHA256
// below to show what native hashing saves. hmacmd5 always runs our JS MD5 (Espruino
// has none). Run: npx tsx bench/sign.ts
import { createHash, createHmac, randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { credentials, type Device } from "../lib/aliyun";
// the platform's sign methods (lib/aliyun.ts no longer keeps a resident list)
const SIGN_METHODS = ["hmacmd5", "hmacsha1", "hmacsha256"];
import type { Hash } from "../lib/crypto";

const native =
  (alg: string): Hash =>
  (s) =>
    createHash(alg).update(Buffer.from(s, "latin1")).digest().toString("latin1");

// FIPS 180-4 SHA-256 over a byte string, as a device without native hashing would need.
// Bench only: lib/ never carries it. Kept as source text in Espruino's ES5 subset so
// the very same code runs in Node and, with $ESPRUINO set, in the real interpreter.
const SHA256_SRC = `(function () {
  var K = [], H = [], p = 2, q, i;
  // the first 64 primes' cube roots (K) and first 8 square roots (H), fractional bits
  for (i = 0; i < 64; p++) {
    for (q = 2; q * q <= p && p % q; q++);
    if (q * q > p) {
      if (i < 8) H[i] = Math.pow(p, 1 / 2) * 4294967296 | 0;
      K[i++] = Math.pow(p, 1 / 3) * 4294967296 | 0;
    }
  }
  function rot(x, r) { return x >>> r | x << 32 - r }
  return function (s) {
    var n = s.length, L = (n + 8 >> 6 << 4) + 16, w = [], W = [], h = H.slice(), o = "",
      i, j, a, b, c, d, e, f, g, k, x, y, t1, t2;
    for (i = 0; i < L; i++) w[i] = 0;
    for (i = 0; i < n; i++) w[i >> 2] |= s.charCodeAt(i) << 24 - i % 4 * 8;
    w[n >> 2] |= 128 << 24 - n % 4 * 8;
    w[L - 1] = n * 8;
    for (i = 0; i < L; i += 16) {
      a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; k = h[7];
      for (j = 0; j < 64; j++) {
        if (j < 16) W[j] = w[i + j];
        else {
          x = W[j - 15]; y = W[j - 2];
          W[j] = (rot(x, 7) ^ rot(x, 18) ^ x >>> 3) + W[j - 7] + (rot(y, 17) ^ rot(y, 19) ^ y >>> 10) + W[j - 16] | 0;
        }
        t1 = k + (rot(e, 6) ^ rot(e, 11) ^ rot(e, 25)) + (e & f ^ ~e & g) + K[j] + W[j] | 0;
        t2 = (rot(a, 2) ^ rot(a, 13) ^ rot(a, 22)) + (a & b ^ a & c ^ b & c) | 0;
        k = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
      }
      h = [h[0] + a | 0, h[1] + b | 0, h[2] + c | 0, h[3] + d | 0, h[4] + e | 0, h[5] + f | 0, h[6] + g | 0, h[7] + k | 0];
    }
    for (i = 0; i < 32; i++) o += String.fromCharCode(h[i >> 2] >>> 24 - i % 4 * 8 & 255);
    return o;
  };
})()`;
export const jsSha256: Hash = new Function("return " + SHA256_SRC)();

// The JS hash must be right before its timing means anything.
function verify() {
  for (let n = 0; n <= 200; n++) {
    const b = randomBytes(n),
      s = b.toString("latin1");
    if (jsSha256(s) !== createHash("sha256").update(b).digest().toString("latin1"))
      throw new Error("pure-JS SHA256 wrong at length " + n);
  }
  const d = { productKey: "a1X2bEnP82z", deviceName: "example1", deviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw" };
  const c = credentials(d, native("sha1"), jsSha256);
  const want = createHmac("sha256", d.deviceSecret)
    .update("clientIda1X2bEnP82z.example1deviceNameexample1productKeya1X2bEnP82z")
    .digest("hex");
  if (c.password !== want) throw new Error("pure-JS SHA256 password differs from Node's HMAC");
}

// µs per call: repeat until ~150 ms have passed, best of 3 rounds.
function time(f: () => void): number {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < 150) {
      for (let i = 0; i < 50; i++) f();
      n += 50;
      t = performance.now();
    }
    best = Math.min(best, ((t - t0) * 1000) / n);
  }
  return +best.toFixed(2);
}

// The same measurement inside the real Espruino interpreter ($ESPRUINO, a Linux build):
// lib/ compiled to ES2015, native hashes wrapped as firmware/device.ts does. Every
// password is checked against Node's HMAC first. null when $ESPRUINO is not set.
function onEspruino(d: Device, want: Record<string, string>) {
  const exe = process.env.ESPRUINO;
  if (!exe || !existsSync(exe)) return null;
  const lib = ["lib/bytes.ts", "lib/crypto.ts", "lib/config.ts", "lib/aliyun.ts"]
    .map((f) =>
      ts
        .transpileModule(readFileSync(f, "utf8"), {
          compilerOptions: { target: ts.ScriptTarget.ES2015, module: ts.ModuleKind.ES2015 },
        })
        .outputText.replace(/^import .*$/gm, "")
        .replace(/^export /gm, ""),
    )
    .join("\n");
  const dir = mkdtempSync(join(tmpdir(), "sign-")),
    file = join(dir, "sign.js");
  writeFileSync(
    file,
    lib +
      `
var jsSha256 = ${SHA256_SRC};
var C = require("crypto");
function nat(f) { return function (s) { return E.toString(C[f](s)) } }
var sha1 = nat("SHA1"), sha256 = nat("SHA256"), d = ${JSON.stringify(d)}, want = ${JSON.stringify(want)}, r = {};
function run(m, h, n) {
  var dm = Object.assign({ signMethod: m }, d), i, j, t0, best = 1e9;
  if (credentials(dm, sha1, h).password != want[m]) throw new Error("wrong password for " + m);
  for (j = 0; j < 3; j++) { // best of 3: the host may be busy
    t0 = getTime();
    for (i = 0; i < n; i++) credentials(dm, sha1, h);
    best = Math.min(best, (getTime() - t0) * 1e6 / n);
  }
  return Math.round(best);
}
try {
  r.native = { hmacmd5: run("hmacmd5", sha256, 20), hmacsha1: run("hmacsha1", sha256, 100), hmacsha256: run("hmacsha256", sha256, 100) };
  r.js = { hmacsha256: run("hmacsha256", jsSha256, 20) };
} catch (e) { r.error = String(e.message) }
console.log("@@sign " + JSON.stringify(r));
quit();
`,
  );
  try {
    const out = spawnSync(exe, [file], { cwd: dir, input: "", timeout: 120000, encoding: "latin1" }).stdout || "";
    const line = out.split("\n").find((l) => l.startsWith("@@sign "));
    if (!line) return { error: "no result from " + exe };
    const r = JSON.parse(line.slice(7));
    if (r.js) r.jsOverNative = +(r.js.hmacsha256 / r.native.hmacsha256).toFixed(1);
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function benchSign() {
  verify();
  const d = { productKey: "a1X2bEnP82z", deviceName: "example1", deviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw" };
  const sha1 = native("sha1"),
    sha256 = native("sha256"),
    want: Record<string, string> = {};
  const content = "clientIda1X2bEnP82z.example1deviceNameexample1productKeya1X2bEnP82z";
  for (const m of SIGN_METHODS) want[m] = createHmac(m.slice(4), d.deviceSecret).update(content).digest("hex");
  const run = (m: string, h256: Hash) => {
    const dm = Object.assign({ signMethod: m }, d),
      f = () => credentials(dm, sha1, h256);
    for (let i = 0; i < 2000; i++) f(); // JIT warm-up
    return time(f);
  };
  const node = {
    native: {
      hmacmd5: run("hmacmd5", sha256),
      hmacsha1: run("hmacsha1", sha256),
      hmacsha256: run("hmacsha256", sha256),
    },
    js: { hmacsha256: run("hmacsha256", jsSha256) },
    jsOverNative: 0,
  };
  node.jsOverNative = +(node.js.hmacsha256 / node.native.hmacsha256).toFixed(1);
  return {
    unit: "us per password (one credentials() call)",
    node: process.version,
    host: node,
    espruino: onEspruino(d, want),
  };
}

/** Prints benchSign()'s figures as a table. */
export function printSign(r: ReturnType<typeof benchSign>) {
  const e: any = r.espruino,
    row = (h: string, n: number, x?: number) => ({ hash: h, "Node µs": n, "Espruino µs": x });
  console.log(
    "\nSigning: µs per password (one credentials() call); Node " +
      r.node +
      (e ? ", Espruino (Linux build, $ESPRUINO)" : ", set $ESPRUINO for interpreter figures"),
  );
  if (e?.error) console.log("Espruino run failed: " + e.error);
  const en = e?.native || {},
    ej = e?.js || {};
  console.table({
    hmacmd5: row("JS MD5 (lib)", r.host.native.hmacmd5, en.hmacmd5),
    hmacsha1: row("native SHA1", r.host.native.hmacsha1, en.hmacsha1),
    hmacsha256: row("native SHA256", r.host.native.hmacsha256, en.hmacsha256),
    "hmacsha256 (pure JS)": row("pure-JS SHA256 (bench only)", r.host.js.hmacsha256, ej.hmacsha256),
  });
  console.log(
    "pure-JS / native SHA256: Node " +
      r.host.jsOverNative +
      "x" +
      (e?.jsOverNative ? ", Espruino " + e.jsOverNative + "x" : ""),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) printSign(benchSign());
