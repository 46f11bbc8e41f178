// End-to-end: the unmodified dist/firmware.js in the simulator (tools/simulator/) against the
// IoT Platform emulator (tools/emulator/, independent of lib/). Every listener is on port 0;
// time is compressed by SCALE on both sides (timers, keep-alive limits), never the rules.
// This is the only E2E file, so its tests never run concurrently with each other.
import { describe, it, expect, afterEach, onTestFailed } from "vitest";
import { existsSync, mkdtempSync, rmSync, readdirSync, statSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createDevice } from "../tools/simulator";
import { startEmulator } from "../tools/emulator/index";

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

async function until(what: string, f: () => any, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("timed out waiting for " + what);
}

/** Emulator + simulated device configured through its console; logs shown when a test fails. */
async function rig(o: { setup?: Record<string, any>; device?: any; rechunk?: boolean; fault?: any; scale?: number; devices?: any[]; hosts?: Record<string, string> } = {}) {
  const scale = o.scale || SCALE;
  const log: string[] = [];
  onTestFailed(() => { console.log(log.slice(-80).join("\n")); });
  const emu = await startEmulator({ port: 0, devices: o.devices || [DEV], timeScale: scale, log: (l: string) => log.push("[cloud] " + l) });
  if (o.fault) emu.setFault(o.fault);
  const events = record(emu, ["connect", "connack", "register", "subscribe", "pingreq", "post", "set_reply", "kick", "disconnect"]);
  const dir = mkdtempSync(join(tmpdir(), "e2e-"));
  const out: string[] = [];
  const dev = createDevice({
    firmware: FIRMWARE, storageDir: dir, timeScale: scale, wifi: AP, rechunk: o.rechunk, hosts: o.hosts,
    out: (l: string) => { out.push(l); log.push("[device] " + l); },
    log: (l: string) => log.push("[sim] " + l),
  });
  cleanup.push(async () => {
    // the simulator's stand-in for the two TLS traps of Espruino 2v29 (docs/ESPRUINO.md §4)
    const crashes = out.filter((l) => l.includes("simulator: CRASH"));
    dev.close(); await emu.close(); rmSync(dir, { recursive: true, force: true });
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
    it(`first connect signed with ${m} is accepted (CONNACK 0) and subscribes`, async () => {
      const r = await rig({ setup: { signMethod: m } });
      await until("online", r.online);
      const c = r.events.find((e) => e.ev === "connect")!.data;
      expect(c.signMethod).toBe(m);
      expect(r.events.find((e) => e.ev === "connack")!.data.returnCode).toBe(0);
      await until("subscribe", () => r.count("subscribe") === 1);
      expect(r.status().connects).toBe(1);
    }, T);
  }

  it("TLS by default (securemode=2 over TLS); tls: false comes online over TCP (securemode=3); back to TLS", async () => {
    const r = await rig();
    await until("online", r.online);
    const first = r.events.find((e) => e.ev === "connect")!.data;
    expect([first.tls, first.clientId]).toEqual([true, DEV.productKey + "." + DEV.deviceName + "|securemode=2,signmethod=hmacsha256|"]);
    r.dev.eval("iot.setup({tls: false})", { throws: true });
    await until("online over TCP", () => r.count("connack") === 2 && r.online());
    const second = r.events.filter((e) => e.ev === "connect")[1].data;
    expect([second.tls, second.clientId]).toEqual([false, DEV.productKey + "." + DEV.deviceName + "|securemode=3,signmethod=hmacsha256|"]);
    r.dev.eval("iot.setup({tls: null})", { throws: true });
    await until("online over TLS again", () => r.count("connack") === 3 && r.online());
    expect(r.events.filter((e) => e.ev === "connect")[2].data.tls).toBe(true);
    expect(r.events.filter((e) => e.ev === "connack").map((e) => e.data.returnCode)).toEqual([0, 0, 0]);
  }, T);

  it("register (productSecret): registers once over TLS, stores the deviceSecret, logs in; a restart logs in without registering", async () => {
    const PS = "Hq4TzR8wPm2Xk6Vb";
    const r = await rig({ devices: [{ ...DEV, productSecret: PS }], device: { productKey: DEV.productKey, deviceName: DEV.deviceName, productSecret: PS } });
    await until("online", r.online);
    expect(r.events.filter((e) => e.ev === "register").map((e) => e.data.authType)).toEqual(["register"]);
    const connects = r.events.filter((e) => e.ev === "connect").map((e) => e.data);
    expect(connects.map((c) => [c.tls, c.authType])).toEqual([[true, "register"], [true, undefined]]);
    r.dev.eval("iot.show()");
    const shown = r.out.filter((l) => l.startsWith("{")).pop()!;
    expect(shown).toContain("deviceSecret");
    expect(shown).not.toContain("productSecret");
    r.dev.reboot();
    await until("online after restart", () => r.count("connack") === 3 && r.online());
    expect(r.count("register")).toBe(1);
    expect(r.events.filter((e) => e.ev === "connect").map((e) => e.data.authType)).toEqual(["register", undefined, undefined]);
    const all = r.log.join("\n");
    for (const secret of [PS, DEV.deviceSecret]) expect(all).not.toContain(secret);
  }, T);

  it("regnwl (preregistered: false): gets clientId + deviceToken, logs in with connwl; a restart logs in with the token", async () => {
    const PS = "Hq4TzR8wPm2Xk6Vb", NEW = { productKey: DEV.productKey, deviceName: "e2e-nwl-device" };
    const r = await rig({ devices: [{ ...DEV, productSecret: PS }], device: { ...NEW, productSecret: PS, preregistered: false } });
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
  }, T);

  it("a bad productSecret: CONNACK 4, lastError names productSecret, gaps between attempts grow, nothing stored changes", async () => {
    const r = await rig({ devices: [{ ...DEV, productSecret: "Hq4TzR8wPm2Xk6Vb" }], device: { productKey: DEV.productKey, deviceName: DEV.deviceName, productSecret: "WRONGproductSECRET" } });
    await until("4 attempts", () => r.count("connack") >= 4, 40000);
    expect(r.events.filter((e) => e.ev === "connack").every((e) => e.data.returnCode === 4)).toBe(true);
    expect(r.status().lastError).toBe("connack 4: bad username or password, check productSecret");
    const connects = r.events.filter((e) => e.ev === "connect").map((e) => e.t);
    const gaps = connects.slice(1).map((t, i) => t - connects[i]);
    expect(gaps[2]).toBeGreaterThan(1.5 * gaps[0]);
    expect(r.count("register")).toBe(0);
    expect(r.log.join("\n")).not.toContain("WRONGproductSECRET");
  }, T);

  it("endpoint switch: iot.setup({region}) after a host drops the host and connects to the region's host, same port", async () => {
    const regionHost = DEV.productKey + ".iot-as-mqtt.cn-shanghai.aliyuncs.com";
    const r = await rig({ hosts: { [regionHost]: "127.0.0.1" } });
    await until("online", r.online);
    r.dev.eval('iot.setup({region: "cn-shanghai"})', { throws: true });
    await until("online via the region host", () => r.count("connack") === 2 && r.online());
    expect(r.log.filter((l) => l.startsWith("[sim] net: connect ")).map((l) => l.split(" ")[3])).toEqual(["127.0.0.1:" + r.emu.port, regionHost + ":" + r.emu.port]);
  }, T);

  it("turns the password-less Telnet console off on ESP32 unless the config says telnet: true", async () => {
    const r = await rig();
    await until("online", r.online);
    expect(r.log.filter((l) => l.startsWith("[sim] telnet:")).pop()).toBe("[sim] telnet: off");
    r.dev.eval("iot.setup({telnet: true})", { throws: true });
    expect(r.log.filter((l) => l.startsWith("[sim] telnet:")).pop()).toBe("[sim] telnet: on");
    r.dev.eval("iot.setup({telnet: false})", { throws: true });
    expect(r.log.filter((l) => l.startsWith("[sim] telnet:")).pop()).toBe("[sim] telnet: off");
  }, T);

  it("writes nothing to flash per message: Storage is unchanged across posts, replies and sets", async () => {
    const r = await rig();
    await until("online", r.online);
    await until("subscribe", () => r.count("subscribe") === 1);
    const snap = () => readdirSync(r.dev.storageDir).sort().map((f: string) => f + ":" + statSync(join(r.dev.storageDir, f)).mtimeMs + ":" + readFileSync(join(r.dev.storageDir, f), "latin1"));
    const before = snap();
    expect(before.length).toBeGreaterThan(0); // the config is there
    r.dev.eval("n = 0; iot.on('reply', function () { n++ })");
    for (let i = 0; i < 10; i++) r.dev.eval("iot.post({Seq: " + i + "})");
    await r.emu.setProperty(DEV.productKey, DEV.deviceName, { Target: 1 });
    await until("10 replies", () => r.dev.eval("n") >= 10);
    expect(snap()).toEqual(before);
  }, T);

  it("property post gets a post_reply 200 that reaches iot.on('reply')", async () => {
    const r = await rig();
    await until("online", r.online);
    r.dev.eval("replies = []; iot.on('reply', function (id, code) { replies.push(id + ':' + code) })");
    const id = r.dev.eval("iot.post({Temp: 21.5})");
    await until("reply", () => r.dev.eval("replies.length") === 1);
    expect(r.dev.eval("replies[0]")).toBe(id + ":200");
    const post = r.events.find((e) => e.ev === "post")!.data;
    expect(post).toMatchObject({ id, code: 200, params: { Temp: 21.5 } });
  }, T);

  it("property set gets a set_reply 200 and the value is posted back", async () => {
    const r = await rig();
    await until("online", r.online);
    await until("subscribe", () => r.count("subscribe") === 1);
    r.dev.eval("iot.on('set', function (p) { iot.post(p) })");
    const reply = await r.emu.setProperty(DEV.productKey, DEV.deviceName, { Target: 23 });
    expect(reply.code).toBe(200);
    await until("post back", () => r.events.some((e) => e.ev === "post" && e.data.params && e.data.params.Target === 23));
  }, T);

  it("keepAlive 30: pings keep the link up through 3 keep-alive periods", async () => {
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
  }, T);

  it("broker stop/start: back online and subscribed again", async () => {
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
  }, T);

  it("a broker that stops answering (mute): the device notices and reconnects", async () => {
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
  }, T);

  it("a bad deviceSecret: CONNACK 4, lastError says so, gaps between attempts grow", async () => {
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
  }, T);

  it("Wi-Fi loss: offline, then back online once the access point returns", async () => {
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
  }, T);

  it("offline for offlineResetMinutes: the firmware stops kicking, the watchdog reboots it, it comes back", async () => {
    // 30 min of device time, compressed 100x (the watchdog's 40 s become 0.4 s)
    const scale = 100;
    const r = await rig({ scale });
    await until("online", r.online);
    expect(r.dev.boots).toBe(1);
    const t0 = Date.now();
    r.dev.wifiDown();
    await until("watchdog reboot", () => r.dev.boots === 2, 60000);
    // not before offlineResetMinutes (30) of device time
    expect(Date.now() - t0).toBeGreaterThan(0.9 * 30 * 60000 / scale);
    expect(r.out.some((l) => /watchdog reset/.test(l))).toBe(true);
    r.dev.wifiUp();
    await until("online after the reboot, from the stored config", r.online, 20000);
    expect(r.status().connects).toBe(1);
  }, T);

  it("broker writes split into 1-byte pieces (and device reads re-chunked): still works", async () => {
    const r = await rig({ fault: { splitWrites: true }, rechunk: true });
    await until("online", r.online);
    r.dev.eval("replies = []; iot.on('reply', function (id, code) { replies.push(code) })");
    r.dev.eval("iot.post({Temp: 1})");
    await until("reply", () => r.dev.eval("replies.length") === 1);
    expect(r.dev.eval("replies[0]")).toBe(200);
    const reply = await r.emu.setProperty(DEV.productKey, DEV.deviceName, { Target: 5 });
    expect(reply.code).toBe(200);
  }, T);
});

