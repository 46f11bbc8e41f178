// `npm start`: runs dist/firmware.js in the host simulator against the local IoT Platform
// emulator (or, with --config, against the real cloud), shows the device's console and a live
// view of both sides, and takes console lines (iot.status(), iot.post({...}), ...) at its prompt.
//
// usage: see args.ts (`npm start -- --help`). Env IOT_SIM_DIR / IOT_EMULATOR_DIR override the
// two folders (tests use temp folders).
//
// One simulated board per target: .sim/emulator and .sim/real, so switching between the local
// emulator and --config never carries one target's credentials to the other. The app is copied
// into the board's Storage at every start: the user's (--app, or ./app.js), else the demo app,
// which never runs against the real cloud (it posts made-up values).
//
// This file is the wiring; the command line is in args.ts, the demo app.js in demo-app.ts, the
// prompt in terminal.ts and the prompt's cloud commands (.set, .kick, ...) in commands.ts.
import fs from "node:fs";
import path from "node:path";
import { createDevice } from "../simulator/index";
import { startEmulator } from "../emulator/index";
import { parseArgs, usage } from "./args";
import { DEMO_APP, POST_SECONDS } from "./demo-app";
import { createTerminal } from "./terminal";
import { isCommand, runCommand } from "./commands";
import { showDeviceLogs } from "./device-logs";
import { installOta } from "../simulator/ota";

const AP = { ssid: "SimAP", password: "sim-password" };

