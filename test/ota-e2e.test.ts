// OTA end to end: the simulator booting as a flashed board (dist/loader.js running the image
// from Storage) against the emulator's OTA service (tools/emulator/ota.ts, independent of
// lib/). Time is compressed by SCALE on both sides (the 10 s block retry takes 1 s).
import { describe, it, expect, afterEach, onTestFailed } from "vitest";
import { existsSync, mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDevice } from "../tools/simulator";
import { installOta, readOtaState } from "../tools/simulator/ota";
import { startEmulator } from "../tools/emulator/index";
import { until } from "./support/until";

const SCALE = 10;
const FIRMWARE = "dist/firmware.js",
  LOADER = "dist/loader.js";
const DEV = { productKey: "a1OtaTest01", deviceName: "ota-device", deviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw" };
const AP = { ssid: "OTA-AP", password: "ota-password" };
const T = 60000;

if (!existsSync(FIRMWARE) || !existsSync(LOADER)) throw new Error("run `npm run build` first (npm test does)");
const image = readFileSync(FIRMWARE);

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function rig(app?: string, scale = SCALE) {
  const log: string[] = [];
  onTestFailed(() => {
    console.log(log.slice(-80).join("\n"));
  });
  const emu = await startEmulator({
    port: 0,
    devices: [DEV],
    timeScale: scale,
    log: (l: string) => log.push("[cloud] " + l),
  });
  const events: { ev: string; data: any }[] = [];
  for (const ev of ["ota_progress", "ota_inform", "ota_request", "post", "log", "disconnect", "ota_http"])
    emu.on(ev, (data: any) => events.push({ ev, data }));
  const dir = mkdtempSync(join(tmpdir(), "ota-e2e-"));
  installOta(dir, image);
  if (app) writeFileSync(join(dir, "app.js"), app);
  const out: string[] = [],
    // called with every line the device prints, as it prints it
    onLine: ((line: string) => void)[] = [];
  const dev = createDevice({
    loader: LOADER,
    storageDir: dir,
    timeScale: scale,
    wifi: AP,
    out: (l: string) => {
      out.push(l);
      log.push("[device] " + l);
      for (const f of onLine) f(l);
    },
    log: (l: string) => log.push("[sim] " + l),
  });
  cleanup.push(async () => {
    dev.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });
  dev.eval("iot.setup(" + JSON.stringify({ ...AP, ...DEV, host: "127.0.0.1", port: emu.port }) + ")", { throws: true });
  const online = () => {
    try {
      return dev.eval("iot.status().state") === "online";
    } catch {
      return false;
    }
  };
  const of = (ev: string) => events.filter((e) => e.ev === ev).map((e) => e.data);
  const steps = () => of("ota_progress").map((p) => +p.step);
  const informs = () => of("ota_inform").map((p) => p.module + "@" + p.version);
  const push = (job: any) => emu.ota(DEV.productKey, DEV.deviceName, { version: "2.0.0", file: image, ...job });
  // the device informs after every CONNACK: once it has, it is subscribed too
  await until("online and informed", () => online() && informs().length > 0);
  return { emu, dev, dir, out, onLine, events, online, of, steps, informs, push, log };
}

describe("OTA end to end (simulator booting through the loader, emulator OTA service)", () => {
  it(
    "firmware update: rising progress, restart into the other slot, informs the new version",
    async () => {
      const r = await rig();
      expect(r.informs()).toEqual(["default@0.1.0"]);
      r.push({ version: "2.0.0" });
      await until("informs 2.0.0", () => r.informs().includes("default@2.0.0"), 30000);
      const steps = r.steps();
      expect(steps.length).toBeGreaterThan(2);
      expect(steps.every((s, i) => s > 0 && s <= 100 && (i == 0 || s > steps[i - 1]))).toBe(true);
      expect(steps.at(-1)).toBe(100);
      expect(r.dev.boots).toBe(2);
      const state = readOtaState(r.dir);
      expect(state.m[0]).toMatchObject({ f: "fw.b", v: "2.0.0", g: "fw.a", t: 0, r: "" });
      expect(readFileSync(join(r.dir, "fw.b")).equals(image)).toBe(true);
      // blocks were asked for in order, each offset once, each within the packet limit
      const offsets = r.of("ota_request").map((q) => q.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      expect(new Set(offsets).size).toBe(offsets.length);
      expect(Math.max(...r.of("ota_request").map((q) => q.size))).toBeLessThanOrEqual(4096 - 1024);
    },
    T,
  );

  it(
    "app update with an MD5 sign: the new app runs, the old one is kept for rollback",
    async () => {
      const r = await rig('iot.on("online",function(){iot.post({App:1})});');
      await until("old app posted", () => r.of("post").some((p) => p.params.App === 1));
      const app = Buffer.from('iot.on("online",function(){iot.post({App:2})});');
      r.push({ module: "app", version: "app-2", file: app, signMethod: "Md5" });
      await until("app informs app-2", () => r.informs().includes("app@app-2"), 30000);
      await until("new app posted", () => r.of("post").some((p) => p.params.App === 2));
      expect(readOtaState(r.dir).m[1]).toMatchObject({ f: "app.a", v: "app-2", g: "app.js", t: 0 });
      expect(readFileSync(join(r.dir, "app.js"), "latin1")).toContain("App:1");
    },
    T,
  );

  it(
    "a wrong sign is reported as -3 and nothing is switched",
    async () => {
      const r = await rig();
      r.push({ faults: { badSign: true } });
      await until("-3", () => r.steps().includes(-3), 30000);
      expect(r.of("ota_progress").find((p) => p.step === "-3").desc).toMatch(/sha256/);
      expect(r.dev.boots).toBe(1);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.a", t: 0 });
      expect(existsSync(join(r.dir, "fw.b"))).toBe(false);
      // the outcome also reaches the platform's device log, as an ERROR of module "ota"
      await until(
        "log post",
        () =>
          r
            .of("log")
            .some((l) =>
              l.entries.some((x: any) => x.module === "ota" && x.logLevel === "ERROR" && /-3/.test(x.logContent)),
            ),
        30000,
      );
    },
    T,
  );

  it(
    "an image larger than Storage: -4 naming the room, nothing switched",
    async () => {
      const r = await rig();
      r.push({ file: Buffer.alloc(2 * 1024 * 1024, 0x20) });
      await until("-4", () => r.steps().includes(-4), 30000);
      expect(r.of("ota_progress").find((p) => p.step === "-4").desc).toMatch(
        /^Storage: Error: no room for 2097152 bytes and 4096 to spare, \d+ free$/,
      );
      expect(r.dev.boots).toBe(1);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.a", t: 0 });
      expect(existsSync(join(r.dir, "fw.b"))).toBe(false);
    },
    T,
  );

  it(
    "a lost block and a block with a bad CRC are asked for again, and the update completes",
    async () => {
      const r = await rig();
      r.push({ faults: { drop: [3072], corrupt: [6144] } });
      await until("informs 2.0.0", () => r.informs().includes("default@2.0.0"), 40000);
      const offsets = r.of("ota_request").map((q) => q.offset);
      expect(offsets.filter((o) => o === 3072).length).toBe(2);
      expect(offsets.filter((o) => o === 6144).length).toBe(2);
    },
    T,
  );

  it(
    "URL download over HTTP: rising progress with the link up, restart into the other slot, informs the new version",
    async () => {
      const r = await rig();
      const msg = r.push({ version: "2.1.0", url: true });
      await until("informs 2.1.0", () => r.informs().includes("default@2.1.0"), 30000);
      expect(msg.data.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ota\//);
      expect(msg.data.dProtocol).toBeUndefined();
      const steps = r.steps();
      expect(steps.length).toBeGreaterThan(2);
      expect(steps.every((s, i) => s > 0 && s <= 100 && (i == 0 || s >= steps[i - 1] + 5 || s == 100))).toBe(true);
      expect(steps.at(-1)).toBe(100);
      expect(r.of("ota_request")).toEqual([]);
      expect(r.of("ota_http")).toHaveLength(1);
      // over http the MQTT link stays up during the download
      expect(r.of("disconnect").filter((d) => d.reason === "device sent DISCONNECT")).toEqual([]);
      expect(r.dev.boots).toBe(2);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.b", v: "2.1.0", g: "fw.a", t: 0, r: "" });
      expect(readFileSync(join(r.dir, "fw.b")).equals(image)).toBe(true);
      // no simulated 2v29 crash on the way (an https get or a TLS write inside a data callback)
      expect(r.out.join("\n")).not.toMatch(/CRASH/);
    },
    T,
  );

  it(
    "URL download over HTTPS: the link is stopped for it and the update completes",
    async () => {
      const r = await rig();
      r.push({ version: "2.2.0", url: "https" });
      await until("informs 2.2.0", () => r.informs().includes("default@2.2.0"), 30000);
      // the device closed its MQTT session before the file was asked for (one TLS session at a time)
      const order = r.events.map((e) => (e.ev === "disconnect" ? e.data.reason : e.ev));
      expect(order.indexOf("device sent DISCONNECT")).toBeGreaterThanOrEqual(0);
      expect(order.indexOf("device sent DISCONNECT")).toBeLessThan(order.indexOf("ota_http"));
      expect(readFileSync(join(r.dir, "fw.b")).equals(image)).toBe(true);
      expect(r.out.join("\n")).not.toMatch(/CRASH/);
    },
    T,
  );

  it(
    "URL download answered 404: -2 naming the status, nothing switched",
    async () => {
      const r = await rig();
      r.push({ url: true, faults: { httpStatus: 404 } });
      await until("-2", () => r.steps().includes(-2));
      expect(r.of("ota_progress").find((p) => p.step === "-2").desc).toBe("HTTP 404");
      expect(r.dev.boots).toBe(1);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.a", t: 0 });
    },
    T,
  );

  it(
    "URL download cut short: -2, nothing switched; over HTTPS the link comes back to report it",
    async () => {
      const r = await rig();
      r.push({ url: true, faults: { cut: 5000 } });
      await until("-2", () => r.steps().includes(-2));
      expect(r.of("ota_progress").find((p) => p.step === "-2").desc).toBe("HTTP body ended at 5000 of " + image.length);
      r.push({ url: "https", faults: { cut: 3000 } });
      await until("second -2", () => r.steps().filter((s) => s === -2).length === 2, 30000);
      expect(r.of("ota_progress").filter((p) => p.step === "-2")[1].desc).toBe(
        "HTTP body ended at 3000 of " + image.length,
      );
      await until("online again", () => r.online());
      expect(r.dev.boots).toBe(1);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.a", t: 0 });
    },
    T,
  );

  it(
    "an image that throws at load is rolled back: -1 with the reason, the old version informed",
    async () => {
      const r = await rig();
      r.push({ version: "bad-1", file: Buffer.from('throw new Error("broken image")') });
      await until("-1", () => r.steps().includes(-1), 30000);
      const report = r.of("ota_progress").find((p) => p.step === "-1");
      expect(report.desc).toMatch(/bad-1: threw at load: .*broken image/);
      expect(report.module).toBe("default");
      expect(r.informs().at(-1)).toBe("default@0.1.0");
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.a", t: 0, g: "", r: "" });
    },
    T,
  );

  it(
    "an app that throws at load is rolled back to the previous app",
    async () => {
      const r = await rig('iot.on("online",function(){iot.post({App:1})});');
      r.push({ module: "app", version: "app-bad", file: Buffer.from('throw new Error("bad app")') });
      await until("-1", () => r.steps().includes(-1), 30000);
      expect(r.of("ota_progress").find((p) => p.step === "-1")).toMatchObject({ module: "app" });
      expect(readOtaState(r.dir).m[1]).toMatchObject({ f: "app.js", t: 0 });
      await until("old app runs again", () => r.of("post").filter((p) => p.params.App === 1).length >= 2);
    },
    T,
  );

  it(
    "a second push in the second before the restart is refused as busy: the running file stays the rollback target",
    async () => {
      const r = await rig();
      // pushed the moment the first update says it is done (its restart 1 s later): the
      // state already names fw.b, so this push's slot would be fw.a, the running file
      let pushed = 0;
      r.onLine.push((line) => {
        if (/^ota: 2\.0\.0 ok, restart/.test(line) && !pushed++) r.push({ version: "2.0.1" });
      });
      r.push({ version: "2.0.0" });
      await until("informs 2.0.0", () => r.informs().includes("default@2.0.0"), 30000);
      expect(r.out).toContain("ota: busy");
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.b", v: "2.0.0", g: "fw.a", w: "", t: 0 });
      expect(readFileSync(join(r.dir, "fw.a")).equals(image)).toBe(true);
      expect(r.informs()).not.toContain("default@2.0.1");
    },
    T,
  );

  it(
    "online again before the restart (as after an https download): the installed file is not confirmed by the old one",
    async () => {
      const r = await rig();
      // the state a finished download leaves (t = 1: installed, not booted yet), then a new
      // session of the old file: its online must not confirm the new file's trial
      const state = readOtaState(r.dir);
      writeFileSync(join(r.dir, "fw.b"), image);
      state.n++;
      state.m[0] = { f: "fw.b", v: "2.0.0", g: "fw.a", w: "", t: 1, r: "" };
      writeFileSync(join(r.dir, "ota.s" + (state.n & 1)), JSON.stringify(state));
      r.emu.kick(DEV.productKey, DEV.deviceName);
      // informed again: the version that runs, the old one
      await until("informed again", () => r.informs().length == 2);
      expect(r.informs()).toEqual(["default@0.1.0", "default@0.1.0"]);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.b", t: 1 });
      // the restart: the loader boots fw.b on trial (t = 2), and its online confirms it
      r.dev.reboot("restart");
      await until("informs 2.0.0", () => r.informs().includes("default@2.0.0"), 30000);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.b", g: "fw.a", t: 0 });
    },
    T,
  );

  it(
    "an app on trial that keeps the board offline is rolled back after otaTrialMinutes",
    async () => {
      // time 100 times faster: board.json's 10 min take 6 s
      const r = await rig('iot.on("online",function(){iot.post({App:1})});', 100);
      await until("old app posted", () => r.of("post").some((p) => p.params.App === 1));
      // an app installed and restarted into (t = 1: the loader sets 2 after the firmware has
      // loaded, i.e. after makeOta() read the state) that stops the link at once
      const state = readOtaState(r.dir);
      writeFileSync(join(r.dir, "app.a"), "iot.stop();");
      state.n++;
      state.m[1] = { f: "app.a", v: "app-2", g: "app.js", w: "", t: 1, r: "" };
      writeFileSync(join(r.dir, "ota.s" + (state.n & 1)), JSON.stringify(state));
      r.dev.reboot("restart");
      await until("rolled back and restarted", () => r.dev.boots == 3, 30000);
      expect(readOtaState(r.dir).m[1]).toMatchObject({ f: "app.js", g: "", t: 0 });
      await until("-1 reported", () => r.steps().includes(-1), 30000);
      expect(r.of("ota_progress").find((p) => p.step === "-1").desc).toMatch(/app-2: not online within 10 min/);
      await until("old app runs again", () => r.of("post").filter((p) => p.params.App === 1).length >= 2);
    },
    T,
  );

  it(
    "power cut during the download: boots the old image, comes online, a new push succeeds",
    async () => {
      const r = await rig();
      r.push({ faults: { drop: [6144] } }); // stalls at the third block
      await until("third block asked", () => r.of("ota_request").some((q) => q.offset === 6144));
      r.dev.reboot("power cut");
      await until("online again", () => r.online() && r.informs().filter((i) => i === "default@0.1.0").length === 2);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.a", t: 0 });
      r.push({ version: "2.0.1" });
      await until("informs 2.0.1", () => r.informs().includes("default@2.0.1"), 30000);
    },
    T,
  );

  it(
    "power cut during the first boot of the new image (before online): rolled back at the next boot",
    async () => {
      const r = await rig();
      // the new image resets itself before it can come online, like a crash or a cut
      const resets = Buffer.from('require("Storage").write("cut", "1"); E.reboot();');
      r.push({ version: "cuts-1", file: resets });
      await until("-1", () => r.steps().includes(-1), 30000);
      expect(r.of("ota_progress").find((p) => p.step === "-1").desc).toMatch(/cuts-1: reset before it came online/);
      expect(readOtaState(r.dir).m[0]).toMatchObject({ f: "fw.a", t: 0 });
    },
    T,
  );
});
