// `npm start` prompt commands that play the platform's OTA console against the simulated
// device (emulator only): push dist/firmware.js or an app, or a broken image to see a rollback.
//   .ota [file] [version]        firmware update (default: the running build, version sim-N)
//   .ota-app file [version]      app update (the file becomes the app; the old one is kept)
//   .ota-broken                  a firmware image that throws at load: watch the rollback (-1)
import fs from "node:fs";

export const OTA_HELP = "  OTA: .ota [file] [version] (firmware), .ota-app file [version], .ota-broken (rollback demo)";

/** Handles an OTA command line; false when the line is not one (it goes to the device). */
export function otaCommand(
  line: string,
  emu: any,
  device: { productKey: string; deviceName: string },
  firmware: string,
  print: (l: string) => void,
): boolean {
  const words = line.trim().split(/\s+/);
  const command = words[0];
  if (command !== ".ota" && command !== ".ota-app" && command !== ".ota-broken") return false;
  if (!emu) {
    print("[start] OTA commands need the local emulator (not --config)");
    return true;
  }
  const version = (n: number) => words[n] || "sim-" + Date.now().toString(36);
  let file: Buffer,
    module = "default",
    v: string;
  try {
    if (command === ".ota-broken") {
      file = Buffer.from('throw new Error("broken image (demo)")');
      v = version(1);
    } else if (command === ".ota-app") {
      if (!words[1]) {
        print("[start] usage: .ota-app file [version]");
        return true;
      }
      file = fs.readFileSync(words[1]);
      module = "app";
      v = version(2);
    } else {
      file = fs.readFileSync(words[1] || firmware);
      v = version(2);
    }
  } catch (e) {
    print("[start] " + (e as Error).message);
    return true;
  }
  emu.ota(device.productKey, device.deviceName, { file, version: v, module });
  print(
    "[start] OTA job pushed: " +
      module +
      " " +
      v +
      " (" +
      file.length +
      " bytes); watch [cloud] ota_progress / ota_inform",
  );
  return true;
}