describe("npm start", () => {
  function run(args: string[], dir: string): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, ["--import", "tsx", "tools/start/start.ts", ...args], {
        env: { ...process.env, IOT_SIM_DIR: join(dir, ".sim"), IOT_EMULATOR_DIR: join(dir, ".emulator") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      p.stdout.on("data", (b) => { out += b; });
      p.stderr.on("data", (b) => { out += b; });
      p.on("close", (code) => resolve({ code, out }));
    });
  }

  it("--once exits 0 after the device came online and got a post_reply, also on a second start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "start-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await run(["--once", "--time-scale", "10", "--timeout", "30"], dir);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/answered with code 200/);
    expect(existsSync(join(dir, ".emulator", "devices.json"))).toBe(true);
    // the emulator's TLS certificate, made on the first start and kept with the devices
    expect(existsSync(join(dir, ".emulator", "tls-cert.pem"))).toBe(true);
    expect(existsSync(join(dir, ".sim", "storage", "app.js"))).toBe(true);
    // the secret is typed into the console but never shown
    expect(first.out).toMatch(/deviceSecret:"\*\*\*\*"/);
    const second = await run(["--once", "--time-scale", "10", "--timeout", "30"], dir);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/iot\.setup\(\{host:"127\.0\.0\.1", port:\d+\}\)/);
  }, T);

  it("--once exits 1 with a message when no post_reply comes in time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "start-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = await run(["--once", "--timeout", "0.3"], dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no post_reply within 0.3 s/);
  }, T);
});
