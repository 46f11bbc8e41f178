import { describe, it, expect } from "vitest";
import { fieldNames, validateConfig, mergeConfig, maskConfig } from "../lib/config";

const SECRET = "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw";
const WIFIPW = "Wifi-Pass-7391";
const full = () => ({
  ssid: "home",
  password: WIFIPW,
  productKey: "a1X2bEnP82z",
  deviceName: "example1",
  deviceSecret: SECRET,
});

// Every thrown message: must name `field`, must not contain any secret of the config tried.
function rejects(stored: any, patch: any, field: string | RegExp) {
  let msg = "";
  try {
    mergeConfig(stored, patch);
  } catch (e) {
    msg = (e as Error).message;
  }
  expect(msg, JSON.stringify(patch)).not.toBe("");
  expect(msg).toMatch(typeof field == "string" ? new RegExp("\\b" + field + "\\b") : field);
  const c = Object.assign({}, stored, patch);
  for (const k of ["password", "deviceSecret"]) {
    if (typeof c[k] == "string" && c[k].length >= 4) expect(msg).not.toContain(c[k]);
  }
  return msg;
}

describe("validateConfig / mergeConfig rules", () => {
  it("accepts a complete config and returns a merged copy without touching the stored one", () => {
    const c = mergeConfig(null, full());
    expect(c).toEqual(full());
    const stored = full();
    const n = mergeConfig(stored, { keepAlive: 600 });
    expect(n).toEqual(Object.assign(full(), { keepAlive: 600 }));
    expect(stored).toEqual(full());
    expect(() => validateConfig(n)).not.toThrow();
  });

  it("rejects unknown field names, naming every one of them", () => {
    const m = rejects(null, Object.assign(full(), { devicesecret: "x", Region: "y" }), "devicesecret");
    expect(m).toContain("Region");
    rejects(full(), { keepalive: 600 }, "keepalive");
  });

  it("rejects a non-object", () => {
    expect(() => mergeConfig(null, "ssid")).toThrow(/object/);
    expect(() => mergeConfig(null, undefined)).toThrow(/object/);
    expect(() => validateConfig(null)).toThrow(/object/);
  });

  it("a first setup needs both groups", () => {
    rejects(null, { ssid: "a", password: "" }, "productKey");
    rejects(null, { productKey: "pk", deviceName: "dev1", deviceSecret: SECRET }, "ssid");
    rejects(null, { keepAlive: 600 }, "ssid");
  });

  it("naming one field of a group requires the whole group", () => {
    rejects(full(), { ssid: "other" }, "password");
    rejects(full(), { password: "newpassword" }, "ssid");
    rejects(full(), { productKey: "pk2", deviceName: "dev2" }, "deviceSecret");
    rejects(full(), { deviceSecret: "0123456789abcdef" }, "productKey");
    rejects(full(), { deviceName: "dev2" }, "productKey");
    // the whole group replaces the old identity
    const n = mergeConfig(full(), { productKey: "pk2", deviceName: "dev2", deviceSecret: "0123456789abcdef" });
    expect(n.productKey + n.deviceName + n.deviceSecret).toBe("pk2dev20123456789abcdef");
    expect(n.ssid).toBe("home");
  });

  it("other fields merge; null removes an optional field but not a required one", () => {
    let c = mergeConfig(full(), { region: "ap-southeast-1", telnet: true });
    c = mergeConfig(c, { keepAlive: 1200 });
    expect(c.region).toBe("ap-southeast-1");
    expect(c.telnet).toBe(true);
    expect(c.keepAlive).toBe(1200);
    c = mergeConfig(c, { region: null });
    expect("region" in c).toBe(false);
    rejects(c, { ssid: null, password: null }, "ssid");
  });

  it("ssid: 1-32 chars", () => {
    rejects(null, Object.assign(full(), { ssid: "" }), "ssid");
    rejects(null, Object.assign(full(), { ssid: "x".repeat(33) }), "ssid");
    rejects(null, Object.assign(full(), { ssid: 5 }), "ssid");
    expect(mergeConfig(null, Object.assign(full(), { ssid: "x".repeat(32) })).ssid).toHaveLength(32);
    expect(mergeConfig(null, Object.assign(full(), { ssid: "x" })).ssid).toBe("x");
  });

  it("Wi-Fi password: empty (open network), a WEP key, a WPA passphrase or a 64-hex PSK: 0-64 chars", () => {
    for (const p of ["", "abcde", "1234567890abc", "12345678", "x".repeat(63), "a".repeat(64)])
      expect(mergeConfig(null, Object.assign(full(), { password: p })).password).toBe(p);
    for (const p of ["x".repeat(65), 12345678, true]) {
      const m = rejects(null, Object.assign(full(), { password: p }), "password");
      expect(m).toMatch(/0-64/);
    }
  });

  it("keepAlive: whole seconds 30-1200", () => {
    for (const k of [30, 1200, 300]) expect(mergeConfig(full(), { keepAlive: k }).keepAlive).toBe(k);
    for (const k of [29, 1201, 30.5, "300", 0, -1, NaN]) rejects(full(), { keepAlive: k }, "keepAlive");
  });

  it("telnet: boolean", () => {
    for (const t of ["yes", 1, "true"]) rejects(full(), { telnet: t }, "telnet");
    expect(mergeConfig(full(), { telnet: false }).telnet).toBe(false);
  });

  it("device fields are checked too (field named, secret not echoed)", () => {
    rejects(null, Object.assign(full(), { deviceSecret: "" }), "deviceSecret");
    rejects(null, Object.assign(full(), { deviceSecret: "has space " + SECRET }), "deviceSecret");
    rejects(null, Object.assign(full(), { productKey: "a1/b" }), "productKey");
    rejects(null, Object.assign(full(), { deviceName: "ab" }), "deviceName");
    rejects(full(), { port: 70000 }, "port");
    rejects(full(), { port: "1883" }, "port");
    rejects(full(), { signMethod: "sha1" }, "signMethod");
    rejects(full(), { region: "cn shanghai" }, "region");
    rejects(full(), { host: "a/b" }, "host");
    rejects(full(), { instanceId: "a b" }, "instanceId");
  });

  it("endpoint: region, instanceId and host are alternatives; setting one removes the others, port stays", () => {
    let c = mergeConfig(full(), { host: "10.0.0.2", port: 8883 });
    c = mergeConfig(c, { region: "ap-southeast-1" });
    expect([c.host, c.instanceId, c.region, c.port]).toEqual([undefined, undefined, "ap-southeast-1", 8883]);
    c = mergeConfig(c, { instanceId: "iot-06z00x" });
    expect([c.host, c.instanceId, c.region]).toEqual([undefined, "iot-06z00x", undefined]);
    c = mergeConfig(c, { host: "broker.example.com" });
    expect([c.host, c.instanceId, c.region, c.port]).toEqual(["broker.example.com", undefined, undefined, 8883]);
    expect(
      rejects(c, { host: "a.b", region: "cn-shanghai" }, /^region\+host: only one of region, instanceId, host$/),
    ).toBeTruthy();
    // removing one does not touch the others; other fields do not touch the endpoint
    expect(mergeConfig(c, { region: null }).host).toBe("broker.example.com");
    expect(mergeConfig(c, { keepAlive: 60 }).host).toBe("broker.example.com");
    // a stored config from before this rule (host and region both set) still boots
    expect(() => validateConfig(Object.assign(full(), { host: "h.example", region: "cn-shanghai" }))).not.toThrow();
  });

  it("identity: exactly one of deviceSecret | productSecret (+preregistered) | clientId+deviceToken; setting one removes the others", () => {
    const PS = "Pq7Zk2xW9vRt4",
      TK = "Tk8LmN3bVc4Qz";
    let c = mergeConfig(full(), {
      productKey: "a1X2bEnP82z",
      deviceName: "example1",
      productSecret: PS,
      preregistered: false,
    });
    expect([c.deviceSecret, c.productSecret, c.preregistered]).toEqual([undefined, PS, false]);
    c = mergeConfig(c, { productKey: "a1X2bEnP82z", deviceName: "example1", clientId: "cid1", deviceToken: TK });
    expect([c.productSecret, c.preregistered, c.clientId, c.deviceToken]).toEqual([undefined, undefined, "cid1", TK]);
    c = mergeConfig(c, { productKey: "a1X2bEnP82z", deviceName: "example1", deviceSecret: SECRET });
    expect(c).toEqual(full());
    // every identity field needs productKey and deviceName with it
    for (const f of ["productSecret", "preregistered", "clientId", "deviceToken", "deviceSecret"])
      rejects(full(), { [f]: "x" }, "productKey");
    // two groups at once, or a half group
    rejects(null, Object.assign(full(), { productSecret: PS }), /^deviceSecret\+productSecret: exactly one of/);
    rejects(full(), { productKey: "a1X2bEnP82z", deviceName: "example1", deviceToken: TK }, "clientId");
    rejects(full(), { productKey: "a1X2bEnP82z", deviceName: "example1", clientId: "cid1" }, "clientId");
    rejects(full(), { productKey: "a1X2bEnP82z", deviceName: "example1" }, "deviceSecret");
    // registration is TLS-only, whichever comes first
    rejects(
      null,
      Object.assign(full(), { deviceSecret: undefined, productSecret: PS, tls: false }),
      /^productSecret: registration needs tls: true$/,
    );
    const reg = mergeConfig(null, Object.assign(full(), { deviceSecret: undefined, productSecret: PS }));
    rejects(reg, { tls: false }, "productSecret");
    expect(mergeConfig(full(), { tls: false }).tls).toBe(false);
    rejects(full(), { tls: "no" }, "tls");
  });

  it("validateConfig checks a stored (complete) config the same way", () => {
    expect(() => validateConfig(full())).not.toThrow();
    expect(() => validateConfig({ ssid: "a", password: "" })).toThrow(/productKey/);
    expect(() => validateConfig(Object.assign(full(), { x: 1 }))).toThrow(/\bx\b/);
    expect(() => validateConfig(Object.assign(full(), { keepAlive: 5 }))).toThrow(/keepAlive/);
  });
});

