// End-to-end: the unmodified dist/firmware.js in the simulator (tools/simulator/) against the
// IoT Platform emulator (tools/emulator/, independent of lib/). Every listener is on port 0;
// time is compressed by SCALE on both sides (timers, keep-alive limits), never the rules.
// This is the only E2E file, so its tests never run concurrently with each other.
import { describe, it, expect, afterEach, onTestFailed } from "vitest";
import { existsSync, mkdtempSync, rmSync, readdirSync, statSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createDevice } from "../tools/simulator/index";
import { startEmulator } from "../tools/emulator/index";
import { until } from "./support/until";

const SCALE = 10;
const FIRMWARE = "dist/firmware.js";
const DEV = { productKey: "a1X2bEnP82z", deviceName: "e2e-device", deviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw" };
const AP = { ssid: "E2E-AP", password: "e2e-password" };
const T = 60000; // per-test limit (real ms); a pass takes a few seconds

if (!existsSync(FIRMWARE)) throw new Error(FIRMWARE + " missing: run `npm run build` (npm test does)");

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

/** Events of an emitter, recorded with their real arrival time. */
function record(emu: any, names: string[]) {
  const got: { ev: string; t: number; data: any }[] = [];
  for (const ev of names) emu.on(ev, (data: any) => got.push({ ev, t: Date.now(), data }));
  return got;
}

/** Emulator + simulated device configured through its console; logs shown when a test fails. */
async function rig(
  o: {
    setup?: Record<string, any>;
    device?: any;
    rechunk?: boolean;
    fault?: any;
    scale?: number;
    devices?: any[];
    hosts?: Record<string, string>;
  } = {},
) {
  const scale = o.scale || SCALE;
  const log: string[] = [];
  onTestFailed(() => {
    console.log(log.slice(-80).join("\n"));
  });
  const emu = await startEmulator({
    port: 0,
    devices: o.devices || [DEV],
    timeScale: scale,
    log: (l: string) => log.push("[cloud] " + l),
  });
  if (o.fault) emu.setFault(o.fault);
  const events = record(emu, [
    "connect",
    "connack",
    "register",
    "subscribe",
    "pingreq",
    "post",
    "set_reply",
    "kick",
    "disconnect",
  ]);
  const dir = mkdtempSync(join(tmpdir(), "e2e-"));
  const out: string[] = [];
  const dev = createDevice({
    firmware: FIRMWARE,
    storageDir: dir,
    timeScale: scale,
    wifi: AP,
    rechunk: o.rechunk,
    hosts: o.hosts,
    out: (l: string) => {
      out.push(l);
      log.push("[device] " + l);
    },
    log: (l: string) => log.push("[sim] " + l),
  });
  cleanup.push(async () => {
    // the simulator's stand-in for the two TLS traps of Espruino 2v29 (docs/ESPRUINO.md §4)
    const crashes = out.filter((l) => l.includes("simulator: CRASH"));
    dev.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
    expect(crashes).toEqual([]);
  });
  const cfg = { ...AP, ...(o.device || DEV), host: "127.0.0.1", port: emu.port, ...(o.setup || {}) };
  dev.eval("iot.setup(" + JSON.stringify(cfg) + ")", { throws: true });
  const status = () => dev.eval("iot.status()");
  const online = () => status().state === "online";
  const count = (ev: string) => events.filter((e) => e.ev === ev).length;
  return { emu, dev, events, out, status, online, count, log };
}

describe("end to end: firmware in the simulator against the platform emulator", () => {
  for (const m of ["hmacmd5", "hmacsha1", "hmacsha256"]) {
    it(
      `first connect signed with ${m} is accepted (CONNACK 0) and subscribes`,
      async () => {
        const r = await rig({ setup: { signMethod: m } });
        await until("online", r.online);
        const c = r.events.find((e) => e.ev === "connect")!.data;
        expect(c.signMethod).toBe(m);
        expect(r.events.find((e) => e.ev === "connack")!.data.returnCode).toBe(0);
        await until("subscribe", () => r.count("subscribe") === 1);
        expect(r.status().connects).toBe(1);
      },
      T,
    );
  }

  it(
    "TLS by default (securemode=2 over TLS); tls: false comes online over TCP (securemode=3); back to TLS",
    async () => {
      const r = await rig();
      await until("online", r.online);
      const first = r.events.find((e) => e.ev === "connect")!.data;
      expect([first.tls, first.clientId]).toEqual([
        true,
        DEV.productKey + "." + DEV.deviceName + "|securemode=2,signmethod=hmacsha256|",
      ]);
      r.dev.eval("iot.setup({tls: false})", { throws: true });
      await until("online over TCP", () => r.count("connack") === 2 && r.online());
      const second = r.events.filter((e) => e.ev === "connect")[1].data;
      expect([second.tls, second.clientId]).toEqual([
        false,
        DEV.productKey + "." + DEV.deviceName + "|securemode=3,signmethod=hmacsha256|",
      ]);
      r.dev.eval("iot.setup({tls: null})", { throws: true });
      await until("online over TLS again", () => r.count("connack") === 3 && r.online());
      expect(r.events.filter((e) => e.ev === "connect")[2].data.tls).toBe(true);
      expect(r.events.filter((e) => e.ev === "connack").map((e) => e.data.returnCode)).toEqual([0, 0, 0]);
    },
    T,
  );

  it(
    "register (productSecret): registers once over TLS, stores the deviceSecret, logs in; a restart logs in without registering",
    async () => {
      const PS = "Hq4TzR8wPm2Xk6Vb";
      const r = await rig({
        devices: [{ ...DEV, productSecret: PS }],
        device: { productKey: DEV.productKey, deviceName: DEV.deviceName, productSecret: PS },
      });
      await until("online", r.online);
      expect(r.events.filter((e) => e.ev === "register").map((e) => e.data.authType)).toEqual(["register"]);
      const connects = r.events.filter((e) => e.ev === "connect").map((e) => e.data);
      expect(connects.map((c) => [c.tls, c.authType])).toEqual([
        [true, "register"],
        [true, undefined],
      ]);
      r.dev.eval("iot.show()");
      const shown = r.out.filter((l) => l.startsWith("{")).pop()!;
      expect(shown).toContain("deviceSecret");
      expect(shown).not.toContain("productSecret");
      r.dev.reboot();
      await until("online after restart", () => r.count("connack") === 3 && r.online());
      expect(r.count("register")).toBe(1);
      expect(r.events.filter((e) => e.ev === "connect").map((e) => e.data.authType)).toEqual([
        "register",
        undefined,
        undefined,
      ]);
      const all = r.log.join("\n");
      for (const secret of [PS, DEV.deviceSecret]) expect(all).not.toContain(secret);
    },
    T,
  );

  it(
    "regnwl (preregistered: false): gets clientId + deviceToken, logs in with connwl; a restart logs in with the token",
    async () => {
      const PS = "Hq4TzR8wPm2Xk6Vb",
        NEW = { productKey: DEV.productKey, deviceName: "e2e-nwl-device" };
      const r = await rig({
        devices: [{ ...DEV, productSecret: PS }],
        device: { ...NEW, productSecret: PS, preregistered: false },
      });
      await until("online", r.online);
      expect(r.events.filter((e) => e.ev === "register").map((e) => e.data)).toEqual([{ ...NEW, authType: "regnwl" }]);
      const login = r.events.filter((e) => e.ev === "connect")[1].data;
      expect(login.clientId).toMatch(/^[0-9a-f]{16}\|securemode=-2,authType=connwl\|$/);
      expect(login.authType).toBe("connwl");
      r.dev.reboot();
      await until("online after restart", () => r.count("connack") === 3 && r.online());
      expect(r.count("register")).toBe(1);
      expect(r.events.filter((e) => e.ev === "connect")[2].data.clientId).toBe(login.clientId);
      const token = r.emu.devices.find((d: any) => d.deviceName === NEW.deviceName)!.deviceToken as string;
      expect(r.log.join("\n")).not.toContain(token);
    },
    T,
  );

  it(
    "a bad productSecret: CONNACK 4, lastError names productSecret, gaps between attempts grow, nothing stored changes",
    async () => {
      const r = await rig({
        devices: [{ ...DEV, productSecret: "Hq4TzR8wPm2Xk6Vb" }],
        device: { productKey: DEV.productKey, deviceName: DEV.deviceName, productSecret: "WRONGproductSECRET" },
      });
      await until("4 attempts", () => r.count("connack") >= 4, 40000);
      expect(r.events.filter((e) => e.ev === "connack").every((e) => e.data.returnCode === 4)).toBe(true);
      expect(r.status().lastError).toBe("connack 4: bad username or password, check productSecret");
      const connects = r.events.filter((e) => e.ev === "connect").map((e) => e.t);
      const gaps = connects.slice(1).map((t, i) => t - connects[i]);
      expect(gaps[2]).toBeGreaterThan(1.5 * gaps[0]);
      expect(r.count("register")).toBe(0);
      expect(r.log.join("\n")).not.toContain("WRONGproductSECRET");
    },
    T,
  );

  it(
    "endpoint switch: iot.setup({region}) after a host drops the host and connects to the region's host, same port",
    async () => {
      const regionHost = DEV.productKey + ".iot-as-mqtt.cn-shanghai.aliyuncs.com";
      const r = await rig({ hosts: { [regionHost]: "127.0.0.1" } });
      await until("online", r.online);
      r.dev.eval('iot.setup({region: "cn-shanghai"})', { throws: true });
      await until("online via the region host", () => r.count("connack") === 2 && r.online());
      expect(r.log.filter((l) => l.startsWith("[sim] net: connect ")).map((l) => l.split(" ")[3])).toEqual([
        "127.0.0.1:" + r.emu.port,
        regionHost + ":" + r.emu.port,
      ]);
    },
    T,
  );

  it(
    "turns the password-less Telnet console off on ESP32 unless the config says telnet: true",
    async () => {
      const r = await rig();
      await until("online", r.online);
      expect(r.log.filter((l) => l.startsWith("[sim] telnet:")).pop()).toBe("[sim] telnet: off");
      r.dev.eval("iot.setup({telnet: true})", { throws: true });
      expect(r.log.filter((l) => l.startsWith("[sim] telnet:")).pop()).toBe("[sim] telnet: on");
      r.dev.eval("iot.setup({telnet: false})", { throws: true });
      expect(r.log.filter((l) => l.startsWith("[sim] telnet:")).pop()).toBe("[sim] telnet: off");
    },
    T,
  );

  it(
    "writes nothing to flash per message: Storage is unchanged across posts, replies and sets",
    async () => {
      const r = await rig();
      await until("online", r.online);
      await until("subscribe", () => r.count("subscribe") === 1);
      const snap = () =>
        readdirSync(r.dev.storageDir)
          .sort()
          .map(
            (f: string) =>
              f +
              ":" +
              statSync(join(r.dev.storageDir, f)).mtimeMs +
              ":" +
              readFileSync(join(r.dev.storageDir, f), "latin1"),
          );
      const before = snap();
      expect(before.length).toBeGreaterThan(0); // the config is there
      r.dev.eval("n = 0; iot.on('reply', function () { n++ })");
      for (let i = 0; i < 10; i++) r.dev.eval("iot.post({Seq: " + i + "})");
      await r.emu.setProperty(DEV.productKey, DEV.deviceName, { Target: 1 });
      await until("10 replies", () => r.dev.eval("n") >= 10);
      expect(snap()).toEqual(before);
    },
    T,
  );

  it(
    "property post gets a post_reply 200 that reaches iot.on('reply')",
    async () => {
      const r = await rig();
      await until("online", r.online);
      r.dev.eval("replies = []; iot.on('reply', function (id, code) { replies.push(id + ':' + code) })");
      const id = r.dev.eval("iot.post({Temp: 21.5})");
      await until("reply", () => r.dev.eval("replies.length") === 1);
      expect(r.dev.eval("replies[0]")).toBe(id + ":200");
      const post = r.events.find((e) => e.ev === "post")!.data;
      expect(post).toMatchObject({ id, code: 200, params: { Temp: 21.5 } });
    },
    T,
  );

  it(
    "property set gets a set_reply 200 and the value is posted back",
    async () => {
      const r = await rig();
      await until("online", r.online);
      await until("subscribe", () => r.count("subscribe") === 1);
      r.dev.eval("iot.on('set', function (p) { iot.post(p) })");
      const reply = await r.emu.setProperty(DEV.productKey, DEV.deviceName, { Target: 23 });
      expect(reply.code).toBe(200);
      await until("post back", () =>
        r.events.some((e) => e.ev === "post" && e.data.params && e.data.params.Target === 23),
      );
    },
    T,
  );

  it(
    "keepAlive 30: pings keep the link up through 3 keep-alive periods",
    async () => {
      const r = await rig({ setup: { keepAlive: 30 } });
      await until("online", r.online);
      expect(r.events.find((e) => e.ev === "connect")!.data.keepalive).toBe(30);
      const from = r.count("pingreq");
      const window = (90 * 1000) / SCALE; // 90 s of device time
      await new Promise((res) => setTimeout(res, window));
      const pings = r.count("pingreq") - from;
      // at least one per keep-alive period (the platform drops a link silent for 45 s),
      // at most one per 15 s (+ slack for the window edges)
      expect(pings).toBeGreaterThanOrEqual(3);
      expect(pings).toBeLessThanOrEqual(8);
      expect(r.count("disconnect")).toBe(0);
      expect(r.online()).toBe(true);
      expect(r.status().connects).toBe(1);
    },
    T,
  );

  it(
    "broker stop/start: back online and subscribed again",
    async () => {
      const r = await rig({ setup: { keepAlive: 30 } });
      await until("online", r.online);
      await until("subscribe", () => r.count("subscribe") === 1);
      await r.emu.stop();
      await until("offline", () => !r.online());
      await new Promise((res) => setTimeout(res, 20000 / SCALE)); // down for 20 s of device time
      await r.emu.start();
      await until("resubscribed", () => r.count("subscribe") === 2);
      await until("online", r.online);
      expect(r.status().connects).toBe(2);
    },
    T,
  );

  it(
    "a broker that stops answering (mute): the device notices and reconnects",
    async () => {
      const r = await rig({ setup: { keepAlive: 30 } });
      await until("online", r.online);
      await until("subscribe", () => r.count("subscribe") === 1);
      r.emu.setFault({ mute: true });
      await until("device gives up the muted link", () => !r.online(), 30000);
      expect(r.status().lastError).toMatch(/timeout/);
      r.emu.setFault({});
      await until("online again", r.online, 30000);
      expect(r.status().connects).toBeGreaterThanOrEqual(2);
      await until("resubscribed", () => r.count("subscribe") >= 2);
    },
    T,
  );

  it(
    "a bad deviceSecret: CONNACK 4, lastError says so, gaps between attempts grow",
    async () => {
      const r = await rig({ device: { ...DEV, deviceSecret: "WRONGsecretWRONGsecretWRONGsecre" } });
      await until("5 attempts", () => r.count("connack") >= 5, 40000);
      const acks = r.events.filter((e) => e.ev === "connack");
      expect(acks.every((e) => e.data.returnCode === 4)).toBe(true);
      expect(r.online()).toBe(false);
      expect(r.status().lastError).toMatch(/connack 4/);
      expect(r.status().lastError).not.toMatch(/WRONG/);
      const connects = r.events.filter((e) => e.ev === "connect").map((e) => e.t);
      const gaps = connects.slice(1).map((t, i) => t - connects[i]);
      // equal-jitter backoff doubles: the 4th gap is at least 4x the 1st whatever the jitter
      expect(gaps[3]).toBeGreaterThan(2 * gaps[0]);
      expect(r.out.join("\n")).not.toMatch(/WRONGsecret/);
    },
    T,
  );

  it(
    "Wi-Fi loss: offline, then back online once the access point returns",
    async () => {
      const r = await rig();
      await until("online", r.online);
      r.dev.wifiDown();
      await until("offline", () => !r.online());
      await new Promise((res) => setTimeout(res, 10000 / SCALE));
      expect(r.online()).toBe(false);
      r.dev.wifiUp();
      await until("online again", r.online, 30000);
      expect(r.status().connects).toBe(2);
      expect(r.dev.wifiState).toBe("connected");
    },
    T,
  );

  it(
    "offline for offlineResetMinutes: the firmware stops kicking, the watchdog reboots it, it comes back",
    async () => {
      // 30 min of device time, compressed 100x (the watchdog's 40 s become 0.4 s)
      const scale = 100;
      const r = await rig({ scale });
      await until("online", r.online);
      expect(r.dev.boots).toBe(1);
      const t0 = Date.now();
      r.dev.wifiDown();
      await until("watchdog reboot", () => r.dev.boots === 2, 60000);
      // not before offlineResetMinutes (30) of device time
      expect(Date.now() - t0).toBeGreaterThan((0.9 * 30 * 60000) / scale);
      expect(r.out.some((l) => /watchdog reset/.test(l))).toBe(true);
      r.dev.wifiUp();
      await until("online after the reboot, from the stored config", r.online, 20000);
      expect(r.status().connects).toBe(1);
    },
    T,
  );

  it(
    "broker writes split into 1-byte pieces (and device reads re-chunked): still works",
    async () => {
      const r = await rig({ fault: { splitWrites: true }, rechunk: true });
      await until("online", r.online);
      r.dev.eval("replies = []; iot.on('reply', function (id, code) { replies.push(code) })");
      r.dev.eval("iot.post({Temp: 1})");
      await until("reply", () => r.dev.eval("replies.length") === 1);
      expect(r.dev.eval("replies[0]")).toBe(200);
      const reply = await r.emu.setProperty(DEV.productKey, DEV.deviceName, { Target: 5 });
      expect(reply.code).toBe(200);
    },
    T,
  );
});

describe("end to end: services, RRPC and device logs", () => {
  const { productKey: PK, deviceName: DN } = DEV;
  /** The emulator's log posts; each must have the documented shape. */
  const logPosts = (emu: any) => {
    const posts: any[] = [];
    emu.on("log", (e: any) => posts.push(e));
    return posts;
  };
  const lines = (posts: any[]) =>
    posts.flatMap((p) => p.entries.map((e: any) => e.logLevel + " " + e.module + " " + e.logContent));

  it(
    "services asynchronous and synchronous: object, number, throw and no handler, each answered within 1 s; classic RRPC; property set once",
    async () => {
      const r = await rig();
      await until("online", r.online);
      await until("subscribe", () => r.count("subscribe") === 1);
      const subs = r.events.find((e) => e.ev === "subscribe")!.data.topics.map((t: any) => t.topic);
      expect(subs).toContain(`/ext/rrpc/+/sys/${PK}/${DN}/thing/service/+`);
      const timed = async (p: Promise<any>) => {
        const t0 = Date.now();
        const v = await p;
        return { v, ms: Date.now() - t0 };
      };
      for (const sync of [false, true]) {
        const none = await timed(r.emu.callService(PK, DN, "Reboot", {}, { sync }));
        expect(none.v).toEqual({ id: expect.any(String), code: 404, data: {} });
        expect(none.ms).toBeLessThan(1000);
      }
      r.dev.eval(`iot.on("service", function (id, p) {
      if (id == "Add") return {sum: p.a + p.b};
      if (id == "Busy") return 6813;
      if (id == "Fail") throw new Error("boom");
    })`);
      for (const sync of [false, true]) {
        const add = await timed(r.emu.callService(PK, DN, "Add", { a: 2, b: 3 }, { sync }));
        expect(add.v).toMatchObject({ code: 200, data: { sum: 5 } });
        expect(add.ms).toBeLessThan(1000);
        expect(await r.emu.callService(PK, DN, "Busy", {}, { sync })).toMatchObject({ code: 6813, data: {} });
        expect(await r.emu.callService(PK, DN, "Fail", {}, { sync })).toMatchObject({ code: 500, data: {} });
        expect(await r.emu.callService(PK, DN, "Other", {}, { sync })).toMatchObject({ code: 200, data: {} });
      }
      // "sys":{"ack":0}: run, not answered
      expect(await r.emu.callService(PK, DN, "Add", { a: 1, b: 1 }, { noAck: true, timeout: 500 })).toBe(null);
      r.dev.eval('iot.on("rrpc", function (payload) { return "pong " + payload })');
      const t0 = Date.now();
      expect(await r.emu.rrpc(PK, DN, "ping")).toBe("pong ping");
      expect(Date.now() - t0).toBeLessThan(1000);
      // property/set is not a service: its handler runs, one set_reply
      r.dev.eval('sets = 0; iot.on("set", function () { sets++ })');
      expect((await r.emu.setProperty(PK, DN, { Light: 1 })).code).toBe(200);
      await new Promise((res) => setTimeout(res, 300));
      expect(r.dev.eval("sets")).toBe(1);
      expect(r.count("set_reply")).toBe(1);
      expect(r.status().connects).toBe(1); // nothing made the emulator close the link
    },
    T,
  );

  it(
    "a broker outage is logged and delivered after the reconnect, with real timestamps and the documented shape",
    async () => {
      const r = await rig({ setup: { keepAlive: 30 } });
      const posts = logPosts(r.emu);
      await until("online", r.online);
      // the boot entry goes once the clock is synced by NTP
      await until("boot entry", () => lines(posts).some((l) => l === "WARN boot boot 0.1.0"));
      const down = Date.now();
      await r.emu.stop();
      await until("offline", () => !r.online());
      r.dev.eval('iot.log("ERROR", "sensor lost while offline")');
      await new Promise((res) => setTimeout(res, 20000 / SCALE)); // 20 s of device time
      await r.emu.start();
      await until("online", r.online);
      await until("outage entries", () => lines(posts).some((l) => l.startsWith("WARN link down ")), 10000);
      const back = Date.now();
      for (const p of posts) expect(p.errors).toEqual([]);
      const entries = posts.flatMap((p) => p.entries);
      const outage = entries.find((e) => e.module === "link")!;
      expect(outage.logContent).toMatch(/^down (\d+) s: socket closed; then \d+ failed attempts, last: .+$/);
      // the simulator's clock runs in real time (its timers are compressed): 2 s real at least
      expect(+/down (\d+) s/.exec(outage.logContent)![1]).toBeGreaterThanOrEqual(2);
      const app = entries.find((e) => e.module === "app")!;
      expect(app).toMatchObject({ logLevel: "ERROR", code: "", logContent: "sensor lost while offline" });
      // logged while offline, stamped with the real time of that moment (host clock, within slack)
      const at = Date.parse(app.utcTime);
      expect(at).toBeGreaterThanOrEqual(down - 1000);
      expect(at).toBeLessThanOrEqual(back + 1000);
      expect(Date.parse(outage.utcTime)).toBeGreaterThanOrEqual(at);
    },
    T,
  );

  it(
    "bounded buffer (8, the oldest dropped and counted), the logLevel filter and the platform's log switch",
    async () => {
      const r = await rig({ setup: { logLevel: "INFO" } });
      const posts = logPosts(r.emu);
      await until("online", r.online);
      await until("boot entry", () => posts.length > 0);
      r.dev.wifiDown();
      await until("offline", () => !r.online());
      r.dev.eval('for (var i = 1; i <= 12; i++) iot.log("INFO", "line " + i); iot.log("DEBUG", "filtered")');
      r.dev.wifiUp();
      await until("posted", () => lines(posts).some((l) => l.startsWith("WARN log ")), 30000);
      for (const p of posts) expect(p.errors).toEqual([]);
      const after = posts.slice(1).flatMap((p) => p.entries.map((e: any) => e.logContent));
      // 12 app lines + the outage entry into 8 places: 5 dropped, reported
      expect(after).toEqual([
        "line 6",
        "line 7",
        "line 8",
        "line 9",
        "line 10",
        "line 11",
        "line 12",
        expect.stringMatching(/^down \d+ s: (wifi lost|socket closed)/),
        "5 older entries dropped",
      ]);
      // the switch off: nothing is posted; on again: the held lines go
      r.emu.setLogMode(PK, DN, 0);
      await new Promise((res) => setTimeout(res, 300));
      const n = posts.length;
      r.dev.eval('iot.log("WARN", "held while off")');
      await new Promise((res) => setTimeout(res, 500));
      expect(posts.length).toBe(n);
      r.emu.setLogMode(PK, DN, 1);
      await until("held line posted", () => lines(posts).includes("WARN app held while off"));
    },
    T,
  );
});

describe("npm start", () => {
  function run(args: string[], dir: string): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      // --app "" would mean ./app.js; a test gives its own app or the demo app (no app.js in the cwd)
      const p = spawn(process.execPath, ["--import", "tsx", "tools/start/start.ts", ...args], {
        env: { ...process.env, IOT_SIM_DIR: join(dir, ".sim"), IOT_EMULATOR_DIR: join(dir, ".emulator") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      p.stdout.on("data", (b) => {
        out += b;
      });
      p.stderr.on("data", (b) => {
        out += b;
      });
      p.on("close", (code) => resolve({ code, out }));
    });
  }

  it(
    "--once exits 0 after the device came online and got a post_reply, also on a second start",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "start-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const first = await run(["--once", "--time-scale", "10", "--timeout", "30"], dir);
      expect(first.code, first.out).toBe(0);
      expect(first.out).toMatch(/answered with code 200/);
      expect(existsSync(join(dir, ".emulator", "devices.json"))).toBe(true);
      // the emulator's TLS certificate, made on the first start and kept with the devices
      expect(existsSync(join(dir, ".emulator", "tls-cert.pem"))).toBe(true);
      expect(existsSync(join(dir, ".sim", "emulator", "storage", "app.js"))).toBe(true);
      // the secret is typed into the console but never shown
      expect(first.out).toMatch(/deviceSecret:"\*\*\*\*"/);
      const second = await run(["--once", "--time-scale", "10", "--timeout", "30"], dir);
      expect(second.code, second.out).toBe(0);
      expect(second.out).toMatch(/iot\.setup\(\{host:"127\.0\.0\.1", port:\d+\}\)/);
    },
    T,
  );

  it(
    "--once exits 1 with a message when no post_reply comes in time",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "start-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const r = await run(["--once", "--timeout", "0.3"], dir);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/no post_reply within 0.3 s/);
    },
    T,
  );

  it(
    "switches between the emulator and --config both ways; the demo app never posts to the real device",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "start-"));
      // the "real cloud" here is a second emulator the simulated board reaches through --config
      const REAL = {
        productKey: "b2Y3cReal01",
        deviceName: "real-device",
        deviceSecret: "rEaLsEcReT0123456789abcdefABCDEF",
      };
      const cloud = await startEmulator({ port: 0, devices: [REAL] });
      const posts: any[] = [];
      cloud.on("post", (e: any) => posts.push(e.params));
      cleanup.push(async () => {
        await cloud.close();
        rmSync(dir, { recursive: true, force: true });
      });
      const real = join(dir, "real.json");
      writeFileSync(real, JSON.stringify({ ...REAL, host: "127.0.0.1", port: cloud.port }));
      const args = ["--once", "--time-scale", "10", "--timeout", "30"];

      const emu1 = await run(args, dir);
      expect(emu1.code, emu1.out).toBe(0);
      expect(emu1.out).toMatch(/target: local IoT Platform emulator/);
      const toReal = await run([...args, "--config", real], dir);
      expect(toReal.code, toReal.out).toBe(0);
      expect(toReal.out).toMatch(/target: the REAL cloud, device b2Y3cReal01\/real-device/);
      expect(toReal.out).toMatch(/no app\.js \(the demo app never posts to a real device/);
      expect(existsSync(join(dir, ".sim", "real", "storage", "app.js"))).toBe(false);
      // only --once's own empty post reached the real device: no demo Temp values
      expect(posts).toEqual([{}]);
      expect(toReal.out).not.toContain(REAL.deviceSecret);
      // and back: the plain start uses the emulator's demo device again, not the real credentials
      const back = await run(args, dir);
      expect(back.code, back.out).toBe(0);
      expect(back.out).toMatch(/target: local IoT Platform emulator/);
      expect(back.out).not.toMatch(/b2Y3cReal01/);
      expect(posts).toEqual([{}]);
    },
    T,
  );

  it(
    "runs the user's app (--app) and --once still completes its own round trip",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "start-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const app = join(dir, "my-app.js");
      // an app that posts nothing and drives a pin: --once must not depend on the app's posts
      writeFileSync(app, 'iot.on("online", function () { digitalWrite(D2, 1); console.log("my app: online"); });\n');
      const r = await run(["--once", "--time-scale", "10", "--timeout", "30", "--app", app], dir);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/app\.js from .*my-app\.js/);
      expect(r.out).toMatch(/\[device\] my app: online/);
      expect(r.out).toMatch(/\[sim\] D2 = 1/);
      expect(r.out).toMatch(/answered with code 200/);
      expect(readFileSync(join(dir, ".sim", "emulator", "storage", "app.js"), "utf8")).toBe(readFileSync(app, "utf8"));
    },
    T,
  );

  it(
    "an error in app.js says it came from app.js",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "start-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const app = join(dir, "app.js");
      writeFileSync(app, "var ok = 1;\nnoSuchFunction();\n");
      const r = await run(["--once", "--time-scale", "10", "--timeout", "30", "--app", app], dir);
      expect(r.code, r.out).toBe(0); // the firmware runs on: the app's error does not stop it
      // the OTA loader runs app.js and names it when it throws (the firmware keeps running)
      expect(r.out).toMatch(/\[device\] boot: app\.js threw ReferenceError: noSuchFunction is not defined/);
    },
    T,
  );

  it(
    "--help prints the usage and exits 0",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "start-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const r = await run(["--help"], dir);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/usage: npm start -- .*--config real\.json/);
    },
    T,
  );
});
