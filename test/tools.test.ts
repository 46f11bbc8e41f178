// The command-line tools as a user runs them: --help on every tool, the board tools' exit codes
// when no board answers (the espruino CLI itself exits 0 then), the emulator's --host and
// port-in-use handling and its log of refused logins. With ESPRUINO set, flash and upload-app
// also run against the Linux build of Espruino's Telnet console (port 2323).
import { describe, it, expect, afterEach } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect, type Server } from "node:net";
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { startEmulator, expectedPassword } from "../tools/emulator/index";
import { reachableAddresses } from "../tools/emulator/cli";
import { failure } from "../tools/flash/flash";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function tsx(
  args: string[],
  o: { cwd?: string; kill?: (out: string) => boolean } = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: o.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const add = (b: Buffer) => {
      out += b;
      if (o.kill?.(out)) p.kill("SIGTERM");
    };
    p.stdout.on("data", add);
    p.stderr.on("data", add);
    p.on("close", (code) => resolve({ code, out }));
  });
}

/** A TCP port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as any).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("--help on every tool", () => {
  it.each([
    ["flash", ["tools/flash/flash.ts", "flash", "--help"], /usage: npm run flash -- --port P/],
    ["upload-app", ["tools/flash/flash.ts", "upload-app", "--help"], /usage: npm run upload-app -- --port P/],
    ["console", ["tools/flash/flash.ts", "console", "--help"], /usage: npm run console -- --port P/],
    ["check-bundle", ["tools/build/check-bundle.ts", "--help"], /usage: tsx tools\/build\/check-bundle\.ts/],
    ["build-app", ["tools/build/build-app.ts", "--help"], /usage: npm run build:app/],
    ["start", ["tools/start/start.ts", "--help"], /usage: npm start --/],
    ["emulator", ["tools/emulator/cli.ts", "--help"], /usage: npm run emulator -- .*--host/],
    ["test-device", ["tools/real-interpreter/test-device.ts", "--help"], /usage: npm run test:device/],
  ])("%s --help prints its usage and exits 0", async (_name, args, usage) => {
    const r = await tsx(args as string[]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(usage as RegExp);
  });

  it("a bad argument exits 2 with the usage", async () => {
    const r = await tsx(["tools/flash/flash.ts", "flash", "--prot", "x"]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/unknown argument --prot/);
  });
});

describe("board tools exit non-zero when no board answers", () => {
  it.each(["flash", "console", "upload-app"])(
    "%s against a closed TCP port: exit 1, one line saying what to check",
    async (mode) => {
      const port = await closedPort();
      const dir = mkdtempSync(join(tmpdir(), "flash-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const app = join(dir, "app.js");
      writeFileSync(app, 'iot.on("online", function () { console.log("hi"); });\n');
      const r = await tsx([
        "tools/flash/flash.ts",
        mode,
        "--port",
        "tcp://127.0.0.1:" + port,
        ...(mode === "upload-app" ? [app] : []),
      ]);
      expect(r.code, r.out).toBe(1);
      const verdict = r.out.split("\n").filter((l) => l.startsWith(mode + ": FAILED"));
      expect(verdict).toEqual([
        `${mode}: FAILED: connection refused by tcp://127.0.0.1:${port}: check the board's IP and that its Telnet console is on (iot.setup({telnet: true}) over serial, then reset)`,
      ]);
    },
    30000,
  );

  it("flash on a serial port that does not exist: exit 1 naming the port", async () => {
    const r = await tsx(["tools/flash/flash.ts", "flash", "--port", "/dev/ttyNOPE9"]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/flash: FAILED: no serial port \/dev\/ttyNOPE9: check the USB cable/);
  }, 30000);

  it("upload-app refuses an app Espruino cannot run, before connecting", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flash-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const app = join(dir, "app.js");
    writeFileSync(app, "const { a } = { a: 1 };\nnew Map();\n");
    const r = await tsx(["tools/flash/flash.ts", "upload-app", "--port", "tcp://127.0.0.1:1", app]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/would fail on Espruino \(2\)/);
    expect(r.out).toMatch(/destructuring/);
    expect(r.out).not.toMatch(/Connecting to/);
  });

  it("failure() reads the CLI's output: success needs 'Upload Complete'", () => {
    expect(failure("flash", "/dev/ttyUSB0", "Connecting to '/dev/ttyUSB0'\nConnected\nUpload Complete\n")).toBeNull();
    expect(failure("console", "/dev/ttyUSB0", "Connected\n>")).toBeNull();
    expect(failure("flash", "/dev/ttyUSB0", "Connected\n")).toMatch(/did not complete/);
    expect(failure("flash", "/dev/ttyUSB0", 'serial: Port "/dev/ttyUSB0" not found\nUnable to connect!\n')).toMatch(
      /^no serial port/,
    );
    expect(failure("console", "tcp://10.0.0.9:23", 'RECEIVE ERROR: {"code":"EHOSTUNREACH"}')).toMatch(/^cannot reach/);
  });
});

const ESPRUINO = process.env.ESPRUINO;
describe.skipIf(!ESPRUINO)("board tools against the real interpreter's Telnet console", () => {
  it("flash and upload-app exit 0, say what they wrote, and the files are in its Storage", async () => {
    const telnetUp = () =>
      new Promise<boolean>((r) => {
        const s = connect(2323, "127.0.0.1", () => {
          s.destroy();
          r(true);
        });
        s.on("error", () => r(false));
      });
    // a leftover interpreter on 2323 would take the upload instead of ours
    expect(await telnetUp(), "port 2323 is already in use").toBe(false);
    const dir = mkdtempSync(join(tmpdir(), "flash-telnet-"));
    const esp: ChildProcess = spawn(ESPRUINO!, ["--telnet"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
    cleanup.push(() => {
      esp.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    });
    // wait for the Telnet server (port 2323)
    for (let i = 0; i < 50; i++) {
      if (await telnetUp()) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const app = join(dir, "my-app.js");
    writeFileSync(app, 'console.log("marker-app-7361");\n');
    const up = await tsx(["tools/flash/flash.ts", "upload-app", "--port", "tcp://127.0.0.1:2323", "--no-load", app]);
    expect(up.code, up.out).toBe(0);
    expect(up.out).toMatch(
      /upload-app: wrote .*my-app\.js \(\d+ bytes\) as Storage file app\.js to tcp:\/\/127\.0\.0\.1:2323 in \d+\.\d s/,
    );
    const fl = await tsx(["tools/flash/flash.ts", "flash", "--port", "tcp://127.0.0.1:2323"]);
    expect(fl.code, fl.out).toBe(0);
    expect(fl.out).toMatch(
      /flash: wrote dist\/firmware\.js \(\d+ bytes\) as Storage file fw\.a, booted by the OTA loader \(\.bootcde\)/,
    );
    // the Linux build keeps its Storage in ./espruino.flash
    const flash = readFileSync(join(dir, "espruino.flash"), "latin1");
    expect(flash).toContain('console.log("marker-app-7361")');
    expect(flash).toContain(".bootcde");
    expect(flash).toContain("fw.a");
  }, 60000);
});

describe("emulator listening and logging", () => {
  it("says 'port in use' instead of a stack trace (exit 1)", async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise((r) => busy.close(r)));
    const port = (busy.address() as any).port;
    const dir = mkdtempSync(join(tmpdir(), "emu-cli-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = await tsx(["tools/emulator/cli.ts", "--port", String(port), "--devices", join(dir, "d.json")]);
    expect(r.code).toBe(1);
    expect(r.out.trim()).toBe(
      `emulator: port ${port} on 127.0.0.1 is in use (another emulator or MQTT broker?); choose another with --port`,
    );
    await expect(startEmulator({ port, devices: [] })).rejects.toThrow(/is in use/);
  });

  it("prints how to connect at every start, the secret left in the devices file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "emu-cli-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "d.json");
    for (let run = 0; run < 2; run++) {
      const r = await tsx(["tools/emulator/cli.ts", "--port", "0", "--devices", file], {
        kill: (o) => /other clients:/.test(o),
      });
      const dev = JSON.parse(readFileSync(file, "utf8"))[0];
      expect(r.out).toMatch(/listening on 127\.0\.0\.1:\d+ /);
      expect(r.out).toContain(
        `iot.setup({productKey: "${dev.productKey}", deviceName: "demo-device", deviceSecret: "<from ${file}>", host: "127.0.0.1", port: `,
      );
      expect(r.out).not.toContain(dev.deviceSecret);
      expect(r.out.includes("created demo device")).toBe(run === 0);
    }
  }, 30000);

  it("--host 0.0.0.0 accepts devices on another interface; the default 127.0.0.1 does not", async () => {
    const lan = reachableAddresses("0.0.0.0").find((a) => a !== "127.0.0.1");
    if (!lan) return; // a machine without a LAN address cannot tell the two apart
    const DEV = { productKey: "a1HostTest1", deviceName: "host-device", deviceSecret: "hostSecret0123456789" };
    const login = (port: number) =>
      new Promise<string>((resolve) => {
        const id = "h1";
        const c = mqtt.connect({
          host: lan,
          port,
          clientId: id + "|securemode=3,signmethod=hmacsha256|",
          username: DEV.deviceName + "&" + DEV.productKey,
          password: expectedPassword("hmacsha256", DEV.deviceSecret, { id, ...DEV }),
          reconnectPeriod: 0,
          connectTimeout: 3000,
        });
        c.on("connect", () => {
          c.end(true);
          resolve("connected");
        });
        c.on("error", (e: any) => {
          c.end(true);
          resolve(e.code || e.message);
        });
      });
    const open = await startEmulator({ port: 0, host: "0.0.0.0", devices: [DEV] });
    cleanup.push(() => open.close());
    expect(open.host).toBe("0.0.0.0");
    expect(await login(open.port)).toBe("connected");
    const local = await startEmulator({ port: 0, devices: [DEV] });
    cleanup.push(() => local.close());
    expect(await login(local.port)).toBe("ECONNREFUSED");
  });

  it("logs which login check failed, without the secret", async () => {
    const DEV = { productKey: "a1LogTest01", deviceName: "log-device", deviceSecret: "logSecret0123456789xyz" };
    const logs: string[] = [];
    const emu = await startEmulator({ port: 0, devices: [DEV], log: (l) => logs.push(l) });
    cleanup.push(() => emu.close());
    const tryLogin = (o: { clientId: string; username: string; password: string; keepalive?: number }) =>
      new Promise<void>((resolve) => {
        const c = mqtt.connect({
          host: "127.0.0.1",
          port: emu.port,
          reconnectPeriod: 0,
          keepalive: o.keepalive ?? 60,
          ...o,
        });
        c.on("connect", () => {
          c.end(true);
          resolve();
        });
        c.on("error", () => {
          c.end(true);
          resolve();
        });
      });
    const cid = "x|securemode=3,signmethod=hmacsha256|";
    await tryLogin({ clientId: cid, username: DEV.deviceName + "&" + DEV.productKey, password: "00" });
    await tryLogin({ clientId: cid, username: "nobody&a1LogTest01", password: "00" });
    await tryLogin({ clientId: "no-params", username: DEV.deviceName + "&" + DEV.productKey, password: "00" });
    await tryLogin({ clientId: cid, username: DEV.deviceName + "&" + DEV.productKey, password: "00", keepalive: 10 });
    const refused = logs.filter((l) => l.startsWith("refused"));
    expect(refused).toEqual([
      expect.stringMatching(
        /^refused a1LogTest01\/log-device: CONNACK 4, password is not hmacsha256\(deviceSecret, "clientIdxdeviceNamelog-deviceproductKeya1LogTest01"\)/,
      ),
      "refused a1LogTest01/nobody: CONNACK 4, no device a1LogTest01/nobody is registered",
      expect.stringMatching(/^refused a1LogTest01\/log-device: CONNACK 2, clientId "no-params" is not id\|securemode/),
      "refused a1LogTest01/log-device: CONNACK 2, keepalive 10 s is outside 30..1200",
    ]);
    expect(logs.join("\n")).not.toContain(DEV.deviceSecret);
  });
});

describe("apps in TypeScript (npm run build:app)", () => {
  it.each(["examples/sensor/app.ts", "examples/relay/app.ts"])(
    "%s builds into one checked script",
    async (input) => {
      const dir = mkdtempSync(join(tmpdir(), "build-app-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const out = join(dir, "app.js");
      const r = await tsx(["tools/build/build-app.ts", input, "-o", out]);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/Espruino subset check passed/);
      const code = readFileSync(out, "latin1");
      expect(code).toMatch(/^!function\(\)\{/); // one IIFE, minified
      expect(code).toContain("iot.on(");
    },
    30000,
  );

  it("a type error fails the build (exit 1) and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "build-app-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "bad.ts"), 'iot.post("Temp");\niot.on("sett", function () {});\n');
    const r = await tsx(["tools/build/build-app.ts", join(dir, "bad.ts"), "-o", join(dir, "app.js")]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/TS2345|TS2769/);
    expect(existsSync(join(dir, "app.js"))).toBe(false);
  }, 30000);
});
