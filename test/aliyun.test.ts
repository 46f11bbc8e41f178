// lib/aliyun.ts: CONNECT fields against docs/ALIYUN.md vectors, Node's createHmac and the
// official Node SDK (alibabacloud-iot-device-sdk); validation rules and secrecy.
import { describe, it, expect } from "vitest";
import { createHash, createHmac } from "node:crypto";
import { createRequire } from "node:module";
import { credentials } from "../lib/aliyun";
import { checkDevice } from "../lib/config";
// the platform's sign methods (docs/ALIYUN.md), listed here independently of the code
const SIGN_METHODS = ["hmacmd5", "hmacsha1", "hmacsha256"];
import type { Hash } from "../lib/crypto";

const node =
  (alg: string): Hash =>
  (s) =>
    createHash(alg).update(Buffer.from(s, "latin1")).digest().toString("latin1");
const sha1 = node("sha1"),
  sha256 = node("sha256");
const cred = (d: any) => credentials(d, sha1, sha256);
const SECRET = "Zq9SecretValue0xDEADbeef";
const base = (): any => ({ productKey: "a1X2bEnP82z", deviceName: "example1", deviceSecret: SECRET });
const nodeHmac = (alg: string, key: string, msg: string) => createHmac(alg, key).update(msg).digest("hex");