/** JS source of a setup call with the secrets masked, for display only. */
function shown(c: Record<string, any>) {
  return (
    "iot.setup({" +
    Object.keys(c)
      .map(
        (k) =>
          k +
          ":" +
          (["deviceSecret", "productSecret", "deviceToken", "password"].includes(k) ? '"****"' : JSON.stringify(c[k])),
      )
      .join(", ") +
    "})"
  );
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(o.firmware)) usage(o.firmware + " not found: run `npm run build` (npm start does it for you)");
  const tty = !!process.stdout.isTTY && !o.once;
  const terminal = createTerminal(tty);
  const print = terminal.print;

  let real: any = null;
  if (o.config) {
    try {
      real = JSON.parse(fs.readFileSync(o.config, "utf8"));
    } catch (e) {
      usage("cannot read " + o.config + ": " + (e as Error).message);
    }
    for (const k of ["productKey", "deviceName"])
      if (typeof real[k] !== "string") usage(o.config + ": " + k + " is missing");
    if (!["deviceSecret", "productSecret", "deviceToken"].some((k) => typeof real[k] === "string"))
      usage(o.config + ": deviceSecret (or productSecret, or clientId + deviceToken) is missing");
  }
  const ap = real?.ssid ? { ssid: String(real.ssid), password: String(real.password || "") } : AP;

  let emu: any = null;
  if (!real) {
    emu = await startEmulator({
      port: o.port,
      devicesFile: path.join(o.emuDir, "devices.json"),
      timeScale: o.timeScale,
      log: (l: string) => print("[cloud] " + l),
    });
    emu.on("pingreq", (e: any) => print("[cloud] pingreq " + e.productKey + "/" + e.deviceName));
    for (const ev of ["ota_progress", "ota_inform"])
      emu.on(ev, (e: any) =>
        print("[cloud] " + ev + " " + JSON.stringify({ ...e, productKey: undefined, deviceName: undefined })),
      );
  }
  const demo = emu && (emu.demo || emu.devices[0]);

  const boardDir = path.join(o.simDir, real ? "real" : "emulator");
  const storageDir = path.join(boardDir, "storage");
  fs.mkdirSync(storageDir, { recursive: true });
  const appFile = o.app || (fs.existsSync("app.js") ? "app.js" : "");
  let appNote: string;
  if (appFile) {
    let code = "";
    try {
      code = fs.readFileSync(appFile, "latin1");
    } catch (e) {
      usage("cannot read " + appFile + ": " + (e as Error).message);
    }
    fs.writeFileSync(path.join(storageDir, "app.js"), code, "latin1");
    appNote = "app.js from " + appFile;
  } else if (!real) {
    fs.writeFileSync(path.join(storageDir, "app.js"), DEMO_APP);
    appNote = "demo app.js (posts Temp every " + POST_SECONDS + " s; put yours in ./app.js or give --app)";
  } else {
    fs.rmSync(path.join(storageDir, "app.js"), { force: true });
    appNote = "no app.js (the demo app never posts to a real device; give yours with --app or ./app.js)";
  }
  // Before per-target boards, one board lived in .sim/storage: say where things went.
  const legacy = path.join(o.simDir, "storage");
  const legacyNote = fs.existsSync(path.join(legacy, "app.js"))
    ? "  note: " +
      legacy +
      " is no longer used (boards are " +
      path.join(o.simDir, "emulator") +
      " and " +
      path.join(o.simDir, "real") +
      "); if its app.js is yours, move it to ./app.js"
    : "";

  print(
    [
      "",
      "  Alibaba Cloud IoT firmware on a simulated ESP32 (" + o.firmware + ")",
      real
        ? "  target: the REAL cloud, device " + real.productKey + "/" + real.deviceName + " from " + o.config
        : "  target: local IoT Platform emulator on 127.0.0.1:" +
          emu.port +
          " (TLS, as the device uses by default), device " +
          demo.productKey +
          "/" +
          demo.deviceName +
          " (" +
          path.join(o.emuDir, "devices.json") +
          ")",
      "  Storage: " + storageDir + ", " + appNote,
      ...(legacyNote ? [legacyNote] : []),
      '  Wi-Fi: simulated access point "' + ap.ssid + '"' + (o.timeScale !== 1 ? ", time x" + o.timeScale : ""),
      "  [device] = device console, [cloud] = platform side, [sim] = simulated hardware",
      o.once
        ? "  --once: exits after the device is online and one post of its own is answered"
        : "  Type console lines at the prompt: iot.status(), iot.show(), iot.post({Temp: 22}), iot.help().\n" +
          "  Act as the cloud: .set Key=value, .service Id {json}, .ota, .kick, .stop/.start (the broker); type help for every command.",
      o.once ? "" : "  Quit with Ctrl-C (or .exit).",
      "",
    ].join("\n"),
  );

  // Boots as a flashed board: the loader runs the image from Storage (fw.a: this build,
  // installed afresh at every start, as npm run flash does; app.js and the config stay).
  installOta(storageDir, fs.readFileSync(o.firmware), true);
  const device = createDevice({
    loader: path.join(path.dirname(o.firmware), "loader.js"),
    storageDir,
    timeScale: o.timeScale,
    wifi: ap,
    out: (l) => print("[device] " + l),
    log: (l) => print("[sim] " + l),
  });

  let done = false;
  async function finish(code: number, msg: string) {
    if (done) return;
    done = true;
    if (msg) (code ? console.error : console.log)("start: " + msg);
    device.close();
    if (emu) await emu.close();
    terminal.close();
    process.exit(code);
  }

  // Hooks the --once watcher into every boot (a watchdog reset replaces the interpreter). Once
  // online it posts an empty property set itself (whatever app.js does) and waits for its reply.
  let sent: string | null = null;
  const hook = () => {
    if (!o.once) return;
    const ctx = device.context;
    ctx.__startOnline = (id: any) => {
      if (sent === null) {
        sent = String(id);
        print("[start] online; posted {} as message " + id);
      }
    };
    ctx.__startReply = (id: any, code: any) => {
      if (sent !== null && String(id) === sent)
        finish(code === 200 ? 0 : 1, "device online and post " + id + " answered with code " + code);
    };
    device.eval(
      'iot.on("online", function () { __startOnline(iot.post({})) }); iot.on("reply", function (i, c) { __startReply(i, c) })',
    );
  };
  device.events.on("boot", hook);
  hook();

  // Configure the device through its own console, as a user would type it.
  const type = (c: Record<string, any>) => {
    print("> " + shown(c));
    device.eval("iot.setup(" + JSON.stringify(c) + ")", { throws: true });
  };
  const marker = path.join(boardDir, "start.json");
  try {
    if (real) {
      // the target's config replaces the stored one whole: no field of an earlier config survives
      print("> iot.clear()");
      device.eval("iot.clear()", { throws: true });
      type({ ...real, ssid: ap.ssid, password: ap.password });
    } else {
      let known: any = null;
      try {
        known = JSON.parse(fs.readFileSync(marker, "utf8"));
      } catch {}
      const configured = device.eval("iot.status().state") !== "unconfigured";
      const same = known && known.productKey === demo.productKey && known.deviceName === demo.deviceName;
      let ok = false;
      if (configured && same) {
        try {
          type({ host: "127.0.0.1", port: emu.port });
          ok = true;
        } catch (e) {
          print("[start] " + (e as Error).message + "; configuring from scratch");
        }
      }
      if (!ok) {
        type({
          ssid: ap.ssid,
          password: ap.password,
          productKey: demo.productKey,
          deviceName: demo.deviceName,
          deviceSecret: demo.deviceSecret,
          host: "127.0.0.1",
          port: emu.port,
        });
        fs.writeFileSync(marker, JSON.stringify({ productKey: demo.productKey, deviceName: demo.deviceName }) + "\n");
      }
    }
  } catch (e) {
    return finish(1, "iot.setup failed: " + (e as Error).message);
  }

  if (o.once) {
    setTimeout(() => {
      let st = "";
      try {
        st = JSON.stringify(device.eval("iot.status()"));
      } catch {}
      finish(
        1,
        "no post_reply within " +
          o.timeout +
          " s (status " +
          st +
          ")" +
          (real ? "; check the device config in " + o.config : ""),
      );
    }, o.timeout * 1000);
    return;
  }

  process.on("SIGTERM", () => finish(0, ""));
  if (emu) showDeviceLogs(emu, demo, print);
  const commands = {
    emu,
    device,
    productKey: real ? real.productKey : demo.productKey,
    deviceName: real ? real.deviceName : demo.deviceName,
    print,
    firmware: o.firmware,
  };
  terminal.prompt(
    (line) => device.eval(line, { throws: true }),
    () => finish(0, ""),
    { is: isCommand, run: (line) => runCommand(commands, line) },
  );
}

main().catch((e) => {
  console.error("start: " + (e?.stack ? e.stack : e));
  process.exit(1);
});