describe("maskConfig", () => {
  it("prints fields in a fixed order whatever the input order", () => {
    const a = Object.assign({ telnet: true, keepAlive: 600, region: "cn-shanghai" }, full());
    const b = Object.assign(full(), { region: "cn-shanghai", keepAlive: 600, telnet: true });
    expect(Object.keys(maskConfig(a))).toEqual(Object.keys(maskConfig(b)));
    const keys = Object.keys(maskConfig(a));
    expect(keys).toEqual(fieldNames().filter((k) => k in a));
    expect(JSON.stringify(maskConfig(a))).toBe(JSON.stringify(maskConfig(b)));
  });

  it("masks deviceSecret and the Wi-Fi password: the last 2 chars of 16+, none of shorter ones", () => {
    const m = maskConfig(full());
    expect(m.deviceSecret).toBe("****" + SECRET.slice(-2));
    expect(m.password).toBe("****"); // 14 chars: too short to show any
    expect(maskConfig(Object.assign(full(), { password: "x".repeat(15) + "yz" })).password).toBe("****yz");
    expect(maskConfig(Object.assign(full(), { password: "x".repeat(13) + "yz" })).password).toBe("****");
    expect(m.ssid).toBe("home");
    expect(m.productKey).toBe("a1X2bEnP82z");
    expect(maskConfig(Object.assign(full(), { password: "" })).password).toBe("");
    expect(maskConfig(Object.assign(full(), { password: "12345678" })).password).toBe("****");
    expect(maskConfig(Object.assign(full(), { deviceSecret: "abc" })).deviceSecret).toBe("****");
    // the mask never reveals the length
    expect(maskConfig(Object.assign(full(), { password: "x".repeat(63) })).password).toHaveLength(6);
  });

  it("masks productSecret and deviceToken like deviceSecret; clientId and preregistered are shown", () => {
    const m = maskConfig({
      ssid: "home",
      password: WIFIPW,
      productKey: "pk",
      deviceName: "dev1",
      productSecret: "Pq7Zk2xW9vRt4aBcD",
      preregistered: false,
      tls: true,
    });
    expect(m).toEqual({
      ssid: "home",
      password: "****",
      productKey: "pk",
      deviceName: "dev1",
      productSecret: "****cD",
      preregistered: false,
      tls: true,
    });
    expect(maskConfig({ clientId: "cid1", deviceToken: "Tk8LmN3bVc4Qz" })).toEqual({
      clientId: "cid1",
      deviceToken: "****",
    });
    expect(maskConfig({ clientId: "cid1", deviceToken: "Tk8LmN3bVc4Qz1234" })).toEqual({
      clientId: "cid1",
      deviceToken: "****34",
    });
  });

  it("no 5-char piece of a secret appears in the masked output", () => {
    const out = JSON.stringify(maskConfig(full()));
    for (const s of [SECRET, WIFIPW]) {
      for (let i = 0; i + 5 <= s.length; i++) expect(out).not.toContain(s.slice(i, i + 5));
    }
  });
});