describe("credentials: docs/ALIYUN.md vectors", () => {
  const d = { productKey: "pk", deviceName: "device", deviceSecret: "secret", clientIdPrefix: "12345", tls: false };
  const vectors: [string, number | undefined, string][] = [
    ["hmacsha1", 789, "FAFD82A3D602B37FB0FA8B7892F24A477F851A14"],
    ["hmacmd5", 789, "14B198324FE55E1D3C88F2E705E201EE"],
    ["hmacsha256", 789, "6074A46A91B1EBB2CC4EA42790AD0E80202C9843859FC292E57C4EB19FAD9E57"],
    ["hmacsha1", undefined, "3504E4DF7CE4766D30F796EE973C9CE7FC5425CB"],
    ["hmacmd5", undefined, "2CE7304EC0DDD548EB1492D65AC0B334"],
    ["hmacsha256", undefined, "C8CB3DCB7159682438E5FD9A9C34F398E41BB8EDB6F222795E307BAFEE151090"],
  ];
  for (const [m, ts, pw] of vectors) {
    it(m + (ts ? " with timestamp" : " without timestamp"), () => {
      const c = cred(Object.assign({ signMethod: m, timestamp: ts }, d));
      expect(c.password.toUpperCase()).toBe(pw);
      expect(c.password).toMatch(/^[0-9a-f]+$/);
      expect(c.clientId).toBe("12345|securemode=3,signmethod=" + m + (ts ? ",timestamp=" + ts : "") + "|");
      expect(c.username).toBe("device&pk");
    });
  }

  it("SDK-style vector (default method hmacsha256, default id pk.dn)", () => {
    const c = cred(
      Object.assign(base(), { deviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw", timestamp: 2524608000000, tls: false }),
    );
    expect(c.clientId).toBe("a1X2bEnP82z.example1|securemode=3,signmethod=hmacsha256,timestamp=2524608000000|");
    expect(c.password.toUpperCase()).toBe("909EA16E2F80B550E9746E212CE5F511B66CAA75F2D1C417D55BE8DCDF05594A");
  });
});

describe("credentials: defaults and options", () => {
  it("defaults: hmacsha256, id pk.dn, no timestamp, TLS (securemode 2), region cn-shanghai, port 1883", () => {
    const c = cred(base());
    expect(c).toEqual({
      host: "a1X2bEnP82z.iot-as-mqtt.cn-shanghai.aliyuncs.com",
      port: 1883,
      clientId: "a1X2bEnP82z.example1|securemode=2,signmethod=hmacsha256|",
      username: "example1&a1X2bEnP82z",
      password: nodeHmac("sha256", SECRET, "clientIda1X2bEnP82z.example1deviceNameexample1productKeya1X2bEnP82z"),
    });
  });

  it("every method matches Node createHmac over the documented content", () => {
    for (const m of SIGN_METHODS) {
      const d = Object.assign(base(), { signMethod: m, clientIdPrefix: "AA:BB:CC:DD", timestamp: 1700000000123 });
      const content = "clientIdAA:BB:CC:DDdeviceNameexample1productKeya1X2bEnP82ztimestamp1700000000123";
      expect(cred(d).password).toBe(nodeHmac(m.slice(4), SECRET, content));
    }
  });

  it("uses the injected hashes for sha1/sha256 and its own md5", () => {
    const calls: string[] = [];
    const spy =
      (n: string, h: Hash): Hash =>
      (s) => {
        calls.push(n);
        return h(s);
      };
    credentials(Object.assign(base(), { signMethod: "hmacsha1" }), spy("sha1", sha1), spy("sha256", sha256));
    credentials(Object.assign(base(), { signMethod: "hmacsha256" }), spy("sha1", sha1), spy("sha256", sha256));
    credentials(Object.assign(base(), { signMethod: "hmacmd5" }), spy("sha1", sha1), spy("sha256", sha256));
    expect(calls).toEqual(["sha1", "sha1", "sha256", "sha256"]);
  });

  it("host: explicit host wins, then instanceId, then region", () => {
    const all = Object.assign(base(), { host: "10.0.0.2", instanceId: "iot-06z00abc", region: "ap-southeast-1" });
    expect(cred(all).host).toBe("10.0.0.2");
    delete all.host;
    expect(cred(all).host).toBe("iot-06z00abc.mqtt.iothub.aliyuncs.com");
    delete all.instanceId;
    expect(cred(all).host).toBe("a1X2bEnP82z.iot-as-mqtt.ap-southeast-1.aliyuncs.com");
  });

  it("port passes through; tls: false is securemode 3, tls: true securemode 2, same password", () => {
    const c = cred(Object.assign(base(), { port: 8883, tls: true }));
    expect(c.port).toBe(8883);
    expect(c.clientId).toBe("a1X2bEnP82z.example1|securemode=2,signmethod=hmacsha256|");
    const t = cred(Object.assign(base(), { tls: false }));
    expect(t.clientId).toBe("a1X2bEnP82z.example1|securemode=3,signmethod=hmacsha256|");
    expect(t.password).toBe(c.password);
  });

  it("null optional fields count as absent", () => {
    const c = cred(
      Object.assign(base(), { host: null, port: null, signMethod: null, timestamp: null, clientIdPrefix: null }),
    );
    expect(c).toEqual(cred(base()));
  });
});

describe("credentials vs the official Node SDK (alibabacloud-iot-device-sdk 1.2.8)", () => {
  const Model = createRequire(import.meta.url)("alibabacloud-iot-device-sdk/lib/model.js");
  // The SDK signs with a timestamp from Date.now() at construction: pin it afterwards.
  const sdk = (alg: string) => {
    const m = new Model({
      productKey: "a1X2bEnP82z",
      deviceName: "example1",
      deviceSecret: SECRET,
      signAlgorithm: alg,
      clientId: "a1X2bEnP82z.example1",
    });
    m.timestamp = 1700000000123;
    return { p: m.genConnectPrarms(), url: m.brokerUrl as string, mode: m.securemode };
  };
  const ours = (m: string) => cred(Object.assign(base(), { signMethod: m, timestamp: 1700000000123, tls: false }));

  it("hmacsha1: same username and password; its clientId adds `,lan=…,_v=…` before the closing |", () => {
    const s = sdk("sha1"),
      o = ours("hmacsha1");
    expect(s.p.username).toBe(o.username);
    expect(s.p.password).toBe(o.password);
    expect(s.p.clientId.startsWith(o.clientId.slice(0, -1) + ",lan=")).toBe(true);
    expect(s.p.clientId.endsWith("|")).toBe(true);
    expect(s.url).toBe("mqtt://" + o.host + ":" + o.port + "/");
    expect(s.mode).toBe(3);
  });

  it("hmacsha256/hmacmd5: the SDK announces the method but signs HMAC-SHA1 (its bug); we sign as announced", () => {
    for (const [alg, m] of [
      ["sha256", "hmacsha256"],
      ["md5", "hmacmd5"],
    ]) {
      const s = sdk(alg),
        o = ours(m),
        content = "clientIda1X2bEnP82z.example1deviceNameexample1productKeya1X2bEnP82ztimestamp1700000000123";
      expect(s.p.clientId).toContain(",signmethod=" + m + ",");
      expect(s.p.password).toBe(nodeHmac("sha1", SECRET, content));
      expect(o.password).toBe(nodeHmac(alg, SECRET, content));
      expect(o.password).not.toBe(s.p.password);
    }
  });

  it("the SDK's default id is `${pk}&${dn}`; ours is `${pk}.${dn}` (docs/ALIYUN.md)", () => {
    const m = new Model({ productKey: "a1X2bEnP82z", deviceName: "example1", deviceSecret: SECRET });
    expect(m.genConnectPrarms().clientId.startsWith("a1X2bEnP82z&example1|")).toBe(true);
    expect(cred(base()).clientId.startsWith("a1X2bEnP82z.example1|")).toBe(true);
  });
});

describe("checkDevice", () => {
  // [patch, field named first in the message]
  const badCases: [any, string][] = [
    [{ productKey: undefined }, "productKey: required"],
    [{ productKey: "" }, "productKey: required"],
    [{ productKey: "a1-X2" }, "productKey:"],
    [{ productKey: "a".repeat(32) }, "productKey:"],
    [{ productKey: 12345 }, "productKey:"],
    [{ deviceName: undefined }, "deviceName: required"],
    [{ deviceName: "abc" }, "deviceName: 4-32 chars of letters, digits, -_@.:"],
    [{ deviceName: "a".repeat(33) }, "deviceName: 4-32 chars"],
    [{ deviceName: "dev ice" }, "deviceName: 4-32 chars"],
    [{ deviceName: "dev#ice" }, "deviceName: 4-32 chars"],
    [{ deviceName: "devicé" }, "deviceName: 4-32 chars"],
    [{ deviceName: "dev|ce" }, "deviceName: 4-32 chars"],
    [{ deviceSecret: undefined }, "deviceSecret: exactly one of deviceSecret, productSecret, deviceToken"],
    [{ deviceSecret: "" }, "deviceSecret: 1-128 visible ASCII"],
    [{ productSecret: "ps" }, "deviceSecret+productSecret: exactly one of"],
    [{ deviceToken: "tok", clientId: "cid" }, "deviceSecret+deviceToken: exactly one of"],
    [{ deviceSecret: undefined, deviceToken: "tok" }, "clientId: with deviceToken, and only then"],
    [{ clientId: "cid" }, "clientId: with deviceToken, and only then"],
    [{ deviceSecret: undefined, deviceToken: "tok", clientId: "a|b" }, "clientId: 1-64 visible ASCII chars, no | , ="],
    [{ deviceSecret: undefined, deviceToken: "t k", clientId: "cid" }, "deviceToken: 1-128 visible ASCII"],
    [{ deviceSecret: undefined, productSecret: "p s" }, "productSecret: 1-128 visible ASCII"],
    [{ deviceSecret: undefined, productSecret: "ps", tls: false }, "productSecret: registration needs tls: true"],
    [{ preregistered: false }, "preregistered: only with productSecret"],
    [{ deviceSecret: undefined, productSecret: "ps", preregistered: "no" }, "preregistered: true or false"],
    [{ tls: "yes" }, "tls: true or false"],
    [{ tls: 1 }, "tls: true or false"],
    [{ deviceSecret: SECRET + " " }, "deviceSecret: 1-128 visible ASCII"],
    [{ deviceSecret: SECRET + "\n" }, "deviceSecret: 1-128 visible ASCII"],
    [{ deviceSecret: SECRET + "é" }, "deviceSecret: 1-128 visible ASCII"],
    [{ deviceSecret: "x".repeat(129) }, "deviceSecret: 1-128 visible ASCII"],
    [{ clientIdPrefix: "" }, "clientIdPrefix:"],
    [{ clientIdPrefix: "a|b" }, "clientIdPrefix:"],
    [{ clientIdPrefix: "a,b" }, "clientIdPrefix:"],
    [{ clientIdPrefix: "a=b" }, "clientIdPrefix:"],
    [{ clientIdPrefix: "a b" }, "clientIdPrefix:"],
    [{ clientIdPrefix: "x".repeat(65) }, "clientIdPrefix: 1-64"],
    [{ signMethod: "sha256" }, "signMethod: one of hmacmd5, hmacsha1, hmacsha256"],
    [{ signMethod: "HMACSHA256" }, "signMethod: one of"],
    [{ signMethod: "" }, "signMethod: one of"],
    [{ port: 0 }, "port: integer 1-65535"],
    [{ port: 65536 }, "port: integer 1-65535"],
    [{ port: 1883.5 }, "port: integer 1-65535"],
    [{ port: "1883" }, "port: integer 1-65535"],
    [{ port: NaN }, "port: integer 1-65535"],
    [{ host: "" }, "host:"],
    [{ host: "my host.com" }, "host:"],
    [{ host: "mqtt://x.com" }, "host:"],
    [{ region: "cn shanghai" }, "region:"],
    [{ region: "" }, "region:"],
    [{ instanceId: "iot 1" }, "instanceId:"],
    [{ instanceId: 7 }, "instanceId:"],
    [{ timestamp: -1 }, "timestamp:"],
    [{ timestamp: 1795612422128.27 }, "timestamp:"],
    [{ timestamp: "789" }, "timestamp:"],
  ];

  for (const [patch, msg] of badCases) {
    it("rejects " + JSON.stringify(patch) + " with `" + msg + "`", () => {
      const d = Object.assign(base(), patch);
      expect(() => checkDevice(d)).toThrow(Error);
      expect(() => checkDevice(d)).toThrow(msg);
      expect(() => cred(d)).toThrow(msg);
    });
  }

  it("accepts the boundaries of every rule", () => {
    const ok = (
      [
        { productKey: "a".repeat(31), deviceName: "x".repeat(32) },
        { deviceName: "a-_@", clientIdPrefix: "x".repeat(64) },
        { deviceName: "Dev.1:2" },
        { deviceSecret: "!~#$%^&*()[]{}|,=<>?/\\'\"`" },
        { deviceSecret: "x".repeat(128) },
        { deviceSecret: "x" },
        { clientIdPrefix: "!\"#$%&'()*+-./09:;<>?@AZ[\\]^_`az{}~" },
        { port: 1, tls: true },
        { port: 65535, tls: false },
        { deviceSecret: undefined, productSecret: "x".repeat(128), preregistered: false },
        { deviceSecret: undefined, productSecret: "x", preregistered: true, tls: true },
        { deviceSecret: undefined, deviceToken: "x".repeat(128), clientId: "x".repeat(64), tls: false },
        { host: "iot-06z.mqtt_x.example.com", region: "ap-southeast-1", instanceId: "iot-06z00_x" },
        { timestamp: 0 },
        { timestamp: 2524608000000 },
      ] as any[]
    ).concat(SIGN_METHODS.map((m) => ({ signMethod: m })));
    for (const p of ok) expect(() => checkDevice(Object.assign(base(), p)), JSON.stringify(p)).not.toThrow();
  });

  it("a missing device object is a clear error", () => {
    expect(() => checkDevice(null as any)).toThrow("productKey: required");
  });

  it("no error message ever contains the secret, wherever the user typed it", () => {
    const msgs: string[] = [];
    const tryIt = (d: any) => {
      try {
        checkDevice(d);
      } catch (e: any) {
        msgs.push(e.message);
      }
    };
    for (const [patch] of badCases) tryIt(Object.assign(base(), patch));
    // the secret itself invalid, or pasted into the wrong field
    for (const f of [
      "deviceSecret",
      "deviceName",
      "productKey",
      "clientIdPrefix",
      "host",
      "region",
      "instanceId",
      "signMethod",
    ]) {
      tryIt(Object.assign(base(), { [f]: SECRET + " |" }));
      tryIt(Object.assign(base(), { [f]: SECRET + "é" }));
    }
    // the other identity groups' secret and token, and a secret pasted as clientId
    for (const p of [
      { productSecret: SECRET + " |" },
      { productSecret: SECRET, tls: false },
      { deviceToken: SECRET + " |", clientId: "c1" },
      { deviceToken: "token", clientId: SECRET + "|" },
      { deviceToken: SECRET },
    ])
      tryIt(Object.assign(base(), { deviceSecret: undefined }, p));
    expect(msgs.length).toBe(badCases.length + 21);
    for (const m of msgs) {
      expect(m).not.toContain(SECRET);
      expect(m).not.toContain(SECRET.slice(0, 8));
    }
  });
});

describe("credentials: dynamic registration and preregistration-free login (docs/ALIYUN.md §6)", () => {
  const reg = (o: any) =>
    Object.assign({ productKey: "al123456789", deviceName: "device1", productSecret: "secret" }, o);
  it("register: the platform's vector (hmacsha1, random 123), clientId and username", () => {
    // random() * 1e9, floored: "123"
    const r = credentials(reg({ signMethod: "hmacsha1" }), sha1, sha256, () => 123.5e-9);
    expect(r.password.toUpperCase()).toBe("3DB45E2C7880D9EDB7921262D396CE454FAB25D7");
    expect(r.clientId).toBe("al123456789.device1|securemode=2,authType=register,random=123,signmethod=hmacsha1|");
    expect(r.username).toBe("device1&al123456789");
  });
  it("every method against Node's createHmac over deviceName..productKey..random..", () => {
    for (const m of SIGN_METHODS) {
      const r = credentials(reg({ signMethod: m, productSecret: SECRET }), sha1, sha256, () => 0.5);
      expect(r.clientId).toBe(
        "al123456789.device1|securemode=2,authType=register,random=500000000,signmethod=" + m + "|",
      );
      expect(r.password).toBe(nodeHmac(m.slice(4), SECRET, "deviceNamedevice1productKeyal123456789random500000000"));
    }
  });
  it("the random changes with random(); the timestamp is not signed during registration", () => {
    const a = credentials(reg({ timestamp: 5 }), sha1, sha256, () => 0.1),
      b = credentials(reg({}), sha1, sha256, () => 0.2);
    expect(a.clientId).toBe(
      "al123456789.device1|securemode=2,authType=register,random=100000000,signmethod=hmacsha256|",
    );
    expect(a.password).not.toBe(b.password);
  });
  it("preregistered: false is regnwl; with an instanceId it is named (as the Link SDK does)", () => {
    const r = credentials(reg({ preregistered: false }), sha1, sha256, () => 0.25);
    expect(r.clientId).toBe("al123456789.device1|securemode=2,authType=regnwl,random=250000000,signmethod=hmacsha256|");
    const i = credentials(reg({ preregistered: false, instanceId: "iot-06z00x" }), sha1, sha256, () => 0.25);
    expect(i.clientId).toBe(
      "al123456789.device1|securemode=2,authType=regnwl,random=250000000,instanceId=iot-06z00x,signmethod=hmacsha256|",
    );
    expect(i.host).toBe("iot-06z00x.mqtt.iothub.aliyuncs.com");
    expect(i.password).toBe(r.password);
  });
  it("clientId + deviceToken: connwl login, the token is the password", () => {
    const c = cred({ productKey: "al123456789", deviceName: "device1", clientId: "a1b2c3", deviceToken: "TOKEN-42" });
    expect(c).toEqual({
      host: "al123456789.iot-as-mqtt.cn-shanghai.aliyuncs.com",
      port: 1883,
      clientId: "a1b2c3|securemode=-2,authType=connwl|",
      username: "device1&al123456789",
      password: "TOKEN-42",
    });
  });
});
