// `npm run emulator -- [--host 127.0.0.1] [--port 1883] [--devices .emulator/devices.json] [--time-scale N]
//    [--ota FILE --version V [--module app] [--sign-method SHA256|Md5] [--url]]`:
// the local IoT Platform emulator alone, logging its events, for your own clients, SDKs and
// real boards on the LAN (--host 0.0.0.0). A missing devices file is created with one demo
// device; its secret stays in the file. Every start prints how to connect.
// --ota: an OTA job for every device, pushed once when it subscribes, served by MQTT download
// (--url serves the file over HTTP from the emulator instead and pushes its URL).
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { fileURLToPath } from "node:url";
import { startEmulator, type Emulator } from "./index";

export const USAGE = `usage: npm run emulator -- [--host 127.0.0.1] [--port 1883] [--devices .emulator/devices.json] [--time-scale N]
  --host H        interface to listen on; 0.0.0.0 lets a real board on your LAN connect (default 127.0.0.1)
  --port N        TCP port (default 1883; 0 = any free port)
  --devices F     JSON [{productKey, deviceName, deviceSecret}], created with one demo device if missing
  --time-scale N  >1 shortens the keepalive silence limit (for fast tests)
  --ota FILE --version V [--module app] [--sign-method SHA256|Md5] [--url]
                  an OTA job for every device, pushed when it subscribes (MQTT download)`;

/** The addresses a device can use to reach an emulator listening on `host`. */
export function reachableAddresses(host: string): string[] {
  if (host !== "0.0.0.0" && host !== "::") return [host];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list || []) if (a.family === "IPv4" && !a.internal) out.push(a.address);
  }
  return out.length ? out : ["127.0.0.1"];
}

/** How to connect: host, port and the devices, secrets left in the devices file. */
export function connectHelp(emu: Emulator, devicesFile: string): string {
  const addrs = reachableAddresses(emu.host);
  const d = emu.devices[0];
  const lines = [
    "listening on " +
      emu.host +
      ":" +
      emu.port +
      " (MQTT 3.1.1 over TLS, self-signed certificate, or plain TCP, on the same port)" +
      (emu.host === "127.0.0.1" ? "; only this machine can connect (--host 0.0.0.0 for boards on the LAN)" : ""),
    "devices (" +
      devicesFile +
      ", which holds their deviceSecret): " +
      emu.devices.map((x) => x.productKey + "/" + x.deviceName).join(", "),
  ];
  if (d) {
    lines.push(
      "a board connects with, in its console:",
      '  iot.setup({productKey: "' +
        d.productKey +
        '", deviceName: "' +
        d.deviceName +
        '", deviceSecret: "<from ' +
        devicesFile +
        '>", host: "' +
        addrs[0] +
        '", port: ' +
        emu.port +
        "})",
      'other clients: clientId "<id>|securemode=2,signmethod=hmacsha256|" over TLS (securemode=3 over TCP), username "' +
        d.deviceName +
        "&" +
        d.productKey +
        '", password = hex HMAC-SHA256(deviceSecret, "clientId<id>deviceName' +
        d.deviceName +
        "productKey" +
        d.productKey +
        '")',
    );
  }
  if (addrs.length > 1) lines.push("this machine's addresses: " + addrs.join(", "));
  return lines.join("\n");
}

async function main() {
  const args = process.argv.slice(2);
  const o = { host: "127.0.0.1", port: 1883, devicesFile: ".emulator/devices.json", timeScale: 1 };
  const ota = { file: "", version: "", module: "default", signMethod: "SHA256", url: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else if (a === "--port" && /^\d+$/.test(v || "") && +v < 65536) {
      o.port = +v;
      i++;
    } else if (a === "--host" && v) {
      o.host = v;
      i++;
    } else if (a === "--devices" && v) {
      o.devicesFile = v;
      i++;
    } else if (a === "--time-scale" && +v > 0) {
      o.timeScale = +v;
      i++;
    } else if (a === "--ota" && v) {
      ota.file = v;
      i++;
    } else if (a === "--version" && v) {
      ota.version = v;
      i++;
    } else if (a === "--module" && v) {
      ota.module = v;
      i++;
    } else if (a === "--sign-method" && v) {
      ota.signMethod = v;
      i++;
    } else if (a === "--url") ota.url = true;
    else {
      console.error("emulator: bad argument " + a + (v !== undefined ? " " + v : "") + " (see --help)");
      process.exit(2);
    }
  }

  if (ota.file && !ota.version) {
    console.error("emulator: --ota needs --version");
    process.exit(2);
  }

  const ts = () => new Date().toISOString().slice(11, 23);
  let emu: Emulator;
  try {
    emu = await startEmulator({ ...o, log: (line) => console.log(ts() + " " + line) });
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
  if (emu.demo)
    console.log(
      ts() + " created demo device " + emu.demo.productKey + "/" + emu.demo.deviceName + " in " + o.devicesFile,
    );
  console.log(connectHelp(emu, o.devicesFile));
  if (ota.file) {
    const file = readFileSync(ota.file);
    const pushed = new Set<string>();
    emu.on("subscribe", (e: any) => {
      const key = e.productKey + "/" + e.deviceName;
      if (pushed.has(key)) return;
      pushed.add(key);
      emu.ota(e.productKey, e.deviceName, {
        file,
        version: ota.version,
        module: ota.module,
        signMethod: ota.signMethod,
        url: ota.url,
      });
    });
    for (const ev of ["ota_progress", "ota_inform"])
      emu.on(ev, (e: any) => console.log(ts() + " " + ev + " " + JSON.stringify(e)));
    console.log(
      ts() +
        " OTA job: " +
        ota.file +
        " (" +
        file.length +
        " B) as " +
        ota.module +
        " " +
        ota.version +
        ", pushed to each device at its subscribe",
    );
  }
  const stop = () => {
    emu.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
