// Prints the simulated device's log posts (thing.log.post) as the emulator receives them,
// one line per entry, and says when a post breaks the platform's format.
import type { Emulator } from "../emulator/index";

export function showDeviceLogs(
  emu: Emulator,
  device: { productKey: string; deviceName: string },
  print: (line: string) => void,
): void {
  emu.on("log", (e: any) => {
    if (e.productKey !== device.productKey || e.deviceName !== device.deviceName) return;
    for (const x of e.entries)
      print(
        "[cloud] log " +
          x.utcTime +
          " " +
          x.logLevel +
          " " +
          x.module +
          (x.code ? " [" + x.code + "]" : "") +
          ": " +
          x.logContent,
      );
    if (e.errors.length) print("[cloud] log post INVALID: " + e.errors.join("; "));
  });
}
